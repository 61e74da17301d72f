"""Issue 16 on the AWS stack (moto): each item's TTL from its tenant's retention, and ``tenants purge``.

The TTL checks read ``expires_at`` of every item in the tenant's partition and compare it with the newest
``received_at`` the item holds plus the retention: true of one record per item (today) and of one run of
records per item alike.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
from aws_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    aws_fixture,
    fake_credentials_fixture,
    lambdas_fixture,
)
from aws_lambda_sim import EventSourceMapping, FakeContext, ingest_event
from click.testing import CliRunner
from logpipe_backend.adapters.aws.chunks import decode_chunk
from logpipe_backend.adapters.aws.dynamodb import DynamoStore, StoreError
from logpipe_backend.adapters.aws.purge import AwsPurge
from logpipe_backend.adapters.aws.retention import TenantRetention
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.core.envelope import pack
from logpipe_backend.core.ids import log_id_floor
from logpipe_backend.lambdas import ingest, worker
from logpipe_cli.main import cli

DAY = 86_400


def _items(aws: Aws, tenant: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {
        "TableName": aws.logs_table,
        "KeyConditionExpression": "tenant_id = :t",
        "ExpressionAttributeValues": {":t": {"S": tenant}},
    }
    while True:
        page = aws.dynamodb.query(**params)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _newest_received_s(item: dict[str, Any]) -> int:
    """The newest received_at of the records an item (a chunk) holds."""
    found = [r["received_at"] for r in decode_chunk(item, item["tenant_id"]["S"])]
    assert found, item
    return max(int(datetime.fromisoformat(t).timestamp()) for t in found)


def _records(aws: Aws, tenant: str) -> int:
    """How many records the tenant's items hold."""
    return sum(len(decode_chunk(item, tenant)) for item in _items(aws, tenant))


def _send(aws: Aws, key: str, n: int) -> None:
    body = json.dumps([{"message": f"m{i}"} for i in range(n)])
    assert ingest.handler(ingest_event(key, body), FakeContext())["statusCode"] == 202


def _drain(aws: Aws) -> None:
    EventSourceMapping(aws.sqs, aws.queue_url, worker.handler).drain(FakeContext(60_000))


def test_items_get_their_tenants_ttl(lambdas: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws = lambdas
    monkeypatch.setenv("LOGPIPE_LOG_RETENTION_DAYS", "30")
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    acme, globex, initech = (keys.create_tenant(t) for t in ("acme", "globex", "initech"))
    assert keys.set_retention("acme", 7 * DAY) and keys.set_retention("initech", 0)
    assert not keys.set_retention("nobody", DAY)  # an unknown tenant is refused, nothing made
    for key in (acme, globex, initech):
        _send(aws, key, 30)
    _drain(aws)
    for tenant, retention in (("acme", 7 * DAY), ("globex", 30 * DAY)):
        items = _items(aws, tenant)
        assert sum(len(decode_chunk(item, tenant)) for item in items) == 30
        for item in items:
            assert int(item["expires_at"]["N"]) == _newest_received_s(item) + retention
    forever = _items(aws, "initech")
    assert _records(aws, "initech") == 30 and all("expires_at" not in item for item in forever)
    listed = {t.tenant_id: t.retention_s for t in keys.list_tenants()}
    assert listed == {"acme": 7 * DAY, "globex": None, "initech": 0}


def test_retention_lookup_is_cached_and_does_not_guess_on_errors(aws: Aws) -> None:
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    keys.create_tenant("acme")
    keys.set_retention("acme", 3 * DAY)
    now = [1000.0]
    lookup = TenantRetention(aws.dynamodb, aws.tenants_table, clock=lambda: now[0])
    assert lookup("acme") == 3 * DAY and lookup("ghost") is None
    keys.set_retention("acme", DAY)
    now[0] += 59
    assert lookup("acme") == 3 * DAY  # cached
    now[0] += 2
    assert lookup("acme") == DAY  # re-read after the cache time
    gets = [p for op, p in aws.log.calls if op == "GetItem" and p["TableName"] == aws.tenants_table]
    assert [p["Key"]["pk"]["S"] for p in gets] == ["tenant#acme", "tenant#ghost", "tenant#acme"]
    broken = TenantRetention(aws.dynamodb, "no-such-table")
    with pytest.raises(StoreError):  # no value known: the write fails (and SQS retries), no default guessed
        broken("acme")


def test_store_default_when_no_hook(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table, retention_days=2, retention_seconds_for=lambda t: None)
    record = {
        "tenant_id": "acme",
        "log_id": log_id_floor(1_767_225_600_000),  # 2026-01-01T00:00:00Z, as received_at
        "timestamp": "2026-01-01T00:00:00.000Z",
        "received_at": "2026-01-01T00:00:00.000Z",
        "level": "info",
        "message": "x",
        "attributes": {},
        "source": "text",
        "redactions": 0,
    }
    store.put_records([record])  # type: ignore[list-item]
    (item,) = _items(aws, "acme")
    assert int(item["expires_at"]["N"]) == _newest_received_s(item) + 2 * DAY


def _world(aws: Aws, records: int = 60) -> tuple[DynamoKeyStore, str, str]:
    """acme and globex with stored records, queued messages and dead letters each. Sent two records a
    request, so they are stored in many items (one chunk per message): more than one delete batch of 25."""
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    acme, globex = keys.create_tenant("acme"), keys.create_tenant("globex")
    for key in (acme, globex):
        for start in range(0, records, 2):
            _send(aws, key, min(2, records - start))
    _drain(aws)
    for tenant in ("acme", "globex"):
        record = {"tenant_id": tenant, "log_id": "01KB0000000000000000000000", "message": "q"}
        body = pack(tenant, [json.dumps(record).encode()])[0]
        for url in (aws.queue_url, aws.dlq_url, aws.dlq_url):
            aws.sqs.send_message(QueueUrl=url, MessageBody=body)
    return keys, acme, globex


def _visible(aws: Aws, url: str) -> int:
    attrs = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def _purger(aws: Aws, keys: DynamoKeyStore) -> AwsPurge:
    return AwsPurge(
        aws.dynamodb,
        aws.sqs,
        logs_table=aws.logs_table,
        keys=keys,
        queue_url=aws.queue_url,
        sleep=lambda s: None,
    )


def test_purge_interrupted_and_resumed_leaves_other_tenants_intact(lambdas: Aws) -> None:
    aws = lambdas
    keys, acme, globex = _world(aws)
    purger = _purger(aws, keys)
    plan = purger.plan("acme")
    assert (plan.records, plan.queued, plan.dead) == (60, 1, 2)
    assert _records(aws, "acme") == 60 and _visible(aws, aws.queue_url) == 2  # the plan changed nothing

    class Crash(Exception):
        pass

    def crash_after_first_batch(kind: str, count: int) -> None:
        if kind == "records":
            raise Crash

    with pytest.raises(Crash):
        purger.purge("acme", crash_after_first_batch)
    left = _records(aws, "acme")
    assert 0 < left < 60  # part of it went: a real interruption
    (marked,) = [t for t in keys.list_tenants() if t.tenant_id == "acme"]
    assert marked.purge_started_at  # visible: `tenants list` shows it purging
    assert keys.tenant_for_key(acme) is None  # the key was revoked before anything was deleted

    batches: list[int] = []
    done = _purger(aws, keys).purge("acme", lambda kind, n: batches.append(n) if kind == "records" else None)
    assert done.records == left and _items(aws, "acme") == []
    assert [t.tenant_id for t in keys.list_tenants()] == ["globex"]  # the tenant item went at the end
    # Deletes by key only, at most 25 a call.
    deletes = [p for op, p in aws.log.calls if op == "BatchWriteItem" and "DeleteRequest" in str(p)]
    assert deletes and all(len(p["RequestItems"][aws.logs_table]) <= 25 for p in deletes)
    queries = [p for op, p in aws.log.calls if op == "Query" and p.get("ProjectionExpression")]
    assert queries and all(
        p["ProjectionExpression"] == "tenant_id, log_id, #n" for p in queries
    )  # no payload
    # globex: every record, its queued message and both dead letters, visible at once (not held).
    assert _records(aws, "globex") == 60
    assert keys.tenant_for_key(globex) == "globex"
    assert _visible(aws, aws.queue_url) == 1 and _visible(aws, aws.dlq_url) == 2
    got = aws.sqs.receive_message(QueueUrl=aws.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert {json.loads(m["Body"])["tenant_id"] for m in got} == {"globex"}


def test_purge_retries_unprocessed_deletes(lambdas: Aws) -> None:
    aws = lambdas
    keys, _, _ = _world(aws, records=30)
    real = aws.dynamodb.batch_write_item
    calls = {"n": 0}

    def flaky(**params: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:  # the first call does nothing and hands every request back
            return {"UnprocessedItems": params["RequestItems"]}
        return dict(real(**params))

    aws.dynamodb.batch_write_item = flaky
    done = _purger(aws, keys).purge("acme")
    # 15 items (two records a message): one batch, handed back once, then sent again.
    assert done.records == 30 and _items(aws, "acme") == [] and calls["n"] == 2


def test_purge_cli_aws(lambdas: Aws, monkeypatch: pytest.MonkeyPatch) -> None:
    aws = lambdas
    _world(aws, records=5)
    runner = CliRunner()
    refused = runner.invoke(cli, ["tenants", "purge", "acme", "--backend", "aws"])
    assert refused.exit_code == 2 and _records(aws, "acme") == 5
    dry = runner.invoke(cli, ["tenants", "purge", "acme", "--dry-run", "--backend", "aws"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 5 record(s), 1 queued message(s), 2 dead letter(s)" in dry.stdout
    assert _records(aws, "acme") == 5
    done = runner.invoke(cli, ["tenants", "purge", "acme", "--yes", "--backend", "aws"])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == (
        "acme: purged 5 record(s), 1 queued message(s), 2 dead letter(s); keys revoked"
    )
    assert _items(aws, "acme") == [] and _records(aws, "globex") == 5
    set_ret = runner.invoke(cli, ["tenants", "set-retention", "globex", "12h", "--backend", "aws"])
    assert set_ret.exit_code == 0, set_ret.output
    listed = runner.invoke(cli, ["tenants", "list", "--output", "json", "--backend", "aws"])
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert rows == [
        {
            "tenant_id": "globex",
            "status": "active",
            "created_at": rows[0]["created_at"],
            "active_keys": 1,
            "retention": "12h",
            "retention_s": 12 * 3600,
        }
    ]


def test_purging_an_unknown_tenant_is_refused_and_changes_nothing(lambdas: Aws) -> None:
    from logpipe_backend.core.purge import UnknownTenant

    aws = lambdas
    keys, _, _ = _world(aws, records=3)
    with pytest.raises(UnknownTenant, match="no tenant 'acmee'"):
        _purger(aws, keys).purge("acmee")
    assert [t.tenant_id for t in keys.list_tenants()] == ["acme", "globex"]
    assert _records(aws, "acme") == 3 and _visible(aws, aws.queue_url) == 2
    done = CliRunner().invoke(cli, ["tenants", "purge", "acmee", "--yes", "--backend", "aws"])
    assert done.exit_code == 1 and "no tenant 'acmee'" in done.stderr
