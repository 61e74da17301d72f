#!/usr/bin/env python3
"""What the seed's simulated work does at the dev settings: invocations, re-queues, DLQ, records stored.

    .venv/bin/python bench/simwork.py                         # infra/terraform/env/dev.tfvars' settings
    .venv/bin/python bench/simwork.py --batch-size 1 --json

Everything runs in this process on moto (no account, no network), through the real ingest and worker
handlers with the real SQS and DynamoDB adapters. ``--records`` of the benchmark's sample lines are sent in
``--requests`` requests to the ingest handler; the SQS event source mapping is then played as Lambda plays
it (receive up to ``--batch-size`` messages, invoke the worker, delete what it did not report as failed; the
queue has Terraform's redrive policy, maxReceiveCount 5). Each invocation has ``--timeout`` seconds on a
simulated clock that only the worker's simulated work (its injected sleep) moves: nothing is waited for, so
the figures are counts and simulated seconds, not timings of this machine.

Two runs on the same records: the worker as it is (it stores what fits and re-queues the rest, issue 12),
and the worker without a queue to re-queue to (what the seed did: it reports a message it cannot finish as
failed, and after 5 receives the message is in the DLQ).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from typing import Any

from _common import TENANT, iter_lines

REGION = "us-east-1"
MAX_RECEIVES = 5  # infra/terraform/queue.tf: the redrive policy's maxReceiveCount


class Clock:
    """Lambda's remaining time, in simulated seconds that the worker's simulated work uses up."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_ms = timeout_s * 1000
        self.remaining_ms = self.timeout_ms
        self.worked_s = 0.0

    def invoke(self) -> Clock:
        self.remaining_ms = self.timeout_ms
        return self

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.remaining_ms))

    def sleep(self, seconds: float) -> None:
        self.remaining_ms -= seconds * 1000
        self.worked_s += seconds


def _resources(sqs: Any, ddb: Any) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES})
    url = sqs.create_queue(
        QueueName="ingest", Attributes={"MaximumMessageSize": "1048576", "RedrivePolicy": policy}
    )["QueueUrl"]
    keys = [
        {"AttributeName": "tenant_id", "KeyType": "HASH"},
        {"AttributeName": "log_id", "KeyType": "RANGE"},
    ]
    attrs = [{"AttributeName": k["AttributeName"], "AttributeType": "S"} for k in keys]
    ddb.create_table(
        TableName="logs", BillingMode="PAY_PER_REQUEST", KeySchema=keys, AttributeDefinitions=attrs
    )
    for name in ("tenants", "idempotency"):
        ddb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
    return url, dlq


def _ingest(lines: list[str], requests: int, api_key: str) -> None:
    from logpipe_backend.handlers import ingest
    from logpipe_backend.wiring import ingest as ingest_wiring

    deps = ingest_wiring.deps()
    per = -(-len(lines) // requests)
    for start in range(0, len(lines), per):
        event = {
            "version": "2.0",
            "headers": {"authorization": f"Bearer {api_key}", "content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/ingest"}, "requestId": f"r{start}"},
            # As the SDK sends a file's lines: a JSON line as its object, any other line as its text.
            "body": json.dumps(
                [json.loads(x) if x.startswith("{") else {"message": x} for x in lines[start : start + per]]
            ),
            "isBase64Encoded": False,
        }
        response = ingest.handle(event, deps)
        if response["statusCode"] != 202:
            raise SystemExit(f"ingest answered {response['statusCode']}: {response['body']}")


def run(lines: list[str], args: argparse.Namespace, *, requeue: bool) -> dict[str, Any]:
    import boto3
    from logpipe_backend.adapters.aws.dynamodb import DynamoStore
    from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
    from logpipe_backend.handlers import worker
    from logpipe_backend.ports import LogQuery
    from logpipe_backend.wiring import aws as aws_wiring
    from logpipe_backend.wiring import worker as worker_wiring
    from moto import mock_aws

    with mock_aws():
        sqs, ddb = boto3.client("sqs", region_name=REGION), boto3.client("dynamodb", region_name=REGION)
        url, dlq = _resources(sqs, ddb)
        os.environ.update(
            LOGPIPE_QUEUE_URL=url,
            LOGPIPE_TABLE_NAME="logs",
            LOGPIPE_TENANTS_TABLE_NAME="tenants",
            LOGPIPE_IDEMPOTENCY_TABLE_NAME="idempotency",
            LOGPIPE_SIMULATED_WORK_PER_CHAR=str(args.work_per_char),
            LOGPIPE_RATE_LIMIT_RECORDS_PER_S="0",
        )
        aws_wiring.reset_clients()
        aws_wiring.set_client("sqs", sqs)
        aws_wiring.set_client("dynamodb", ddb)
        sends: list[int] = []  # bytes of each SendMessageBatch the worker makes (its re-queues)
        _ingest(lines, args.requests, DynamoKeyStore(ddb, "tenants").create_tenant(TENANT))
        clock = Clock(args.timeout)
        deps = replace(worker_wiring.deps(), sleep=clock.sleep)
        if not requeue:
            deps = replace(deps, requeue=None)
        sqs.meta.events.register(
            "provide-client-params.sqs.SendMessageBatch",
            lambda params, **_: sends.append(sum(len(e["MessageBody"]) for e in params["Entries"])),
        )
        invocations = failures = 0
        for _ in range(args.max_invocations):
            got = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=args.batch_size, VisibilityTimeout=0
            ).get("Messages", [])
            if not got:
                break
            event = {"Records": [{"messageId": m["MessageId"], "body": m["Body"]} for m in got]}
            invocations += 1
            failed = {
                f["itemIdentifier"] for f in worker.handle(event, deps, clock.invoke())["batchItemFailures"]
            }
            failures += len(failed)
            for m in got:
                if m["MessageId"] not in failed:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        ids: list[str] = []
        store, after = DynamoStore(ddb, "logs"), None
        while True:
            page = store.query(LogQuery(tenant_id=TENANT, order="asc", limit=1_000, start_after=after))
            ids += [r["log_id"] for r in page.items]
            if page.last_log_id is None:
                break
            after = page.last_log_id
        dead = int(
            sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        left = int(
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
                "Attributes"
            ]["ApproximateNumberOfMessages"]
        )
        aws_wiring.reset_clients()
    return {
        "requeue": requeue,
        "invocations": invocations,
        "reported_failed": failures,
        "requeue_calls": len(sends),
        "requeued_mb": round(sum(sends) / 1e6, 1),
        "stored_unique": len(set(ids)),
        "stored_duplicates": len(ids) - len(set(ids)),
        "dlq_messages": dead,
        "still_queued": left,
        "work_hours": round(clock.worked_s / 3600, 2),
        # The event source mapping runs at most the worker's reserved concurrency at once (dev: 2).
        "hours_at_concurrency": round(invocations * args.timeout / 3600 / args.concurrency, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--records", type=int, default=10_000)
    p.add_argument("--requests", type=int, default=5)
    p.add_argument("--work-per-char", type=float, default=0.05, help="dev.tfvars: 0.05 s")
    p.add_argument("--timeout", type=float, default=120.0, help="worker_timeout_seconds (default 120)")
    p.add_argument("--batch-size", type=int, default=10, help="worker_batch_size (default 10)")
    p.add_argument("--concurrency", type=int, default=2, help="worker_reserved_concurrency (dev: 2)")
    p.add_argument("--max-invocations", type=int, default=5_000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    lines = list(iter_lines(args.records))
    results = [run(lines, args, requeue=True), run(lines, args, requeue=False)]
    summary = {
        "records": args.records,
        "requests": args.requests,
        "work_per_char_s": args.work_per_char,
        "timeout_s": args.timeout,
        "batch_size": args.batch_size,
        "runs": results,
    }
    if args.json:
        print(json.dumps(summary))
        return 0
    print(
        f"{args.records} records in {args.requests} requests; {args.work_per_char} s/char; "
        f"{args.timeout} s invocations; batches of {args.batch_size}"
    )
    for r in results:
        name = "re-queue the rest (issue 12)" if r["requeue"] else "fail what does not fit (the seed)"
        print(f"  {name}:")
        for key, value in r.items():
            if key != "requeue":
                print(f"    {key:22} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
