"""Key scopes on the DynamoDB tenants table (issue 15): read keys, keys with both scopes, keys written before
scopes (ingest), and revoking a tenant with several keys."""

from __future__ import annotations

import pytest
from aws_fixtures import Aws, aws_fixture, fake_credentials_fixture  # noqa: F401  (fixtures)
from logpipe_backend.adapters.aws.tenants import (
    KEY_PREFIX,
    MAX_KEYS_PER_TENANT,
    DynamoKeyStore,
    TenantNotFound,
    TooManyKeys,
)
from logpipe_backend.core.auth import KeyGrant, hash_secret, parse_scopes


def test_keys_carry_their_scopes_and_only_hashes_are_stored(aws: Aws) -> None:
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    ingest_key = keys.create_tenant("acme")
    read_key = keys.create_key("acme", parse_scopes("read"))
    both = keys.create_key("acme", parse_scopes("read,ingest"))
    assert keys.grant_for_key(ingest_key) == KeyGrant("acme", frozenset({"ingest"}))
    assert keys.grant_for_key(read_key) == KeyGrant("acme", frozenset({"read"}))
    assert keys.grant_for_key(both) == KeyGrant("acme", frozenset({"ingest", "read"}))
    dump = str(aws.dynamodb.scan(TableName=aws.tenants_table)["Items"])
    assert not any(k in dump for k in (ingest_key, read_key, both))
    assert [(t.tenant_id, t.keys) for t in keys.list_tenants()] == [("acme", 3)]


def test_a_key_item_written_before_scopes_is_an_ingest_key(aws: Aws) -> None:
    legacy = "lp_" + "L" * 43
    aws.dynamodb.put_item(
        TableName=aws.tenants_table,
        Item={"pk": {"S": KEY_PREFIX + hash_secret(legacy)}, "tenant_id": {"S": "old"}},
    )
    grant = DynamoKeyStore(aws.dynamodb, aws.tenants_table).grant_for_key(legacy)
    assert grant == KeyGrant("old", frozenset({"ingest"}))


def test_revoke_deletes_every_key_of_the_tenant(aws: Aws) -> None:
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    made = [keys.create_tenant("acme"), keys.create_key("acme", parse_scopes("read"))]
    made.append(keys.create_key("acme", parse_scopes("ingest,read")))
    other = keys.create_tenant("globex")
    assert keys.revoke_tenant("acme")
    fresh = DynamoKeyStore(aws.dynamodb, aws.tenants_table)  # no cache
    assert [fresh.grant_for_key(k) for k in made] == [None, None, None]
    assert fresh.tenant_for_key(other) == "globex"
    assert len(aws.dynamodb.scan(TableName=aws.tenants_table)["Items"]) == 2  # globex's two items


def test_create_key_needs_the_tenant_and_room(aws: Aws) -> None:
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    with pytest.raises(TenantNotFound):
        keys.create_key("nobody", parse_scopes("read"))
    keys.create_tenant("acme")
    for _ in range(MAX_KEYS_PER_TENANT - 1):
        keys.create_key("acme", parse_scopes("read"))
    with pytest.raises(TooManyKeys):
        keys.create_key("acme", parse_scopes("read"))
    assert keys.revoke_tenant("acme")  # all of them fit in one transaction (at most 100 actions)
    assert aws.dynamodb.scan(TableName=aws.tenants_table)["Count"] == 0


def test_scopes_are_checked() -> None:
    assert parse_scopes(None) == parse_scopes("") == frozenset({"ingest"})
    assert parse_scopes(" Read , ingest ") == frozenset({"ingest", "read"})
    with pytest.raises(ValueError, match="unknown scope 'admin'"):
        parse_scopes("read,admin")
