"""Issue 12, point 2: simulated work never strands a message (moto, the real ingest and worker handlers).

The dev settings (infra/terraform/env/dev.tfvars: 0.05 s of work per character, a 120 s worker timeout)
scaled down 40 times: 0.00125 s per character against invocations of 3 s, on a clock that runs only as
the worker's injected sleep is called. Every message needs many invocations; the worker stores what fits,
re-queues the rest and acknowledges the original only after that.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from aws_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    aws_fixture,
    fake_credentials_fixture,
    lambdas_fixture,
)
from aws_lambda_sim import EventSourceMapping, FakeContext, RunningClock, ingest_event
from logpipe_backend.adapters.aws.dynamodb import DynamoStore
from logpipe_backend.adapters.aws.sqs import SqsQueue
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.core.envelope import pack, take_work_done
from logpipe_backend.lambdas import ingest, worker
from logpipe_backend.ports import LogQuery, QueueUnavailable
from logpipe_backend.wiring import worker as worker_wiring

DEV_WORK_PER_CHAR_S = 0.05
DEV_TIMEOUT_MS = 120_000
SCALE = 40
INVOCATION_MS = DEV_TIMEOUT_MS // SCALE  # 3 s
MARGIN_MS = 500  # the default 3 s margin scaled to a 3 s invocation
REQUESTS = 5
RECORDS_PER_REQUEST = 2_000


def _cold_start(clock: RunningClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's dependencies as wiring builds them from Terraform's environment, with the simulated
    work's sleep on the running clock."""
    monkeypatch.setenv("LOGPIPE_SIMULATED_WORK_PER_CHAR", str(DEV_WORK_PER_CHAR_S / SCALE))
    monkeypatch.setattr(
        worker, "_deps", replace(worker_wiring.deps(), sleep=clock.sleep, time_margin_ms=MARGIN_MS)
    )


def _all_log_ids(aws: Aws, tenant: str) -> list[str]:
    """Every log_id a tenant's queries return, page after page (duplicates kept, to be counted)."""
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    ids: list[str] = []
    after: str | None = None
    for _ in range(1_000):
        page = store.query(LogQuery(tenant_id=tenant, order="asc", limit=1_000, start_after=after))
        ids += [r["log_id"] for r in page.items]
        if page.last_log_id is None:
            return ids
        after = page.last_log_id
    raise AssertionError("paging did not end")


def _run(esm: EventSourceMapping, clock: RunningClock, *, max_invocations: int) -> list[str]:
    """Invoke the worker until the queue is empty; the ids it reported as failed."""
    failed: list[str] = []
    for _ in range(max_invocations):
        received, failures = esm.poll_once(clock.invoke(), visibility_timeout=0)
        failed += failures
        if received == 0:
            return failed
    raise AssertionError(f"queue not drained after {max_invocations} invocations")


def test_dev_rate_scaled_down_stores_10000_records_exactly_once_and_nothing_reaches_the_dlq(
    lambdas: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = lambdas
    key = DynamoKeyStore(aws.dynamodb, aws.tenants_table).create_tenant("acme")
    for request in range(REQUESTS):
        batch: list[dict[str, Any]] = [
            {"level": "info", "message": f"request {request} record {i:05d} user login ok"}
            for i in range(RECORDS_PER_REQUEST)
        ]
        # One record whose work alone (5,000 chars: 6.25 s) outlasts two whole invocations.
        batch[7]["message"] = "x" * 5_000
        response = ingest.handler(ingest_event(key, json.dumps(batch)), FakeContext())
        assert response["statusCode"] == 202, response
    clock = RunningClock(INVOCATION_MS)
    _cold_start(clock, monkeypatch)
    esm = EventSourceMapping(aws.sqs, aws.queue_url, worker.handler)

    failed = _run(esm, clock, max_invocations=2_000)

    ids = _all_log_ids(aws, "acme")
    assert len(ids) == REQUESTS * RECORDS_PER_REQUEST and len(set(ids)) == len(ids)
    assert failed == [] and clock.overruns == 0
    assert aws.sqs.receive_message(QueueUrl=aws.dlq_url).get("Messages") is None
    # Every message needed many invocations: the remainders were re-queued, carrying work done.
    assert clock.invocations > 50
    carried = [take_work_done(body)[1] for body in esm.bodies_seen]
    assert max(carried) > INVOCATION_MS / 1000  # the long record's work spanned invocations
    total_chars = REQUESTS * (RECORDS_PER_REQUEST - 1) * len("request 0 record 00000 user login ok") + (
        REQUESTS * 5_000
    )
    assert clock.slept_s == pytest.approx(total_chars * DEV_WORK_PER_CHAR_S / SCALE, rel=1e-6)


class FailingQueue:
    """The worker's re-queue target, failing as SQS would when it cannot take the messages."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, bodies: Any) -> None:
        self.calls += 1
        raise QueueUnavailable("SendMessageBatch failed")

    def approximate_depth(self) -> int:
        return 0


def _records(n: int, chars: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "tenant_id": "acme",
                "log_id": f"01KAZ479SV65DH4C98VGT{i:05d}",
                "timestamp": "2026-11-26T03:44:56.123Z",
                "received_at": "2026-11-26T03:44:56.123Z",
                "level": "info",
                "message": "m" * chars,
                "attributes": {},
                "source": "json",
                "redactions": 0,
            }
        ).encode()
        for i in range(n)
    ]


def test_a_failed_requeue_reports_the_original_as_failed_and_it_comes_back(
    lambdas: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws = lambdas
    SqsQueue(aws.sqs, aws.queue_url).send(pack("acme", _records(10, 100)))
    clock = RunningClock(INVOCATION_MS)
    _cold_start(clock, monkeypatch)
    failing = FailingQueue()
    assert worker._deps is not None
    monkeypatch.setattr(worker, "_deps", replace(worker._deps, requeue=failing))
    esm = EventSourceMapping(aws.sqs, aws.queue_url, worker.handler)
    # 10 records of 0.125 s each fit; make them not fit: 0.6 s of budget for 1.25 s of work.
    clock.timeout_ms = MARGIN_MS + 600
    received, failures = esm.poll_once(clock.invoke(), visibility_timeout=0)
    assert received == 1 and len(failures) == 1 and failing.calls == 1
    # Not acknowledged: the original is still queued, whole; nothing was lost.
    [back] = aws.sqs.receive_message(QueueUrl=aws.queue_url, VisibilityTimeout=0)["Messages"]
    assert take_work_done(back["Body"])[1] == 0.0
    # With the real queue again, it completes.
    monkeypatch.setattr(worker, "_deps", replace(worker._deps, requeue=SqsQueue(aws.sqs, aws.queue_url)))
    assert _run(esm, clock, max_invocations=20) == []
    ids = _all_log_ids(aws, "acme")
    assert len(ids) == 10 == len(set(ids))
