#!/usr/bin/env python3
"""AWS requests and dollars per million logs: this design against the original one, in one run on moto.

    .venv/bin/python bench/cost.py                      # 100,000 records (original design on 10,000)
    .venv/bin/python bench/cost.py --records 2000 --json

Everything runs in this process on moto (``mock_aws``; no account, no network). Every AWS API call is
counted by operation with botocore event hooks on the clients, and turned into *billed* units:

- SQS: each 64 KB chunk of a call's payload is one request (SendMessage(Batch): the bodies sent;
  ReceiveMessage: the bodies returned); a call with a smaller payload is one request.
- DynamoDB on-demand: one write request unit (WRU) per 1 KB of each item written (PutItem, each item of a
  BatchWriteItem), one read request unit per 4 KB read (GetItem; half for an eventually consistent read).
- Lambda: invocations and GB-seconds (memory from Terraform × the mean duration measured here).
- API Gateway HTTP API: one request per 512 KB of request body.

This design: the records go through the SDK's own batching and gzip (``logpipe._batcher``, default limits:
5,000 records or 1 MiB a request), each batch becomes the API Gateway event of one request, the real ingest
handler (``handlers.ingest.handle``) with the real adapters (``SqsQueue``, ``DynamoKeyStore``,
``DynamoIdempotencyStore``) queues it (``SqsQueue`` sends a body over one 64 KB billed chunk in the
compressed v2 envelope, ~5x smaller, so the chunks counted are what SQS would bill), and the event source
mapping is played as Lambda plays it: receive up to ``worker_batch_size`` messages (Terraform: 10), invoke
the real worker handler (``DynamoStore``: each message's records compressed into chunk items, issue 12;
``BatchWriteItem`` of 25), ``DeleteMessageBatch`` what it did not report as failed.

The store before chunks, for comparison: this design with one DynamoDB item per record (the seed's item
layout, ``ItemPerRecordStore``), everything else the same.

The original design, on the same records and counted the same way: one ``SendMessage`` per log and one
``PutItem`` per log (the same HTTP requests, key lookups and idempotency claims in front; the same event
source mapping behind). It runs on ``--original-records`` (default 10,000) because moto takes milliseconds
per call; its counts are one per log by construction, so per-million figures scale exactly.

CloudWatch Logs, for comparison only: what it charges to ingest the same bytes (the lines as sent, at
$0.50 per GB of 2^30 bytes), before storage and queries.

Lambda durations are measured here, against moto in the same process: on AWS the network round trips
replace moto's work, so the GB-s figures are estimates. ``LOGPIPE_SIMULATED_WORK_PER_CHAR`` is 0 here: the
pipeline's own cost, not the seed's simulated CPU work.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TENANT, iter_lines, machine

REGION = "us-east-1"
# Published on-demand prices, us-east-1, as of 2026-11-26 — check https://aws.amazon.com/pricing/ before
# relying on them. First tiers; free tiers ignored.
PRICES = {
    "sqs_per_million_requests": 0.40,  # standard queue; per 64 KB chunk of payload
    "lambda_per_million_invocations": 0.20,
    "lambda_per_gb_s_arm64": 0.0000133334,  # Terraform: lambda_architecture = "arm64"
    "dynamodb_per_million_wru": 0.625,  # on-demand write request units (1 KB each)
    "dynamodb_per_million_rru": 0.125,  # on-demand read request units (4 KB strongly consistent)
    "apigw_http_per_million_requests": 1.00,  # HTTP API; per 512 KB of request
    "cloudwatch_logs_ingest_per_gb": 0.50,  # Standard log class, data ingested (for comparison only)
}
GB = 1024**3
PRICES_AS_OF = "2026-11-26"
SQS_CHUNK = 64 * 1024
APIGW_CHUNK = 512 * 1024
LAMBDA_MEMORY_MB = 512  # infra/terraform/lambda.tf, ingest and worker
WORKER_BATCH_SIZE = 10  # infra/terraform/variables.tf worker_batch_size
VISIBILITY_TIMEOUT_S = 30
ORIGINAL_DRAIN_EVERY = 200  # original design: messages sent between runs of the event source mapping


def _fake_credentials() -> None:
    # Never let the benchmark reach a real account, whatever the machine's environment holds.
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
    )


@dataclass
class Meter:
    """Calls by operation and billed units, from botocore's hooks on the clients it is attached to."""

    calls: Counter[str] = field(default_factory=Counter)
    sqs_requests: int = 0  # billed: 64 KB chunks
    wru: int = 0
    rru: float = 0.0
    enabled: bool = True

    def attach(self, client: Any) -> None:
        client.meta.events.register("provide-client-params.*.*", self._before)
        client.meta.events.register("after-call.*.*", self._after)

    def _before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        from logpipe_backend.adapters.aws.dynamodb import item_size

        op = model.name
        service = model.service_model.service_name
        self.calls[f"{service}:{op}"] += 1
        if service == "sqs":
            if op == "SendMessageBatch":
                payload = sum(len(e["MessageBody"].encode("utf-8")) for e in params["Entries"])
                self.sqs_requests += max(1, math.ceil(payload / SQS_CHUNK))
            elif op == "SendMessage":
                self.sqs_requests += max(1, math.ceil(len(params["MessageBody"].encode("utf-8")) / SQS_CHUNK))
            elif op != "ReceiveMessage":  # a receive is billed by what it returns: see _after
                self.sqs_requests += 1
        elif op == "BatchWriteItem":
            for requests in params["RequestItems"].values():
                self.wru += sum(math.ceil(item_size(r["PutRequest"]["Item"]) / 1024) for r in requests)
        elif op in ("PutItem", "UpdateItem", "DeleteItem"):
            self.wru += max(1, math.ceil(item_size(params.get("Item", params.get("Key", {}))) / 1024))

    def _after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        from logpipe_backend.adapters.aws.dynamodb import item_size

        op = model.name
        if op == "ReceiveMessage":
            payload = sum(len(m["Body"].encode("utf-8")) for m in parsed.get("Messages", []))
            self.sqs_requests += max(1, math.ceil(payload / SQS_CHUNK))
        elif op == "GetItem":
            item = parsed.get("Item") or {}
            units = max(1, math.ceil(item_size(item) / 4096))
            # GetItem without ConsistentRead is eventually consistent: half a unit per 4 KB.
            self.rru += units / 2


@dataclass
class Lambdas:
    ingest_ms: list[float] = field(default_factory=list)
    worker_ms: list[float] = field(default_factory=list)
    apigw_requests: int = 0


@contextmanager
def aws() -> Iterator[tuple[Any, Any, str]]:
    import boto3
    from moto import mock_aws

    _fake_credentials()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        ddb = boto3.client("dynamodb", region_name=REGION)
        dlq = sqs.create_queue(QueueName="ingest-dlq", Attributes={"MaximumMessageSize": "1048576"})
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])
        url = sqs.create_queue(
            QueueName="ingest",
            Attributes={
                "MaximumMessageSize": "1048576",
                "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": 5}
                ),
            },
        )["QueueUrl"]
        ddb.create_table(
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
        for name in ("tenants", "idempotency"):
            ddb.create_table(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            )
        yield sqs, ddb, url


def sdk_requests(lines: list[str], api_key: str) -> list[dict[str, Any]]:
    """The API Gateway events of the requests the SDK would send for ``lines`` (its batching and gzip)."""
    from logpipe._batcher import Batcher, classify_line
    from logpipe._client import DEFAULT_COMPRESSLEVEL
    from logpipe_backend.runtime.server import build_event

    batcher = Batcher()
    batches = []
    for line in lines:
        kind, data = classify_line(line, "auto", TENANT)
        batches.extend(batcher.add(kind, data))
    batches.extend(batcher.flush())
    events = []
    for batch in batches:
        body = gzip.compress(batch.body, compresslevel=DEFAULT_COMPRESSLEVEL, mtime=0)
        events.append(
            build_event(
                method="POST",
                target="/ingest",
                headers=[
                    ("authorization", f"Bearer {api_key}"),
                    ("content-type", batch.content_type),
                    ("content-encoding", "gzip"),
                    ("idempotency-key", batch.idempotency_key),
                    ("x-tenant-id", TENANT),
                ],
                body=body,
                source_ip="203.0.113.7",
            )
        )
    return events


class _Context:
    def __init__(self, budget_ms: int = 120_000) -> None:
        self._deadline = time.monotonic() + budget_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _drain(sqs: Any, url: str, invoke: Any, lambdas: Lambdas) -> None:
    """The event source mapping: receive a batch, invoke the worker, delete what succeeded."""
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    empty = 0
    while empty < 2:  # moto's queue is exact; a second empty receive makes sure nothing is left
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=WORKER_BATCH_SIZE, VisibilityTimeout=VISIBILITY_TIMEOUT_S
        ).get("Messages", [])
        if not messages:
            empty += 1
            continue
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": arn,
                    "awsRegion": REGION,
                }
                for m in messages
            ]
        }
        started = time.perf_counter()
        response = invoke(event)
        lambdas.worker_ms.append((time.perf_counter() - started) * 1000)
        failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        if failed:
            raise RuntimeError(f"worker reported failures: {failed}")
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def _count_stored(ddb: Any) -> int:
    """Records in the logs table: a chunk item counts its records (``count``), an original item one."""
    total = 0
    kwargs: dict[str, Any] = {
        "TableName": "logs",
        "ProjectionExpression": "#c",
        "ExpressionAttributeNames": {"#c": "count"},
    }
    while True:
        page = ddb.scan(**kwargs)
        total += sum(int(item["count"]["N"]) if "count" in item else 1 for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class ItemPerRecordStore:
    """The store before issue 12: one item per record (:func:`original_item`), BatchWriteItem of 25."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def put_records(self, records: Any, docs: Any = None) -> None:
        items = [original_item(r, retention_days=30) for r in records]
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
            while requests:  # moto processes every item; the loop is what a real store would do
                response = self._client.batch_write_item(RequestItems={"logs": requests})
                requests = response.get("UnprocessedItems", {}).get("logs", [])

    def query(self, query: Any) -> Any:
        raise NotImplementedError("only written to here")


def this_design(lines: list[str], *, item_per_record: bool = False) -> dict[str, Any]:
    """This design; with ``item_per_record``, the same with the store before chunks (the seed's)."""
    from logpipe_backend.adapters.aws.dynamodb import DynamoStore
    from logpipe_backend.adapters.aws.idempotency import DynamoIdempotencyStore
    from logpipe_backend.adapters.aws.sqs import SqsQueue
    from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
    from logpipe_backend.core.redact import Redactor
    from logpipe_backend.handlers import ingest, worker
    from logpipe_backend.ports import IngestDeps, WorkerDeps

    with aws() as (sqs, ddb, url):
        api_key = DynamoKeyStore(ddb, "tenants").create_tenant(TENANT)
        meter = Meter()
        meter.attach(sqs)
        meter.attach(ddb)
        lambdas = Lambdas()
        ingest_deps = IngestDeps(
            queue=SqsQueue(sqs, url),
            keys=DynamoKeyStore(ddb, "tenants"),
            idempotency=DynamoIdempotencyStore(ddb, "idempotency"),
        )
        events = sdk_requests(lines, api_key)
        for event in events:
            body_bytes = (
                len(base64.b64decode(event["body"])) if event["isBase64Encoded"] else len(event["body"])
            )
            lambdas.apigw_requests += max(1, math.ceil(body_bytes / APIGW_CHUNK))
            started = time.perf_counter()
            response = ingest.handle(event, ingest_deps)
            lambdas.ingest_ms.append((time.perf_counter() - started) * 1000)
            if response["statusCode"] != 202:
                raise RuntimeError(f"ingest answered {response['statusCode']}: {response['body']}")
        store = ItemPerRecordStore(ddb) if item_per_record else DynamoStore(ddb, "logs")
        worker_deps = WorkerDeps(store=store, redactor=Redactor())
        _drain(sqs, url, lambda event: worker.handle(event, worker_deps, _Context()), lambdas)
        meter.enabled = False
        stored = _count_stored(ddb)
    if stored != len(lines):
        raise RuntimeError(f"stored {stored} of {len(lines)} records")
    return _figures(len(lines), meter, lambdas, requests=len(events), stored=stored)


def original_item(record: dict[str, Any], *, retention_days: int) -> dict[str, dict[str, str]]:
    """The original design's item: one per record, each field an attribute (the seed's layout)."""
    from logpipe_backend.core.ids import log_id_time_ms

    item = {
        "tenant_id": {"S": record["tenant_id"]},
        "log_id": {"S": record["log_id"]},
        "timestamp": {"S": record["timestamp"]},
        "received_at": {"S": record["received_at"]},
        "level": {"S": record["level"]},
        "message": {"S": record["message"]},
        "attributes": {"S": json.dumps(record["attributes"], ensure_ascii=False, separators=(",", ":"))},
        "source": {"S": record["source"]},
        "redactions": {"N": str(int(record["redactions"]))},
        "expires_at": {"N": str(log_id_time_ms(record["log_id"]) // 1000 + retention_days * 86_400)},
    }
    if "client_log_id" in record:
        item["client_log_id"] = {"S": record["client_log_id"]}
    return item


def original_design(lines: list[str]) -> dict[str, Any]:
    """One SQS message and one PutItem per log, with the same requests, checks and redaction around them."""
    from logpipe_backend.adapters.aws.idempotency import DynamoIdempotencyStore
    from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
    from logpipe_backend.core.body import decode_body, media_type, parse_records
    from logpipe_backend.core.http import body_bytes, header
    from logpipe_backend.core.ids import new_log_ids
    from logpipe_backend.core.ingest import prepare
    from logpipe_backend.core.limits import Limits
    from logpipe_backend.core.redact import Redactor

    with aws() as (sqs, ddb, url):
        api_key = DynamoKeyStore(ddb, "tenants").create_tenant(TENANT)
        meter = Meter()
        meter.attach(sqs)
        meter.attach(ddb)
        lambdas = Lambdas()
        keys = DynamoKeyStore(ddb, "tenants")
        idem = DynamoIdempotencyStore(ddb, "idempotency")
        limits = Limits()
        redactor = Redactor()

        def worker(event: dict[str, Any]) -> dict[str, Any]:
            for message in event["Records"]:
                record = redactor.redact(json.loads(message["body"]))
                ddb.put_item(TableName="logs", Item=original_item(record, retention_days=30))
            return {"batchItemFailures": []}

        events = sdk_requests(lines, api_key)
        for event in events:
            raw = body_bytes(event)
            lambdas.apigw_requests += max(1, math.ceil(len(raw) / APIGW_CHUNK))
            started = time.perf_counter()
            tenant = keys.tenant_for_key(api_key)
            assert tenant == TENANT
            kind = media_type(header(event, "content-type"))
            data = decode_body(raw, header(event, "content-encoding"), limits)
            raws = parse_records(data, kind, limits)
            now = int(time.time() * 1000)
            idem.claim(TENANT, str(header(event, "idempotency-key")), "digest", now)
            ids = new_log_ids(len(raws), now)
            elapsed = time.perf_counter() - started
            for start in range(0, len(raws), ORIGINAL_DRAIN_EVERY):
                part = raws[start : start + ORIGINAL_DRAIN_EVERY]
                t0 = time.perf_counter()
                for record in prepare(
                    part, tenant_id=TENANT, received_ms=now, log_ids=ids[start : start + len(part)],
                    limits=limits,
                ).records():  # fmt: skip
                    sqs.send_message(QueueUrl=url, MessageBody=record.decode("utf-8"))
                elapsed += time.perf_counter() - t0
                # moto's receive slows down with the queue's length: consume as the mapping would, alongside.
                _drain(sqs, url, worker, lambdas)
            lambdas.ingest_ms.append(elapsed * 1000)
        meter.enabled = False
        stored = _count_stored(ddb)
    if stored != len(lines):
        raise RuntimeError(f"original design stored {stored} of {len(lines)} records")
    return _figures(len(lines), meter, lambdas, requests=len(events), stored=stored)


def _figures(n: int, meter: Meter, lambdas: Lambdas, *, requests: int, stored: int) -> dict[str, Any]:
    per_m = 1_000_000 / n
    gb = LAMBDA_MEMORY_MB / 1024
    ingest_gb_s = sum(math.ceil(ms) for ms in lambdas.ingest_ms) / 1000 * gb
    worker_gb_s = sum(math.ceil(ms) for ms in lambdas.worker_ms) / 1000 * gb
    invocations = len(lambdas.ingest_ms) + len(lambdas.worker_ms)
    ddb_write_calls = meter.calls["dynamodb:BatchWriteItem"] + meter.calls["dynamodb:PutItem"]
    sqs_calls = sum(v for k, v in meter.calls.items() if k.startswith("sqs:"))
    dollars = {
        "sqs": meter.sqs_requests * PRICES["sqs_per_million_requests"] / 1e6,
        "lambda_requests": invocations * PRICES["lambda_per_million_invocations"] / 1e6,
        "lambda_gb_s": (ingest_gb_s + worker_gb_s) * PRICES["lambda_per_gb_s_arm64"],
        "dynamodb_writes": meter.wru * PRICES["dynamodb_per_million_wru"] / 1e6,
        "dynamodb_reads": meter.rru * PRICES["dynamodb_per_million_rru"] / 1e6,
        "api_gateway": lambdas.apigw_requests * PRICES["apigw_http_per_million_requests"] / 1e6,
    }
    scaled_dollars = {k: round(v * per_m, 4) for k, v in dollars.items()}
    return {
        "records": n,
        "stored": stored,
        "http_requests": requests,
        "calls": dict(sorted(meter.calls.items())),
        "per_million_logs": {
            "http_requests": round(requests * per_m, 1),
            "sqs_api_calls": round(sqs_calls * per_m, 1),
            "sqs_billed_requests": round(meter.sqs_requests * per_m, 1),
            "dynamodb_write_calls": round(ddb_write_calls * per_m, 1),
            "dynamodb_wru": round(meter.wru * per_m, 1),
            "dynamodb_rru": round(meter.rru * per_m, 1),
            "lambda_ingest_invocations": round(len(lambdas.ingest_ms) * per_m, 1),
            "lambda_worker_invocations": round(len(lambdas.worker_ms) * per_m, 1),
            "lambda_gb_s": round((ingest_gb_s + worker_gb_s) * per_m, 2),
            "dollars": scaled_dollars,
            "dollars_total": round(sum(scaled_dollars.values()), 4),
        },
        "mean_ms": {
            "ingest": round(sum(lambdas.ingest_ms) / max(1, len(lambdas.ingest_ms)), 1),
            "worker": round(sum(lambdas.worker_ms) / max(1, len(lambdas.worker_ms)), 1),
        },
    }


def run(n: int, original_n: int) -> dict[str, Any]:
    lines = list(iter_lines(n))
    ours = this_design(lines)
    item_per_record = this_design(lines, item_per_record=True)
    original = original_design(lines[: min(n, original_n)])
    a, b = ours["per_million_logs"], original["per_million_logs"]
    # CloudWatch Logs bills ingestion by the bytes of the log events: the same lines, as sent.
    bytes_per_million = sum(len(line.encode("utf-8")) for line in lines) / n * 1_000_000

    def ratio(key: str) -> float:
        return a[key] / b[key] if b[key] else math.nan

    return {
        "machine": machine(),
        "prices": PRICES,
        "prices_as_of": PRICES_AS_OF,
        "region": REGION,
        "lambda_memory_mb": LAMBDA_MEMORY_MB,
        "worker_batch_size": WORKER_BATCH_SIZE,
        "this_design": ours,
        "original_design": original,
        "item_per_record_design": item_per_record,
        "cloudwatch_logs": {
            "bytes_per_million_logs": round(bytes_per_million),
            "dollars_per_million_logs": round(
                bytes_per_million / GB * PRICES["cloudwatch_logs_ingest_per_gb"], 4
            ),
        },
        "ratios": {
            "dollars_total_vs_item_per_record": a["dollars_total"]
            / item_per_record["per_million_logs"]["dollars_total"],
            "sqs_billed_requests": ratio("sqs_billed_requests"),
            "sqs_api_calls": ratio("sqs_api_calls"),
            "dynamodb_write_calls": ratio("dynamodb_write_calls"),
            "dynamodb_wru": ratio("dynamodb_wru"),
            "lambda_worker_invocations": ratio("lambda_worker_invocations"),
            "dollars_total": a["dollars_total"] / b["dollars_total"],
        },
    }


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.4f}" if b else "—"


def report(r: dict[str, Any]) -> str:
    a = r["this_design"]["per_million_logs"]
    b = r["original_design"]["per_million_logs"]
    rows = [
        ("HTTP requests (API Gateway)", "http_requests"),
        ("SQS API calls", "sqs_api_calls"),
        ("SQS billed requests (64 KB chunks)", "sqs_billed_requests"),
        ("DynamoDB write calls", "dynamodb_write_calls"),
        ("DynamoDB write request units", "dynamodb_wru"),
        ("DynamoDB read request units", "dynamodb_rru"),
        ("Lambda ingest invocations", "lambda_ingest_invocations"),
        ("Lambda worker invocations", "lambda_worker_invocations"),
        ("Lambda GB-s (measured on moto)", "lambda_gb_s"),
    ]
    out = [
        f"per million logs — this design ({r['this_design']['records']:,} records) vs the original"
        f" (one SQS message + one PutItem per log; {r['original_design']['records']:,} records)",
        f"{'':<38}{'this design':>14}{'original':>14}{'ratio':>10}",
    ]
    for label, key in rows:
        out.append(f"{label:<38}{a[key]:>14,.1f}{b[key]:>14,.1f}{_ratio(a[key], b[key]):>10}")
    out.append("dollars per million logs:")
    for key in a["dollars"]:
        da, db = a["dollars"][key], b["dollars"][key]
        out.append(f"  {key:<36}{da:>14.4f}{db:>14.4f}{_ratio(da, db):>10}")
    out.append(
        f"  {'total':<36}{a['dollars_total']:>14.4f}{b['dollars_total']:>14.4f}"
        f"{r['ratios']['dollars_total']:>10.4f}"
    )
    per_record = r["item_per_record_design"]["per_million_logs"]
    out.append(
        f"the store before chunks (one DynamoDB item per record, the rest as this design):"
        f" ${per_record['dollars_total']:.4f} per million logs, of which DynamoDB writes"
        f" ${per_record['dollars']['dynamodb_writes']:.4f} ({per_record['dynamodb_wru']:,.0f} WRU);"
        f" this design is {r['ratios']['dollars_total_vs_item_per_record']:.4f} of it"
    )
    wru_per_record = a["dynamodb_wru"] / 1e6
    out.append(
        f"DynamoDB write units per record: {wru_per_record:.4f}; one tenant's ceiling (1,000 WCU/s per"
        f" partition): {1000 / wru_per_record:,.0f} records/s"
    )
    cw = r["cloudwatch_logs"]
    gb_per_million = cw["bytes_per_million_logs"] / GB
    out.append(
        f"CloudWatch Logs, for comparison: ingesting the same bytes ({gb_per_million:,.3f} GB per million"
        f" logs at ${r['prices']['cloudwatch_logs_ingest_per_gb']:.2f}/GB) costs"
        f" ${cw['dollars_per_million_logs']:.4f} per million logs, before storage and queries"
    )
    out.append(
        "(HTTP-side rows — requests, ingest invocations, key reads — are the same design in both; they"
        " differ only by how full the last SDK batch of each sample is)"
    )
    out.append(
        f"prices: {r['region']} on-demand as of {r['prices_as_of']} (check before relying on them);"
        f" Lambda {r['lambda_memory_mb']} MB arm64; event source batch {r['worker_batch_size']}"
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--original-records", type=int, default=10_000, help="records for the original design")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    result = run(args.records, args.original_records)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
