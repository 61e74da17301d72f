"""The admin handler over recorded API Gateway 2.0 events: token and IAM auth, queries, errors."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from handler_fakes import ACME_KEY, MemoryKeys, MemoryStore, load_event
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.record import Record
from logpipe_backend.handlers import admin
from logpipe_backend.ports import AdminDeps

NOW = 1_764_128_700_000


def _store(n: int = 3) -> MemoryStore:
    store = MemoryStore()
    for tenant in ("acme", "beta"):
        for i, lid in enumerate(new_log_ids(n, NOW - 1000)):
            r: Record = {
                "tenant_id": tenant,
                "log_id": lid,
                "timestamp": "2025-11-26T03:44:56.123Z",
                "received_at": "2025-11-26T03:44:56.123Z",
                "level": "info",
                "message": f"{tenant} {i}",
                "attributes": {},
                "source": "json",
                "redactions": 0,
            }
            store.records[(tenant, lid)] = r
    return store


def with_params(event: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    """The event with these query parameters, in both of the forms API Gateway 2.0 sends them."""
    event["queryStringParameters"] = params
    event["rawQueryString"] = urlencode(params)
    return event


def call(event: dict[str, Any], store: MemoryStore, mode: str = "token") -> tuple[int, dict[str, Any]]:
    deps = AdminDeps(store=store, keys=MemoryKeys(), auth_mode=mode, clock=lambda: NOW)
    response = admin.handle(event, deps)
    return response["statusCode"], json.loads(response["body"])


def test_query_with_admin_token_pages_with_cursor() -> None:
    store = _store()
    status, body = call(load_event("apigw_admin_logs.json"), store)
    assert status == 200, body
    assert [r["message"] for r in body["items"]] == ["acme 0", "acme 1"]  # order=asc, limit=2
    assert body["next_cursor"]
    event = load_event("apigw_admin_logs.json")
    event["queryStringParameters"]["cursor"] = body["next_cursor"]
    event["rawQueryString"] += f"&cursor={body['next_cursor']}"
    status, body = call(event, store)
    assert status == 200 and [r["message"] for r in body["items"]] == ["acme 2"]
    assert body["next_cursor"] is None


def test_never_another_tenants_records() -> None:
    store = _store()
    event = load_event("apigw_admin_logs.json")
    with_params(event, {"tenant": "beta", "limit": "1000"})
    status, body = call(event, store)
    assert status == 200 and {r["tenant_id"] for r in body["items"]} == {"beta"}
    assert all(q.tenant_id == "beta" for q in store.queries)


def test_tenant_key_is_403_unknown_is_401_missing_is_401() -> None:
    store = _store()
    event = load_event("apigw_admin_logs.json")
    event["headers"]["authorization"] = f"Bearer {ACME_KEY}"
    assert call(event, store)[0] == 403
    event["headers"]["authorization"] = "Bearer lpadm_wrong"
    assert call(event, store)[0] == 401
    del event["headers"]["authorization"]
    status, body = call(event, store)
    assert status == 401 and body["error"]["code"] == "unauthorized"
    assert store.queries == []


def test_methods() -> None:
    event = load_event("apigw_admin_logs.json")
    event["requestContext"]["http"]["method"] = "HEAD"
    assert call(event, _store())[0] == 200
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        event["requestContext"]["http"]["method"] = method
        status, body = call(event, _store())
        assert status == 405 and body["error"]["code"] == "method_not_allowed"


def test_bad_queries_are_400() -> None:
    for params in (
        {},
        {"tenant": "acme", "limit": "0"},
        {"tenant": "acme", "level": "loud"},
        {"tenant": "acme", "cursor": "garbage"},
        {"tenant": "acme", "since": "yesterday"},
    ):
        event = load_event("apigw_admin_logs.json")
        with_params(event, params)
        status, body = call(event, _store())
        assert status == 400 and body["error"]["code"] in ("invalid_query", "invalid_cursor"), (params, body)


def test_iam_mode_trusts_the_authorizer_block_only() -> None:
    status, body = call(load_event("apigw_admin_logs_iam.json"), _store(), mode="iam")
    assert status == 200 and len(body["items"]) == 3
    unsigned = load_event("apigw_admin_logs.json")  # a bearer admin token means nothing on AWS
    assert call(unsigned, _store(), mode="iam")[0] == 401
