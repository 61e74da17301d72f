"""Issue 12's target: at most 0.1 DynamoDB write units per ~250-byte record, measured from the items the
worker wrote, with realistic records (the benchmarks' mix of JSON objects and text lines, bench/_common.py)
sent as the SDK sends them, through the real ingest and worker handlers on moto.

DynamoDB bills one write unit per KB of each item written, rounded up (Developer Guide, "Read/write
capacity mode"); the spy in aws_fixtures records every BatchWriteItem our code makes.
"""

from __future__ import annotations

import gzip
import math
import sys
from pathlib import Path

from aws_fixtures import Aws, aws_fixture, fake_credentials_fixture, stored_records  # noqa: F401  (fixtures)
from aws_lambda_sim import EventSourceMapping, FakeContext, ingest_event
from logpipe_backend.adapters.aws.dynamodb import DynamoStore, item_size
from logpipe_backend.adapters.aws.idempotency import DynamoIdempotencyStore
from logpipe_backend.adapters.aws.sqs import SqsQueue
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.handlers import ingest, worker
from logpipe_backend.ports import IngestDeps, WorkerDeps

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from _common import iter_lines

RECORDS = 6_000
TARGET_UNITS_PER_RECORD = 0.1


def test_a_250_byte_record_costs_at_most_a_tenth_of_a_write_unit(aws: Aws) -> None:
    from logpipe._batcher import Batcher, classify_line

    key = DynamoKeyStore(aws.dynamodb, aws.tenants_table).create_tenant("acme")
    deps = IngestDeps(
        queue=SqsQueue(aws.sqs, aws.queue_url),
        keys=DynamoKeyStore(aws.dynamodb, aws.tenants_table),
        idempotency=DynamoIdempotencyStore(aws.dynamodb, aws.idempotency_table),
        max_queue_depth=0,
    )
    lines = list(iter_lines(RECORDS))
    batcher = Batcher()
    batches = [b for line in lines for b in batcher.add(*classify_line(line, "auto", "acme"))]
    batches += batcher.flush()
    for batch in batches:
        event = ingest_event(
            key,
            gzip.compress(batch.body),
            content_type=batch.content_type,
            headers={"content-encoding": "gzip", "idempotency-key": batch.idempotency_key},
        )
        assert ingest.handle(event, deps)["statusCode"] == 202
    store = WorkerDeps(store=DynamoStore(aws.dynamodb, aws.logs_table))
    EventSourceMapping(aws.sqs, aws.queue_url, lambda e, c: worker.handle(e, store, c)).drain(
        FakeContext(60_000)
    )

    records = stored_records(aws.dynamodb, aws.logs_table)
    assert len(records) == RECORDS == len({r["log_id"] for r in records})
    mean_line = sum(len(line.encode()) for line in lines) / RECORDS
    assert 200 <= mean_line <= 300  # the ~250-byte records the target is stated for
    written = [
        request["PutRequest"]["Item"]
        for call in aws.log.of("BatchWriteItem")
        for request in call["RequestItems"][aws.logs_table]
    ]
    units = sum(math.ceil(item_size(item) / 1024) for item in written)
    assert 0 < units / RECORDS <= TARGET_UNITS_PER_RECORD, units / RECORDS
