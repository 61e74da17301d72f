"""An admin query for one tenant never returns another's record on DynamoDB (issue #5), whatever the
cursor or ``after`` value: cursors of another tenant, hand-made cursors naming another tenant's log ids or
keys, and ``after`` values taken from another tenant's records.

The protection: the DynamoDB key condition is always ``tenant_id = <the query's tenant>`` and the
``ExclusiveStartKey`` is built from the query's tenant (never from the cursor), so a crafted position can
only move *within* the tenant's partition. The handler also refuses a cursor minted for another tenant.
"""

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
)
from logpipe_backend.adapters.aws.dynamodb import DynamoStore
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.lambdas import admin, ingest
from logpipe_backend.ports import LogQuery


def _b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture
def two_tenants(lambdas: Aws) -> dict[str, list[str]]:
    """acme and globex, 12 records each, sent interleaved so their log ids interleave too."""
    keys = create_tenants(lambdas, "acme", "globex")
    for i in range(12):
        for tenant, key in keys.items():
            body = json.dumps({"message": f"{tenant} {i}", "level": "error" if i % 2 else "info"})
            assert ingest.handler(ingest_event(key, body), FakeContext())["statusCode"] == 202
    drain(lambdas)
    ids = {
        t: [r["log_id"] for r in query({"tenant": t, "order": "asc", "limit": "100"})["items"]] for t in keys
    }
    assert all(len(v) == 12 for v in ids.values())
    lambdas.log.calls.clear()
    return ids


def _admin(params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    response = admin.handler(admin_event(params), FakeContext())
    return response["statusCode"], json.loads(response["body"])


def _crafted_positions(ids: dict[str, list[str]]) -> list[str]:
    other = ids["globex"]
    return [other[0], other[5], other[-1], "0" * 26, "7" + "Z" * 25]  # and both ends of the key space


def test_a_cursor_minted_for_another_tenant_is_refused(
    lambdas: Aws, two_tenants: dict[str, list[str]]
) -> None:
    status, page = _admin({"tenant": "globex", "limit": "3"})
    assert status == 200 and page["next_cursor"]
    status, body = _admin({"tenant": "acme", "limit": "3", "cursor": page["next_cursor"]})
    assert status == 400 and body["error"]["code"] == "invalid_cursor"
    assert not lambdas.log.of("Query") or all(
        p["ExpressionAttributeValues"][":t"] == {"S": "globex"} for p in lambdas.log.of("Query")
    )


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_hand_made_cursors_and_after_values_stay_in_the_tenant(
    lambdas: Aws, two_tenants: dict[str, list[str]], order: str
) -> None:
    ids = two_tenants
    attempts: list[dict[str, str]] = []
    for position in _crafted_positions(ids):
        # A well-formed cursor for acme that points at a globex log id (or at the ends of the key space).
        cursor = _b64({"tenant": "acme", "order": order, "last": position})
        attempts.append({"tenant": "acme", "order": order, "cursor": cursor})
        attempts.append({"tenant": "acme", "order": order, "after": position})
        attempts.append(
            {"tenant": "acme", "order": order, "after": position, "cursor": cursor, "level": "warn"}
        )
    for params in attempts:
        status, body = _admin({**params, "limit": "1000"})
        assert status == 200, (params, body)
        assert {r["tenant_id"] for r in body["items"]} <= {"acme"}, params
        assert set(r["log_id"] for r in body["items"]) <= set(ids["acme"]), params
    queries = lambdas.log.of("Query")
    assert len(queries) >= len(attempts)
    for params in queries:
        assert params["KeyConditionExpression"].startswith("tenant_id = :t")
        assert params["ExpressionAttributeValues"][":t"] == {"S": "acme"}
        if "ExclusiveStartKey" in params:
            assert params["ExclusiveStartKey"]["tenant_id"] == {"S": "acme"}


@pytest.mark.parametrize(
    "cursor",
    [
        _b64({"tenant": "globex", "order": "desc", "last": "01KAZ479SV65DH4C98VGTRN853"}),
        _b64({"tenant_id": {"S": "globex"}, "log_id": {"S": "01KAZ479SV65DH4C98VGTRN853"}}),
        _b64({"tenant": "acme", "order": "desc", "last": "globex"}),
        _b64({"tenant": ["acme"], "order": "desc", "last": "01KAZ479SV65DH4C98VGTRN853"}),
        _b64(b"globex#01KAZ479SV65DH4C98VGTRN853"),
        _b64(
            {"tenant": "acme", "order": "desc", "last": "01KAZ479SV65DH4C98VGTRN853", "tenant_id": "globex"}
        )[:-1],
        "../globex",
    ],
)
def test_malformed_or_foreign_cursors_are_refused(
    lambdas: Aws, two_tenants: dict[str, list[str]], cursor: str
) -> None:
    status, body = _admin({"tenant": "acme", "cursor": cursor})
    assert status == 400 and body["error"]["code"] == "invalid_cursor", body
    assert not lambdas.log.of("Query")


def test_the_store_ignores_any_tenant_but_the_query_s(
    lambdas: Aws, two_tenants: dict[str, list[str]]
) -> None:
    """Below the handler: a LogQuery whose start position and after are another tenant's log ids."""
    store = DynamoStore(lambdas.dynamodb, lambdas.logs_table)
    for position in _crafted_positions(two_tenants):
        for order in ("asc", "desc"):
            for query_ in (
                LogQuery(tenant_id="acme", order=order, start_after=position, limit=1000),
                LogQuery(tenant_id="acme", order=order, after=position, limit=1000),
            ):
                items = store.query(query_).items
                assert {r["tenant_id"] for r in items} <= {"acme"}
    # A tenant with no records sees nothing, even positioned at another tenant's records.
    globex_first = two_tenants["globex"][0]
    assert store.query(LogQuery(tenant_id="initech", start_after=globex_first)).items == []
    assert store.query(LogQuery(tenant_id="initech", after=new_log_ids(1, 0)[0])).items == []
