"""What the needle search of ``bench/query.py`` costs on AWS: the same records in the chunked DynamoDB store
(on moto, through real boto3 calls and ``DynamoStore``), and the needle found by following the store's pages
as the admin function does.

Counted from the calls themselves: every ``Query`` call, and the bytes of the items each one returned. A
strongly consistent read costs one read request unit per 4 KB of the items a call reads, rounded up per call
(DynamoDB Developer Guide, "Read request units"); moto does not bill, so the units are computed here from
those sizes with the store's own size rule (``record_fit.item_size``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from typing import Any

import boto3
from logpipe_backend.adapters.aws.dynamodb import DynamoStore
from logpipe_backend.adapters.aws.record_fit import item_size
from logpipe_backend.core.filters import RecordFilter
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.query import LogQuery
from logpipe_backend.core.record import Record
from moto import mock_aws

RRU_BYTES = 4096
PER_MILLION_RRU = 0.125  # on-demand, us-east-1 (bench/cost.py PRICES, as of its PRICES_AS_OF)
MESSAGE_RECORDS = 1000  # records per put_records call: what one queue message holds here


def _records(lines: Iterator[str], tenant: str, t0_ms: int) -> Iterator[list[Record]]:
    """The lines as stored records, a message's worth at a time (ids of one request share a millisecond)."""
    batch: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        raw = json.loads(line)
        batch.append(raw)
        if len(batch) == MESSAGE_RECORDS:
            yield _stored(batch, tenant, t0_ms + i)
            batch = []
    if batch:
        yield _stored(batch, tenant, t0_ms + 10**7)


def _stored(raws: list[dict[str, Any]], tenant: str, ms: int) -> list[Record]:
    ts = "2026-12-06T00:00:00.000Z"
    out: list[Record] = []
    for log_id, raw in zip(new_log_ids(len(raws), ms), raws, strict=True):
        message = raw.pop("msg")
        level = raw.pop("level")
        out.append(
            {
                "tenant_id": tenant,
                "log_id": log_id,
                "timestamp": ts,
                "received_at": ts,
                "level": level,
                "message": message,
                "attributes": raw,
                "source": "json",
                "redactions": 0,
            }
        )
    return out


def _count_items(client: Any) -> int:
    """Every item of the table (a Scan's Count is per 1 MB page: follow the pages)."""
    count, params = 0, {"TableName": "logs", "Select": "COUNT"}
    while True:
        page = client.scan(**params)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def needle_cost(lines: Iterator[str], needle: str) -> dict[str, Any]:
    """Store the lines' records in DynamoDB (moto), then find ``needle`` as ``logpipe query --contains``
    does; the calls, bytes, read units and dollars of the search."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="logs",
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[
                {"AttributeName": "tenant_id", "KeyType": "HASH"},
                {"AttributeName": "log_id", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "tenant_id", "AttributeType": "S"},
                {"AttributeName": "log_id", "AttributeType": "S"},
            ],
        )
        store = DynamoStore(client, "logs")
        stored = 0
        for batch in _records(lines, "bench", 1_764_979_200_000):
            store.put_records(batch)
            stored += len(batch)
        calls: list[int] = []  # bytes of the items of each Query call
        real_query = client.query

        def counted(**params: Any) -> Any:
            response = real_query(**params)
            calls.append(sum(item_size(item) for item in response.get("Items", [])))
            return response

        client.query = counted
        query = LogQuery(tenant_id="bench", filter=RecordFilter(contains=(needle,)), limit=1000)
        found, requests = 0, 0
        while True:
            page = store.query(query)
            requests += 1
            found += len(page.items)
            if page.last_log_id is None:
                break
            query = LogQuery(**{**query.__dict__, "start_after": page.last_log_id})
        items = _count_items(client)
    rru = sum(math.ceil(size / RRU_BYTES) for size in calls if size)
    return {
        "records": stored,
        "items": items,
        "found": found,
        "admin_requests": requests,
        "query_calls": len(calls),
        "bytes_read": sum(calls),
        "rru": rru,
        "dollars": round(rru * PER_MILLION_RRU / 1e6, 6),
    }
