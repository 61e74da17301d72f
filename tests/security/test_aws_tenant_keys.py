"""Tenant keys on AWS (issue #5): revocation within the documented cache time, one 401 for every wrong key,
and keys kept only as SHA-256 hashes — in the tenants table and anywhere else the pipeline writes.

The bound, as documented in docs/security.md ("Revocation takes effect within 60 s"): a warm ingest
Lambda caches a key it found for ``CACHE_SECONDS`` (60 s) after it first read it, so a revoked key is
refused by every ingest container at most 60 s after ``logpipe tenants revoke`` (and at once by a
container that had not cached it).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_security_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    FakeContext,
    all_items,
    aws_fixture,
    create_tenants,
    drain,
    fake_credentials_fixture,
    ingest_event,
    lambdas_fixture,
    stored_records,
)
from logpipe_backend.adapters.aws.idempotency import DynamoIdempotencyStore
from logpipe_backend.adapters.aws.sqs import SqsQueue
from logpipe_backend.adapters.aws.tenants import CACHE_SECONDS, DynamoKeyStore
from logpipe_backend.core.auth import hash_secret
from logpipe_backend.handlers import ingest
from logpipe_backend.lambdas import ingest as ingest_lambda
from logpipe_backend.ports import IngestDeps

DOCUMENTED_REVOCATION_BOUND_S = 60.0
BODY = json.dumps({"message": "hello"})


def _deps(aws: Aws, clock: list[float]) -> IngestDeps:
    """Ingest as a warm Lambda has it, with the key store's clock under the test's control."""
    return IngestDeps(
        queue=SqsQueue(aws.sqs, aws.queue_url),
        keys=DynamoKeyStore(aws.dynamodb, aws.tenants_table, clock=lambda: clock[0]),
        idempotency=DynamoIdempotencyStore(aws.dynamodb, aws.idempotency_table),
        max_queue_depth=0,
    )


def test_the_documented_bound_is_the_code_s_cache_time() -> None:
    assert CACHE_SECONDS == DOCUMENTED_REVOCATION_BOUND_S


def test_a_revoked_key_is_refused_once_the_cache_time_has_passed(aws: Aws) -> None:
    clock = [1_000.0]
    key = create_tenants(aws, "acme")["acme"]
    warm = _deps(aws, clock)
    assert ingest.handle(ingest_event(key, BODY), warm)["statusCode"] == 202  # cached from now on

    assert DynamoKeyStore(aws.dynamodb, aws.tenants_table).revoke_tenant("acme")  # the operator, elsewhere

    # A container that had not cached the key refuses it at once.
    assert ingest.handle(ingest_event(key, BODY), _deps(aws, [1_000.0]))["statusCode"] == 401
    # The warm one may accept it until the cache time is over — and not a moment longer.
    clock[0] += CACHE_SECONDS - 0.5
    assert ingest.handle(ingest_event(key, BODY), warm)["statusCode"] == 202
    clock[0] += 0.5
    assert ingest.handle(ingest_event(key, BODY), warm)["statusCode"] == 401
    # And it stays refused: a refusal is never cached as a success.
    clock[0] += 1
    assert ingest.handle(ingest_event(key, BODY), warm)["statusCode"] == 401


def test_a_revoked_then_recreated_tenant_s_old_key_stays_refused(aws: Aws) -> None:
    clock = [0.0]
    old = create_tenants(aws, "acme")["acme"]
    operator = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    assert operator.revoke_tenant("acme")
    new = operator.create_tenant("acme")
    deps = _deps(aws, clock)
    assert ingest.handle(ingest_event(old, BODY), deps)["statusCode"] == 401
    assert ingest.handle(ingest_event(new, BODY), deps)["statusCode"] == 202


def _near_misses(key: str) -> list[dict[str, str]]:
    """Header sets carrying a wrong credential: unknown, or one character away from the real key."""
    flipped_last = key[:-1] + ("A" if key[-1] != "A" else "B")
    flipped_first = key[:3] + ("A" if key[3] != "A" else "B") + key[4:]
    wrong = [
        "lp_" + "x" * 43,
        flipped_last,
        flipped_first,
        key[:-1],
        key + "A",
        key.upper(),
        key[3:],  # without the lp_ prefix
        " " + key + "x",
        hash_secret(key),  # the stored hash itself is not a key
        "key#" + hash_secret(key),
    ]
    headers = [{"authorization": f"Bearer {w}"} for w in wrong]
    headers += [{"x-api-key": flipped_last}, {"authorization": f"Basic {key}"}, {"authorization": "Bearer"}]
    headers.append({})
    return headers


def _shape(response: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    return response["statusCode"], json.loads(response["body"]), dict(response.get("headers") or {})


def test_an_unknown_key_and_a_nearly_right_one_get_the_same_401(lambdas: Aws) -> None:
    key = create_tenants(lambdas, "acme")["acme"]
    responses = []
    for headers in _near_misses(key):
        event = ingest_event("unused", BODY)
        event["headers"] = {"content-type": "application/json", **headers}
        responses.append(_shape(ingest_lambda.handler(event, FakeContext())))
    first = responses[0]
    assert first[0] == 401 and first[1]["error"]["code"] == "unauthorized"
    assert all(r == first for r in responses), [r for r in responses if r != first]
    # Nothing reached the queue, and the right key still works (the variants were really near misses).
    assert not lambdas.log.of("SendMessageBatch")
    assert ingest_lambda.handler(ingest_event(key, BODY), FakeContext())["statusCode"] == 202
    # Each lookup is an exact GetItem of one hash: no prefix or partial match is ever asked for.
    for params in lambdas.log.of("GetItem"):
        if params["TableName"] == lambdas.tenants_table:
            pk = params["Key"]["pk"]["S"]
            assert pk.startswith("key#") and len(pk) == len("key#") + 64


def _texts(value: Any) -> list[str]:
    """Every string inside a DynamoDB item or SQS body, keys included."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in [str(k), *_texts(v)]]
    if isinstance(value, list):
        return [t for v in value for t in _texts(v)]
    return [str(value)]


@pytest.mark.parametrize("tenants", [("acme", "globex", "initech")])
def test_keys_exist_only_as_hashes_in_every_table_and_message(lambdas: Aws, tenants: tuple[str, ...]) -> None:
    keys = create_tenants(lambdas, *tenants)
    for tenant, key in keys.items():
        # A record that names its tenant, with and without an Idempotency-Key: every table gets items.
        body = json.dumps({"tenant_id": tenant, "message": f"from {tenant}"})
        for headers in ({}, {"Idempotency-Key": f"k-{tenant}"}):
            response = ingest_lambda.handler(ingest_event(key, body, headers=headers), FakeContext())
            assert response["statusCode"] == 202
    esm = drain(lambdas)
    assert len(esm.bodies_seen) == 2 * len(tenants)

    tables = {
        name: all_items(lambdas, name)
        for name in (lambdas.tenants_table, lambdas.idempotency_table, lambdas.logs_table)
    }
    assert all(tables.values()), "every table holds items, so the check below is not vacuous"
    # The logs table's records are compressed in chunks: their text is read out of them.
    records = stored_records(lambdas.dynamodb, lambdas.logs_table)
    assert len(records) == 2 * len(tenants)
    everything = _texts(tables) + _texts(records) + _texts(esm.bodies_seen)
    for key in keys.values():
        secret_part = key.removeprefix("lp_")
        assert not [t for t in everything if secret_part in t], "a plaintext key was stored"
    # What is stored instead: the key's SHA-256, as the lookup item's key and the tenant item's key_hash.
    stored = {item["pk"]["S"] for item in tables[lambdas.tenants_table]}
    for tenant, key in keys.items():
        assert f"key#{hash_secret(key)}" in stored and f"tenant#{tenant}" in stored
