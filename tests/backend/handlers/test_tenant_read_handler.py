"""The tenant read handler (``GET /logs`` with a read key) over a recorded API Gateway 2.0 event."""

from __future__ import annotations

import json
from typing import Any

from handler_fakes import ACME_KEY, ACME_READ_KEY, MemoryKeys, MemoryStore, load_event
from logpipe_backend.core.query import LogQuery, encode_cursor
from logpipe_backend.handlers import tenant_read
from logpipe_backend.ports import TenantReadDeps
from test_admin_handler import NOW, _store


def call(event: dict[str, Any], store: MemoryStore, keys: MemoryKeys | None = None) -> tuple[int, Any]:
    deps = TenantReadDeps(store=store, keys=keys or MemoryKeys(), clock=lambda: NOW)
    response = tenant_read.handle(event, deps)
    return response["statusCode"], json.loads(response["body"])


def _event(params: dict[str, str], key: str = ACME_READ_KEY) -> dict[str, Any]:
    event = load_event("apigw_tenant_logs.json")
    event["queryStringParameters"] = params
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in params.items())
    event["headers"]["authorization"] = f"Bearer {key}"
    return event


def test_a_read_key_reads_its_own_tenant_without_naming_it_and_pages() -> None:
    store = _store()
    status, body = call(load_event("apigw_tenant_logs.json"), store)
    assert status == 200, body
    assert [r["message"] for r in body["items"]] == ["acme 0", "acme 1"]
    status, body = call(_event({"order": "asc", "limit": "2", "cursor": body["next_cursor"]}), store)
    assert status == 200 and [r["message"] for r in body["items"]] == ["acme 2"]
    assert [q.tenant_id for q in store.queries] == ["acme", "acme"]


def test_naming_its_own_tenant_is_fine_and_another_is_tenant_mismatch() -> None:
    store = _store()
    status, body = call(_event({"tenant": "acme"}), store)
    assert status == 200 and {r["tenant_id"] for r in body["items"]} == {"acme"}
    status, body = call(_event({"tenant": "beta"}), store)
    assert status == 403 and body["error"]["code"] == "tenant_mismatch"
    assert len(store.queries) == 1  # the refused request read nothing


def test_a_cursor_of_another_tenant_is_refused() -> None:
    forged = encode_cursor(LogQuery(tenant_id="beta"), "01KAXT4D0000000000000000AA")
    status, body = call(_event({"cursor": forged}), _store())
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
    assert "another tenant" in body["error"]["message"]


def test_an_ingest_key_cannot_read_unknown_keys_are_401() -> None:
    status, body = call(_event({}, key=ACME_KEY), _store())
    assert status == 403 and body["error"]["code"] == "insufficient_scope"
    status, body = call(_event({}, key="lp_" + "z" * 43), _store())
    assert status == 401
    event = _event({})
    del event["headers"]["authorization"]
    assert call(event, _store())[0] == 401


def test_a_key_with_both_scopes_reads() -> None:
    keys = MemoryKeys()
    keys.scopes[ACME_KEY] = frozenset({"ingest", "read"})
    status, body = call(_event({}, key=ACME_KEY), _store(), keys)
    assert status == 200 and len(body["items"]) == 3


def test_wrong_method_unknown_path_and_bad_parameters() -> None:
    event = _event({})
    event["requestContext"]["http"]["method"] = "POST"
    assert call(event, _store())[0] == 405
    event = _event({})
    event["requestContext"]["http"]["path"] = event["rawPath"] = "/secrets"
    status, body = call(event, _store())
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = call(_event({"levle": "warn"}), _store())
    assert status == 400 and body["error"]["parameter"] == "levle"


def _path(event: dict[str, Any], path: str) -> dict[str, Any]:
    event["rawPath"] = path
    event["requestContext"]["http"]["path"] = path
    return event


def test_stats_and_fields_answer_for_the_keys_tenant_only() -> None:
    store = _store()
    status, body = call(_path(_event({"since": "1d", "by": "tenant_id"}), "/stats"), store)
    assert status == 200, body
    assert body["totals"] == {"acme": 3} and body["records"] == 3  # beta's 3 records are never read
    status, body = call(_path(_event({}), "/fields"), store)
    assert status == 200 and body["sampled"] == 3
    for path in ("/stats", "/fields"):
        status, body = call(_path(_event({"tenant": "beta"}), path), store)
        assert status == 403 and body["error"]["code"] == "tenant_mismatch", path
        status, body = call(_path(_event({}, key=ACME_KEY), path), store)
        assert status == 403 and body["error"]["code"] == "insufficient_scope", path
    assert {q.tenant_id for q in store.queries} == {"acme"}
