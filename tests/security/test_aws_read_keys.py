"""Tenant read keys on the AWS stack (issue 15, on moto): the tenant_read Lambda answers ``GET /logs`` for
the key's own tenant only — across tenants, with forged cursors, after a revoke — and scopes hold on both
functions (a read key cannot ingest, an ingest key cannot read)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from aws_security_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    FakeContext,
    admin_event,
    aws_fixture,
    create_tenants,
    drain,
    fake_credentials_fixture,
    ingest_event,
    lambdas_fixture,
    query,
    tenant_event,
)
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.core.auth import parse_scopes
from logpipe_backend.lambdas import admin, ingest, tenant_read

TENANTS = ("acme", "acme2", "globex")


def _read(key: str | None, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = tenant_read.handler(tenant_event(key, params), FakeContext())
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def world(lambdas: Aws) -> dict[str, Any]:
    """Three tenants with records interleaved in time, an ingest key and a read key each."""
    ingest_keys = create_tenants(lambdas, *TENANTS)
    operator = DynamoKeyStore(lambdas.dynamodb, lambdas.tenants_table)
    read_keys = {t: operator.create_key(t, parse_scopes("read")) for t in TENANTS}
    for i in range(6):
        for tenant, key in ingest_keys.items():
            body = json.dumps({"message": f"secret-of-{tenant} #{i}", "level": "warn" if i % 2 else "info"})
            assert ingest.handler(ingest_event(key, body), FakeContext())["statusCode"] == 202
    drain(lambdas)
    ids = {t: [r["log_id"] for r in query({"tenant": t, "order": "asc"})["items"]] for t in TENANTS}
    return {"ingest": ingest_keys, "read": read_keys, "ids": ids}


def _pages(key: str, params: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query_params = {"limit": "2", **params}
    for _ in range(50):
        status, body = _read(key, query_params)
        assert status == 200, body
        items += body["items"]
        if not body["next_cursor"]:
            return items
        query_params["cursor"] = body["next_cursor"]
    raise AssertionError("too many pages")


@pytest.mark.parametrize("tenant", TENANTS)
def test_a_read_key_reads_its_own_tenant_only(world: dict[str, Any], tenant: str) -> None:
    key = world["read"][tenant]
    for params in ({}, {"tenant": tenant}, {"order": "asc"}, {"level": "warn"}):
        items = _pages(key, params)
        assert items and all(r["tenant_id"] == tenant for r in items)
        assert all(r["message"].startswith(f"secret-of-{tenant} #") for r in items)
        if "level" not in params:
            assert sorted(r["log_id"] for r in items) == world["ids"][tenant]
    for other in (t for t in TENANTS if t != tenant):
        status, body = _read(key, {"tenant": other})
        assert status == 403 and body["error"]["code"] == "tenant_mismatch"


def test_forged_and_foreign_cursors_never_leave_the_keys_tenant(world: dict[str, Any]) -> None:
    acme = world["read"]["acme"]
    _, page = _read(world["read"]["globex"], {"limit": "2"})
    status, body = _read(acme, {"cursor": page["next_cursor"]})
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
    for order in ("asc", "desc"):
        for last in (world["ids"]["globex"][0], world["ids"]["acme2"][3], "0" * 26, "7" + "Z" * 25):
            payload = json.dumps({"tenant": "acme", "order": order, "last": last}).encode()
            forged = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
            status, body = _read(acme, {"cursor": forged, "order": order, "limit": "100"})
            assert status == 200, body
            assert all(r["tenant_id"] == "acme" for r in body["items"])


def test_scopes_hold_on_both_functions(lambdas: Aws, world: dict[str, Any]) -> None:
    status, body = _read(world["ingest"]["acme"], {})
    assert status == 403 and body["error"]["code"] == "insufficient_scope"
    response = ingest.handler(ingest_event(world["read"]["acme"], '{"m":"x"}'), FakeContext())
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"]["code"] == "insufficient_scope"
    both = DynamoKeyStore(lambdas.dynamodb, lambdas.tenants_table).create_key(
        "acme", parse_scopes("ingest,read")
    )
    assert ingest.handler(ingest_event(both, '{"message":"both"}'), FakeContext())["statusCode"] == 202
    drain(lambdas)
    assert any(r["message"] == "both" for r in _pages(both, {}))
    # No credential, an unknown one: 401. And a tenant key is never the admin's (IAM) credential.
    assert _read(None, {})[0] == 401 and _read("lp_" + "x" * 43, {})[0] == 401
    unsigned = admin_event({"tenant": "acme"}, iam=False)
    unsigned["headers"]["authorization"] = f"Bearer {world['read']['acme']}"
    assert admin.handler(unsigned, FakeContext())["statusCode"] == 401


def test_a_revoked_tenants_read_keys_stop_working(
    lambdas: Aws, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _read(world["read"]["globex"], {})[0] == 200
    assert DynamoKeyStore(lambdas.dynamodb, lambdas.tenants_table).revoke_tenant("globex")
    monkeypatch.setattr(tenant_read, "_deps", None)  # a new container (a warm one caches keys for 60 s)
    assert _read(world["read"]["globex"], {})[0] == 401
    assert _read(world["read"]["acme"], {})[0] == 200  # the others keep working
