"""Tenant isolation on the local stack (issue #5): nobody writes into or reads another tenant's logs.

Write side (a stack without workers, so the queue count is exact): a spoofed ``X-Tenant-Id``, a body
``tenant_id``, or an object naming ``tenant_id`` twice — in any order, in any JSON spelling — is refused
with 403 and queues nothing. Read side (a stack with workers): a tenant key on the admin path is refused,
and an admin query for one tenant never returns another's record, whatever the filters, cursors or
``after`` values, also for tenants whose ids are prefixes of each other.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from logpipe_backend.adapters.sqlite.queue import read_body
from logpipe_backend.core.envelope import unpack
from sec_local import LocalServer, assert_error, ingest, queue_rows, start_module_server

OWN = "acme"
OTHER = "globex"


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    yield from start_module_server(tmp_path_factory, "iso-write")


@pytest.fixture(scope="module")
def writer_keys(writer: LocalServer) -> dict[str, str]:
    return {t: writer.create_tenant(t) for t in (OWN, OTHER)}


# (id, content type, headers, body)
FORGERIES: list[tuple[str, str, list[tuple[str, str]], bytes]] = [
    ("X-Tenant-Id of another tenant", "application/json", [("X-Tenant-Id", OTHER)], b'{"m":"x"}'),
    ("X-Tenant-Id in another case", "application/json", [("X-Tenant-Id", "ACME")], b'{"m":"x"}'),
    ("X-Tenant-Id twice", "application/json", [("X-Tenant-Id", OWN), ("X-Tenant-Id", OTHER)], b'{"m":"x"}'),
    ("body tenant_id", "application/json", [], b'{"tenant_id":"globex","m":"x"}'),
    ("body tenant_id, second record", "application/json", [],
     b'[{"tenant_id":"acme","m":"x"},{"tenant_id":"globex","m":"y"}]'),
    ("body tenant_id, ndjson line 3", "application/x-ndjson", [],
     b'{"m":1}\n{"tenant_id":"acme"}\n{"tenant_id":"globex"}\n'),
    ("body tenant_id with matching X-Tenant-Id", "application/json", [("X-Tenant-Id", OWN)],
     b'{"tenant_id":"globex"}'),
    ("tenant_id not a string", "application/json", [], b'{"tenant_id":["acme"]}'),
    ("tenant_id null", "application/json", [], b'{"tenant_id":null}'),
    ("duplicate tenant_id, other last", "application/json", [],
     b'{"tenant_id":"acme","tenant_id":"globex","m":"x"}'),
    ("duplicate tenant_id, other first", "application/json", [],
     b'{"tenant_id":"globex","tenant_id":"acme","m":"x"}'),
    ("duplicate tenant_id, three times", "application/json", [],
     b'{"tenant_id":"acme","tenant_id":"globex","tenant_id":"acme"}'),
    ("duplicate tenant_id in an array", "application/json", [],
     b'[{"tenant_id":"acme"},{"m":1,"tenant_id":"globex","tenant_id":"acme"}]'),
    ("duplicate tenant_id, ndjson", "application/x-ndjson", [],
     b'{"m":1}\n{"tenant_id":"globex","tenant_id":"acme"}\n'),
    ("duplicate tenant_id, escaped spelling", "application/json", [],
     b'{"tenant\\u005fid":"globex","tenant_id":"acme"}'),
    ("duplicate tenant_id, fully escaped", "application/json", [],
     b'{"tenant_id":"acme","\\u0074\\u0065\\u006E\\u0061\\u006e\\u0074\\u005F\\u0069\\u0064":"globex"}'),
    ("duplicate tenant_id, gzip", "application/json", [("Content-Encoding", "gzip")],
     __import__("gzip").compress(b'{"tenant_id":"globex","tenant_id":"acme"}')),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content_type", "headers", "body"), [pytest.param(*case[1:], id=case[0]) for case in FORGERIES]
)
def test_forged_tenant_cannot_write(
    writer: LocalServer,
    writer_keys: dict[str, str],
    content_type: str,
    headers: list[tuple[str, str]],
    body: bytes,
) -> None:
    before = queue_rows(writer)
    sent = [("Authorization", f"Bearer {writer_keys[OWN]}"), ("Content-Type", content_type), *headers]
    response = httpx.post(f"{writer.url}/ingest", content=body, headers=sent, timeout=10)
    assert_error(response, 403, "tenant_mismatch")
    assert queue_rows(writer) == before, "a refused request queued something"


def _queued_messages(server: LocalServer) -> list[tuple[str, list[dict[str, Any]]]]:
    import sqlite3
    from contextlib import closing

    uri = f"file:{Path(server.data_dir) / 'queue.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        bodies = [read_body(row[0]) for row in conn.execute("SELECT body FROM messages ORDER BY seq")]
    return [(tenant, [dict(r) for r in records]) for tenant, records in map(unpack, bodies)]


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        pytest.param({"X-Tenant-Id": OWN}, b'{"m":"header matches"}', id="X-Tenant-Id matches"),
        pytest.param({}, b'{"tenant_id":"acme","m":"body matches"}', id="body tenant_id matches"),
        pytest.param({}, b'{"tenant_id":"acme","tenant_id":"acme","m":"same twice"}', id="same twice"),
        pytest.param({}, b'{"m":"nested","x":{"tenant_id":"globex"}}', id="nested tenant_id is data"),
    ],
)
def test_own_tenant_is_accepted_and_queued_under_the_credential(
    writer: LocalServer, writer_keys: dict[str, str], headers: dict[str, str], body: bytes
) -> None:
    before = queue_rows(writer)
    response = ingest(writer, writer_keys[OWN], body, headers=headers)
    assert response.status_code == 202, response.text
    assert queue_rows(writer) == before + 1
    tenant, records = _queued_messages(writer)[-1]
    assert tenant == OWN
    assert [r["tenant_id"] for r in records] == [OWN]
    assert "tenant_id" not in records[0]["attributes"]


def test_other_tenants_key_writes_only_its_own(writer: LocalServer, writer_keys: dict[str, str]) -> None:
    response = ingest(writer, writer_keys[OTHER], b'{"m":"mine"}', headers={"X-Tenant-Id": OTHER})
    assert response.status_code == 202
    tenant, records = _queued_messages(writer)[-1]
    assert (tenant, records[0]["tenant_id"]) == (OTHER, OTHER)


# -- read side ---------------------------------------------------------------------------------------------

# Ids that are prefixes of each other, or differ in one character: a key-range bug would mix them up.
READ_TENANTS = ("acme", "acme2", "acm", "acme-", "acme_", "globex")
PER_TENANT = 12


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    yield from start_module_server(tmp_path_factory, "iso-read", workers=2)


@pytest.fixture(scope="module")
def stored(reader: LocalServer) -> dict[str, list[str]]:
    """Records of every tenant, interleaved in time; tenant -> its log ids."""
    keys = {t: reader.create_tenant(t) for t in READ_TENANTS}
    ids: dict[str, list[str]] = {t: [] for t in READ_TENANTS}
    for i in range(PER_TENANT):
        for tenant in READ_TENANTS:
            level = ("info", "warn", "error")[i % 3]
            body = json.dumps({"message": f"secret-of-{tenant} #{i}", "level": level, "n": i})
            response = ingest(reader, keys[tenant], body)
            assert response.status_code == 202, response.text
            ids[tenant].extend(response.json()["log_ids"])
    reader.wait_drained()
    return ids


def _admin_get(server: LocalServer, params: dict[str, Any], token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or server.admin_token}"}
    return httpx.get(f"{server.url}/admin/logs", params=params, headers=headers, timeout=10)


def _only(items: list[dict[str, Any]], tenant: str) -> None:
    strangers = [r for r in items if r["tenant_id"] != tenant or f"secret-of-{tenant} " not in r["message"]]
    assert not strangers, f"query for {tenant} returned: {strangers[:3]}"


def test_tenant_key_on_admin_path_is_refused(reader: LocalServer, stored: dict[str, list[str]]) -> None:
    key = reader.create_tenant("snoop")
    for params in ({"tenant": "snoop"}, {"tenant": "acme"}):
        assert_error(_admin_get(reader, params, token=key), 403, "forbidden")
        response = httpx.get(
            f"{reader.url}/admin/logs", params=params, headers={"X-Api-Key": key}, timeout=10
        )
        assert_error(response, 403, "forbidden")
    head = httpx.head(
        f"{reader.url}/admin/logs", params={"tenant": "acme"}, headers={"Authorization": f"Bearer {key}"}
    )
    assert head.status_code == 403
    # No credential, an unknown one, and a nearly right admin token: 401, all alike.
    token = reader.admin_token
    nearly = token[:-1] + ("A" if token[-1] != "A" else "B")
    for response in (
        httpx.get(f"{reader.url}/admin/logs", params={"tenant": "acme"}, timeout=10),
        _admin_get(reader, {"tenant": "acme"}, token="lpadm_" + "x" * 43),
        _admin_get(reader, {"tenant": "acme"}, token=nearly),
        _admin_get(reader, {"tenant": "acme"}, token=token + "x"),
    ):
        assert_error(response, 401, "unauthorized")


@pytest.mark.parametrize("tenant", READ_TENANTS)
def test_admin_query_returns_only_that_tenant(
    reader: LocalServer, stored: dict[str, list[str]], tenant: str
) -> None:
    everything = reader.admin_query(tenant=tenant)
    _only(everything, tenant)
    assert sorted(r["log_id"] for r in everything) == sorted(stored[tenant])
    others = [t for t in READ_TENANTS if t != tenant]
    for params in (
        {"order": "asc"},
        {"order": "desc", "limit": 1},
        {"level": "warn"},
        {"contains": "secret-of-"},
        {"contains": f"secret-of-{others[0]} #"},  # another tenant's text: nothing
        {"since": "1h"},
        {"after": stored[others[-1]][0]},  # another tenant's log id as `after`
        {"after": "0" * 26},
    ):
        items = reader.admin_query(tenant=tenant, **params)
        _only(items, tenant)
        if "contains" in params and params["contains"] != "secret-of-":
            assert items == []


def test_cursors_cannot_cross_tenants(reader: LocalServer, stored: dict[str, list[str]]) -> None:
    first = _admin_get(reader, {"tenant": "globex", "limit": 2}).json()
    cursor = first["next_cursor"]
    assert cursor
    # Globex's cursor on acme's query: refused, not silently obeyed.
    response = _admin_get(reader, {"tenant": "acme", "cursor": cursor, "limit": 2})
    assert_error(response, 400, "invalid_cursor")

    # A forged cursor naming acme but pointing into globex's key range: acme's records only.
    for order in ("desc", "asc"):
        for last in (stored["globex"][0], stored["globex"][-1], stored["acme2"][5]):
            payload = json.dumps({"tenant": "acme", "order": order, "last": last}).encode()
            forged = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
            params = {"tenant": "acme", "cursor": forged, "order": order, "limit": 1000}
            response = _admin_get(reader, params)
            assert response.status_code == 200, response.text
            _only(response.json()["items"], "acme")

    # Garbage and oversized cursors: 400, never a 500 or another tenant's page.
    for junk in ("!!!", "e30", base64.urlsafe_b64encode(b'{"tenant":"globex"}').decode(), "A" * 5000):
        assert _admin_get(reader, {"tenant": "acme", "cursor": junk}).status_code == 400


@pytest.mark.parametrize(
    "tenant",
    ["acme%", "acme'--", "acme*", "acm_", "ACME", "acme,globex", "", "a", "x" * 64, "acme\x00", "ácme"],
)
def test_tenant_parameter_is_validated(
    reader: LocalServer, stored: dict[str, list[str]], tenant: str
) -> None:
    response = _admin_get(reader, {"tenant": tenant})
    if tenant == "acm_":  # a valid id (no wildcard meaning anywhere): an empty answer, not acme's
        assert response.status_code == 200 and response.json()["items"] == []
        return
    assert_error(response, 400, "invalid_query", parameter="tenant")


def test_repeated_tenant_parameter_is_refused(reader: LocalServer, stored: dict[str, list[str]]) -> None:
    response = httpx.get(
        f"{reader.url}/admin/logs?tenant=acme&tenant=globex",
        headers={"Authorization": f"Bearer {reader.admin_token}"},
        timeout=10,
    )
    assert_error(response, 400, "invalid_query", parameter="tenant")


# -- tenant read keys (issue 15): GET /logs answers for the key's own tenant only --------------------------


def _read_key(server: LocalServer, tenant: str, scopes: str = "read") -> str:
    from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore
    from logpipe_backend.core.auth import parse_scopes

    keys = SqliteKeyStore(Path(server.data_dir) / "tenants.db")
    try:
        return keys.create_key(tenant, parse_scopes(scopes))
    finally:
        keys.close()


def _logs_get(server: LocalServer, key: str, params: dict[str, Any]) -> httpx.Response:
    return httpx.get(
        f"{server.url}/logs", params=params, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )


def _all_logs(server: LocalServer, key: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 5, **params}
    for _ in range(100):
        response = _logs_get(server, key, query)
        assert response.status_code == 200, response.text
        items.extend(response.json()["items"])
        if not response.json()["next_cursor"]:
            return items
        query["cursor"] = response.json()["next_cursor"]
    raise AssertionError("too many pages")


@pytest.mark.parametrize("tenant", READ_TENANTS)
def test_a_read_key_reads_only_its_own_tenant(
    reader: LocalServer, stored: dict[str, list[str]], tenant: str
) -> None:
    key = _read_key(reader, tenant)
    for params in ({}, {"tenant": tenant}, {"order": "asc"}, {"level": "warn"}, {"after": "0" * 26}):
        items = _all_logs(reader, key, **params)
        _only(items, tenant)
        if "level" not in params:
            assert sorted(r["log_id"] for r in items) == sorted(stored[tenant])
    for other in (t for t in READ_TENANTS if t != tenant):
        assert_error(_logs_get(reader, key, {"tenant": other}), 403, "tenant_mismatch")
    assert_error(_logs_get(reader, key, {"tenant": f"{tenant},globex"}), 403, "tenant_mismatch")


def test_read_key_cursors_are_bound_to_the_keys_tenant(
    reader: LocalServer, stored: dict[str, list[str]]
) -> None:
    acme, globex = _read_key(reader, "acme"), _read_key(reader, "globex")
    globex_cursor = _logs_get(reader, globex, {"limit": 2}).json()["next_cursor"]
    assert globex_cursor
    assert_error(_logs_get(reader, acme, {"cursor": globex_cursor}), 400, "invalid_cursor")
    admin_cursor = _admin_get(reader, {"tenant": "globex", "limit": 2}).json()["next_cursor"]
    assert_error(_logs_get(reader, acme, {"cursor": admin_cursor}), 400, "invalid_cursor")
    # Forged: names acme but points into globex's key range: acme's records only.
    for order in ("desc", "asc"):
        payload = json.dumps({"tenant": "acme", "order": order, "last": stored["globex"][3]}).encode()
        forged = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
        response = _logs_get(reader, acme, {"cursor": forged, "order": order, "limit": 1000})
        assert response.status_code == 200, response.text
        _only(response.json()["items"], "acme")


def test_scopes_are_enforced_on_both_paths(reader: LocalServer, stored: dict[str, list[str]]) -> None:
    ingest_key = reader.create_tenant("scoped")
    read_key = _read_key(reader, "scoped")
    both = _read_key(reader, "scoped", "ingest,read")
    assert_error(_logs_get(reader, ingest_key, {}), 403, "insufficient_scope")
    assert_error(ingest(reader, read_key, b'{"m":"from a read key"}'), 403, "insufficient_scope")
    assert ingest(reader, both, b'{"message":"secret-of-scoped #1"}').status_code == 202
    reader.wait_drained()
    assert [r["message"] for r in _all_logs(reader, both)] == ["secret-of-scoped #1"]
    assert [r["message"] for r in _all_logs(reader, read_key)] == ["secret-of-scoped #1"]
    # A read key is still a tenant key: never an admin credential.
    assert_error(_admin_get(reader, {"tenant": "scoped"}, token=read_key), 403, "forbidden")


def test_a_revoked_tenants_read_key_is_refused(reader: LocalServer, stored: dict[str, list[str]]) -> None:
    reader.create_tenant("leaver")
    key = _read_key(reader, "leaver")
    assert _logs_get(reader, key, {}).status_code == 200
    from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore

    keys = SqliteKeyStore(Path(reader.data_dir) / "tenants.db")
    try:
        keys.revoke_tenant("leaver")
    finally:
        keys.close()
    assert_error(_logs_get(reader, key, {}), 401, "unauthorized")
    for bad in ("lp_" + "x" * 43, key[:-1] + ("A" if key[-1] != "A" else "B"), key + "x"):
        assert_error(_logs_get(reader, bad, {}), 401, "unauthorized")
