"""Tenant keys (hashed) on the tenants table; Idempotency-Key claims on their own table."""

from __future__ import annotations

import pytest
from aws_fixtures import Aws, aws_fixture, fake_credentials_fixture  # noqa: F401  (fixtures)
from botocore.stub import ANY, Stubber
from logpipe_backend.adapters.aws.idempotency import (
    IDEMPOTENCY_WINDOW_MS,
    DynamoIdempotencyStore,
    IdempotencyUnavailable,
    item_key,
)
from logpipe_backend.adapters.aws.tenants import (
    CACHE_SECONDS,
    DynamoKeyStore,
    KeyStoreUnavailable,
    TenantExists,
)
from logpipe_backend.core.auth import hash_secret

NOW = 1_795_000_000_000


def test_a_created_key_maps_to_its_tenant_and_only_its_hash_is_stored(aws: Aws) -> None:
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    key = keys.create_tenant("acme")
    other = keys.create_tenant("globex")
    assert keys.tenant_for_key(key) == "acme"
    assert keys.tenant_for_key(other) == "globex"
    assert keys.tenant_for_key("lp_" + "x" * 43) is None
    assert not keys.is_admin_token(key)
    dump = str(aws.dynamodb.scan(TableName=aws.tenants_table)["Items"])
    assert key not in dump and other not in dump
    assert hash_secret(key) in dump
    assert [t.tenant_id for t in keys.list_tenants()] == ["acme", "globex"]


def test_a_tenant_cannot_be_created_twice(aws: Aws) -> None:
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    keys.create_tenant("acme")
    with pytest.raises(TenantExists):
        keys.create_tenant("acme")
    with pytest.raises(ValueError):
        keys.create_tenant("Not Valid!")


def test_lookups_are_cached_briefly_and_revocation_clears_this_process(aws: Aws) -> None:
    now = [0.0]
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table, clock=lambda: now[0])
    key = keys.create_tenant("acme")
    assert keys.tenant_for_key(key) == "acme"
    assert keys.tenant_for_key(key) == "acme"
    assert len(aws.log.of("GetItem")) == 1
    # Another process revokes it: this one keeps the cached answer until the cache expires.
    assert DynamoKeyStore(aws.dynamodb, aws.tenants_table).revoke_tenant("acme")
    assert keys.tenant_for_key(key) == "acme"
    now[0] += CACHE_SECONDS + 1
    assert keys.tenant_for_key(key) is None
    assert not keys.revoke_tenant("acme")


def test_an_unreadable_tenants_table_is_503_not_401(aws: Aws) -> None:
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    stubber = Stubber(aws.dynamodb)
    stubber.add_client_error("get_item", "ProvisionedThroughputExceededException", http_status_code=400)
    with stubber, pytest.raises(KeyStoreUnavailable) as err:
        keys.tenant_for_key("lp_whatever")
    assert err.value.status == 503


def test_the_first_claim_stands_for_24_hours(aws: Aws) -> None:
    idem = DynamoIdempotencyStore(aws.dynamodb, aws.idempotency_table)
    first = idem.claim("acme", "key-1", "digest-a", NOW)
    assert (first.first_seen_ms, first.body_digest) == (NOW, "digest-a")
    again = idem.claim("acme", "key-1", "digest-a", NOW + 5_000)
    assert (again.first_seen_ms, again.body_digest) == (NOW, "digest-a")
    reused = idem.claim("acme", "key-1", "digest-b", NOW + 6_000)
    assert (reused.first_seen_ms, reused.body_digest) == (NOW, "digest-a")  # the handler answers 422
    # Same key, another tenant: a separate claim.
    assert idem.claim("globex", "key-1", "digest-c", NOW + 7_000).first_seen_ms == NOW + 7_000
    # After 24 h the key may be used afresh, even if TTL has not deleted the item yet.
    later = NOW + IDEMPOTENCY_WINDOW_MS + 1
    assert idem.claim("acme", "key-1", "digest-b", later).first_seen_ms == later
    item = aws.dynamodb.get_item(
        TableName=aws.idempotency_table, Key={"pk": {"S": item_key("acme", "key-1")}}
    )
    assert int(item["Item"]["expires_at"]["N"]) * 1000 >= later + IDEMPOTENCY_WINDOW_MS
    assert "key-1" not in item["Item"]["pk"]["S"]


def test_a_failed_condition_without_the_old_item_reads_it(aws: Aws) -> None:
    idem = DynamoIdempotencyStore(aws.dynamodb, aws.idempotency_table)
    stubber = Stubber(aws.dynamodb)
    stubber.add_client_error("put_item", "ConditionalCheckFailedException", http_status_code=400)
    stubber.add_response(
        "get_item",
        {"Item": {"pk": {"S": "x"}, "first_seen_ms": {"N": str(NOW)}, "body_digest": {"S": "d"}}},
        {"TableName": aws.idempotency_table, "Key": ANY, "ConsistentRead": True},
    )
    with stubber:
        claim = idem.claim("acme", "k", "d", NOW + 1)
    assert (claim.first_seen_ms, claim.body_digest) == (NOW, "d")


def test_an_unusable_idempotency_table_is_503(aws: Aws) -> None:
    idem = DynamoIdempotencyStore(aws.dynamodb, aws.idempotency_table)
    stubber = Stubber(aws.dynamodb)
    stubber.add_client_error("put_item", "ResourceNotFoundException", http_status_code=400)
    with stubber, pytest.raises(IdempotencyUnavailable) as err:
        idem.claim("acme", "k", "d", NOW)
    assert err.value.status == 503
