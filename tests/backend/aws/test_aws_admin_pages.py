"""``GET /admin/logs`` over chunks (issue 12).

- It stays within Lambda's 6 MB response limit: 1,000 records of 7 KB make a 7 MB page, so the page stops
  early with a cursor, and the cursors lead through every record exactly once. Run on both stores: the
  DynamoDB store through the admin Lambda entry point on moto, the SQLite store through the same handler.
- A stored chunk that cannot be decoded is reported as ``"skipped_chunks": N`` and hides nothing else.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    aws_fixture,
    fake_credentials_fixture,
    lambdas_fixture,
    query,
)
from aws_lambda_sim import FakeContext, admin_event
from logpipe_backend.adapters.aws.chunks import chunk_items
from logpipe_backend.adapters.aws.dynamodb import DynamoStore
from logpipe_backend.adapters.sqlite.store import SqliteStore
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.record import Record
from logpipe_backend.core.response_size import MAX_RECORDS_BYTES
from logpipe_backend.handlers import admin
from logpipe_backend.lambdas import admin as admin_lambda
from logpipe_backend.ports import AdminDeps

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024  # bytes of the serialized response payload (Lambda quotas)
RECORDS = 1_000
RECORD_BYTES = 7_000


def _records() -> list[Record]:
    rng = random.Random(12)
    words = ["disk", 'said "hi"', "path\\to", "café", "日本語", "😀", "ok"]
    out: list[Record] = []
    for i, log_id in enumerate(new_log_ids(RECORDS, 1_795_000_000_000)):
        message = " ".join(rng.choice(words) for _ in range(RECORD_BYTES // 6))[:RECORD_BYTES]
        out.append(
            {
                "tenant_id": "acme",
                "log_id": log_id,
                "timestamp": "2026-11-18T11:06:40.000Z",
                "received_at": "2026-11-18T11:06:40.000Z",
                "level": "info",
                "message": message,
                "attributes": {"i": i},
                "source": "text",
                "redactions": 0,
            }
        )
    return out


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


def _page_through(invoke: Invoke, order: str) -> list[str]:
    params = {"tenant": "acme", "limit": "1000", "order": order}
    seen: list[str] = []
    for page_number in range(100):
        response = invoke(admin_event(params))
        assert response["statusCode"] == 200, response
        # What the Lambda runtime sends back: the response serialized as JSON (ASCII escapes).
        assert len(json.dumps(response).encode()) < LAMBDA_RESPONSE_LIMIT
        assert len(response["body"].encode()) < MAX_RECORDS_BYTES + 1024
        body = json.loads(response["body"])
        seen += [r["log_id"] for r in body["items"]]
        if page_number == 0:
            assert body["next_cursor"] and len(body["items"]) < RECORDS  # stopped early, with a cursor
        if body["next_cursor"] is None:
            return seen
        params["cursor"] = body["next_cursor"]
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_dynamodb_pages_stay_under_lambdas_limit_and_cover_every_record_once(
    lambdas: Aws, order: str
) -> None:
    records = _records()
    assert len(json.dumps(records).encode()) > LAMBDA_RESPONSE_LIMIT  # one page would pass the limit
    DynamoStore(lambdas.dynamodb, lambdas.logs_table).put_records(records)
    seen = _page_through(lambda event: admin_lambda.handler(event, FakeContext()), order)
    assert seen == sorted((r["log_id"] for r in records), reverse=order == "desc")


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_sqlite_pages_stay_under_the_same_limit(tmp_path: Path, order: str) -> None:
    records = _records()
    store = SqliteStore(tmp_path / "logs.db")
    store.put_records(records)
    deps = AdminDeps(store=store, keys=None, auth_mode="iam")
    seen = _page_through(lambda event: admin.handle(event, deps), order)
    assert seen == sorted((r["log_id"] for r in records), reverse=order == "desc")
    store.close()


def test_an_undecodable_chunk_is_counted_in_the_answer_and_hides_nothing_else(lambdas: Aws) -> None:
    records = _records()[:50]
    DynamoStore(lambdas.dynamodb, lambdas.logs_table).put_records(records[:25])
    (broken,) = chunk_items(records[25:], retention_seconds=0)
    broken["z"] = {"B": broken["z"]["B"][:-20]}  # a truncated payload
    lambdas.dynamodb.put_item(TableName=lambdas.logs_table, Item=broken)
    body = query({"tenant": "acme", "limit": "1000"})
    assert body["skipped_chunks"] == 1
    assert [r["log_id"] for r in body["items"]] == sorted((r["log_id"] for r in records[:25]), reverse=True)
    assert body["next_cursor"] is None
