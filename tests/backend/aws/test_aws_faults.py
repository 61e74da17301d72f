"""Failure handling on AWS (issue #6), on moto through real boto3 calls; faults moto cannot make are made
with botocore's Stubber or a client wrapper that fails chosen calls.

- A request retried with its Idempotency-Key after a lost response stores nothing twice, same log_ids.
- The same SQS message delivered twice, one after the other or at the same time, stores one copy of each
  record (the same chunk items, rewritten).
- DynamoDB throttling (whole-call errors and UnprocessedItems) is retried and nothing is lost; when the
  retries are spent the message is reported in batchItemFailures: not acknowledged, so SQS redelivers it.
- SendMessageBatch failures: retried; when they persist ingest answers 503. Messages already sent stay
  queued (SQS has no transaction), and the client's retry under the same Idempotency-Key is harmless.
- The worker's time guard: every message not started is retried later and stored, none lost.
"""

from __future__ import annotations

import base64
import json
import random
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aws_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    aws_fixture,
    fake_credentials_fixture,
    scan_items,
    stored_records,
)
from aws_lambda_sim import EventSourceMapping, FakeContext, ingest_event
from botocore.stub import ANY, Stubber
from logpipe_backend.adapters.aws.chunks import chunk_items
from logpipe_backend.adapters.aws.dynamodb import WRITE_ATTEMPTS, DynamoStore
from logpipe_backend.adapters.aws.idempotency import DynamoIdempotencyStore
from logpipe_backend.adapters.aws.sqs import SEND_ATTEMPTS, SqsQueue
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.core.envelope import pack
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.record import Record
from logpipe_backend.handlers import ingest, worker
from logpipe_backend.lambdas import worker as worker_lambda
from logpipe_backend.ports import IngestDeps, WorkerDeps
from logpipe_backend.wiring import aws as aws_wiring

T0 = 1_795_000_000_000


def _items(aws: Aws) -> list[Record]:
    return stored_records(aws.dynamodb, aws.logs_table)


def _queue_depth(aws: Aws, url: str | None = None) -> int:
    attrs = aws.sqs.get_queue_attributes(QueueUrl=url or aws.queue_url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _ingest_deps(aws: Aws, sqs: Any = None) -> IngestDeps:
    return IngestDeps(
        queue=SqsQueue(sqs or aws.sqs, aws.queue_url, sleep=lambda _: None),
        keys=DynamoKeyStore(aws.dynamodb, aws.tenants_table),
        idempotency=DynamoIdempotencyStore(aws.dynamodb, aws.idempotency_table),
        max_queue_depth=0,
    )


def _worker_deps(aws: Aws, sleeps: list[float] | None = None) -> WorkerDeps:
    store = DynamoStore(aws.dynamodb, aws.logs_table, sleep=(sleeps if sleeps is not None else []).append)
    return WorkerDeps(store=store)


def _drain(aws: Aws, deps: WorkerDeps) -> EventSourceMapping:
    esm = EventSourceMapping(aws.sqs, aws.queue_url, lambda event, ctx: worker.handle(event, deps, ctx))
    esm.drain(FakeContext(60_000))
    return esm


@pytest.fixture
def key(aws: Aws) -> str:
    return DynamoKeyStore(aws.dynamodb, aws.tenants_table).create_tenant("acme")


# --- idempotency ---------------------------------------------------------------------------------------


def test_a_retry_after_a_lost_response_stores_nothing_twice_and_returns_the_same_log_ids(
    aws: Aws, key: str
) -> None:
    body = json.dumps([{"message": f"m{i}", "level": "warn"} for i in range(40)])
    event = ingest_event(key, body, headers={"Idempotency-Key": "batch-7"})
    deps = _ingest_deps(aws)
    first = ingest.handle(event, deps)  # the client never sees this response (connection dropped)
    assert first["statusCode"] == 202
    # The worker may already have stored the first copy before the retry arrives.
    _drain(aws, _worker_deps(aws))
    retries = [ingest.handle(event, _ingest_deps(aws)) for _ in range(2)]  # another container, twice
    assert [r["statusCode"] for r in retries] == [202, 202]
    log_ids = json.loads(first["body"])["log_ids"]
    assert all(json.loads(r["body"])["log_ids"] == log_ids for r in retries)
    esm = _drain(aws, _worker_deps(aws))
    assert len(esm.bodies_seen) == 2 and len(set(esm.bodies_seen)) == 1  # byte-identical messages
    items = _items(aws)
    assert sorted(i["log_id"] for i in items) == sorted(log_ids)  # one copy per record
    assert _queue_depth(aws) == 0


def _records(n: int, tenant: str = "acme") -> list[bytes]:
    out = []
    for i, log_id in enumerate(new_log_ids(n, T0)):
        record: Record = {
            "tenant_id": tenant,
            "log_id": log_id,
            "timestamp": "2026-11-26T03:44:56.123Z",
            "received_at": "2026-11-26T03:44:56.123Z",
            "level": "info",
            "message": f"record {i} from bob@example.com",
            "attributes": {"i": i},
            "source": "json",
            "redactions": 0,
        }
        out.append(json.dumps(record, separators=(",", ":")).encode())
    return out


def _event(bodies: list[str], ids: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": mid, "receiptHandle": f"rh-{mid}", "body": body, "eventSource": "aws:sqs"}
            for mid, body in zip(ids, bodies, strict=True)
        ]
    }


def test_the_same_message_delivered_twice_stores_one_copy_per_record(aws: Aws) -> None:
    (body,) = pack("acme", _records(60))
    deps = _worker_deps(aws)
    assert worker.handle(_event([body], ["m1"]), deps) == {"batchItemFailures": []}
    first = sorted(_items(aws), key=lambda i: i["log_id"])
    first_items = scan_items(aws.dynamodb, aws.logs_table)
    # Redelivered alone, and again inside a batch with itself (SQS at-least-once delivery).
    assert worker.handle(_event([body], ["m1"]), deps) == {"batchItemFailures": []}
    assert worker.handle(_event([body, body], ["m1", "m1-dup"]), deps) == {"batchItemFailures": []}
    again = sorted(_items(aws), key=lambda i: i["log_id"])
    assert len(again) == 60 and again == first  # same records, redaction applied once and identically
    assert scan_items(aws.dynamodb, aws.logs_table) == first_items  # the very same chunk items, rewritten
    assert all("bob@example.com" not in i["message"] for i in again)


def test_the_same_message_processed_by_two_workers_at_once_stores_one_item_per_record(aws: Aws) -> None:
    bodies = pack("acme", _records(120), max_bytes=8_000)
    assert len(bodies) > 3
    event = _event(bodies, [f"m{i}" for i in range(len(bodies))])
    barrier = threading.Barrier(2, timeout=10)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            deps = _worker_deps(aws)  # each "Lambda" its own store, the same client (thread-safe)
            barrier.wait()
            results.append(worker.handle(event, deps))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, name=f"worker-{i}") for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors and not any(t.is_alive() for t in threads)
    assert results == [{"batchItemFailures": []}] * 2
    items = _items(aws)
    assert len(items) == 120 == len({i["log_id"] for i in items})


# --- DynamoDB throttling -------------------------------------------------------------------------------


def _one(aws: Aws, n: int = 3) -> tuple[list[Record], list[dict[str, Any]]]:
    """``n`` records two seconds apart (so each is a chunk of its own), and the requests that write them."""
    records: list[Record] = []
    for i in range(n):
        (log_id,) = new_log_ids(1, T0 + 2_000 * i)
        records.append({**json.loads(_records(1)[0]), "log_id": log_id, "message": f"record {i}"})
    items = chunk_items(records, retention_seconds=30 * 86_400)
    assert len(items) == n
    requests = [{"PutRequest": {"Item": item}} for item in items]
    return records, requests


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"]
)
def test_a_throttled_batch_write_is_retried_and_nothing_is_lost(aws: Aws, code: str) -> None:
    sleeps: list[float] = []
    store = DynamoStore(aws.dynamodb, aws.logs_table, sleep=sleeps.append)
    records, requests = _one(aws)
    stubber = Stubber(aws.dynamodb)
    table = aws.logs_table
    stubber.add_client_error("batch_write_item", code, http_status_code=400)
    stubber.add_client_error("batch_write_item", code, http_status_code=400)
    # The whole call failed, so the whole batch goes again; then AWS takes only part of it.
    stubber.add_response(
        "batch_write_item",
        {"UnprocessedItems": {table: requests[1:]}},
        {"RequestItems": {table: requests}},
    )
    stubber.add_response(
        "batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {table: requests[1:]}}
    )
    with stubber:
        store.put_records(records)
    stubber.assert_no_pending_responses()
    assert len(sleeps) == 3


def test_when_throttling_outlasts_the_retries_the_message_fails_and_comes_back(aws: Aws) -> None:
    """Not lost, not acknowledged: the throttled message is in batchItemFailures; the other is stored."""
    throttled, healthy = pack("acme", _records(3)[:2]), pack("acme", _records(3)[2:])
    SqsQueue(aws.sqs, aws.queue_url).send(throttled + healthy)
    sleeps: list[float] = []
    deps = _worker_deps(aws, sleeps)
    stubber = Stubber(aws.dynamodb)
    for _ in range(WRITE_ATTEMPTS):
        stubber.add_client_error(
            "batch_write_item", "ProvisionedThroughputExceededException", http_status_code=400
        )
    calls: list[str] = []

    def invoke(event: dict[str, Any], ctx: Any) -> dict[str, Any]:
        # The stubbed client answers the first message's writes; the second message's go to moto.
        calls.append(event["Records"][0]["body"])
        with stubber:
            first = worker.handle({"Records": event["Records"][:1]}, deps, ctx)
        rest = worker.handle({"Records": event["Records"][1:]}, deps, ctx)
        return {"batchItemFailures": first["batchItemFailures"] + rest["batchItemFailures"]}

    esm = EventSourceMapping(aws.sqs, aws.queue_url, invoke)
    received, failed = esm.poll_once(FakeContext(60_000), visibility_timeout=0)
    stubber.assert_no_pending_responses()
    assert received == 2 and len(failed) == 1 and len(sleeps) == WRITE_ATTEMPTS - 1
    assert [i["message"] for i in _items(aws)] == ["record 2 from [REDACTED:email]"]
    # The failed message was not deleted: the next invocation (throttling over) stores it.
    assert _queue_depth(aws) == 1
    _drain(aws, _worker_deps(aws))
    assert len(_items(aws)) == 3 and _queue_depth(aws) == 0


# --- SQS SendMessageBatch failures -------------------------------------------------------------------


class FailingSends:
    """An SQS client that really sends the first ``good_calls`` SendMessageBatch calls and then reports
    every entry as failed (a server fault, as when SQS is throttling or unavailable)."""

    def __init__(self, real: Any, good_calls: int) -> None:
        self._real = real
        self._good = good_calls
        self.calls = 0

    def send_message_batch(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls <= self._good:
            response: dict[str, Any] = self._real.send_message_batch(**params)
            return response
        failed = [
            {"Id": e["Id"], "SenderFault": False, "Code": "ServiceUnavailable", "Message": "try later"}
            for e in params["Entries"]
        ]
        return {"Successful": [], "Failed": failed}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def test_persistent_send_failures_give_503_and_the_idempotent_retry_stores_each_record_once(
    aws: Aws, key: str
) -> None:
    # ~3 MB of records: three ~1 MB messages, so three SendMessageBatch calls (1 MiB each at most). The
    # messages are random base64, which compresses only ~1.3x: two compressed messages cannot share a batch.
    rng = random.Random(2_400)
    records = [{"message": f"{i:05d} " + base64.b64encode(rng.randbytes(900)).decode()} for i in range(2_400)]
    body = json.dumps(records)
    event = ingest_event(key, body, headers={"Idempotency-Key": "big-1"})
    flaky = FailingSends(aws.sqs, good_calls=1)
    failed = ingest.handle(event, _ingest_deps(aws, flaky))
    assert failed["statusCode"] == 503
    assert json.loads(failed["body"])["error"]["code"] == "queue_unavailable"
    assert failed["headers"]["retry-after"]
    assert flaky.calls == 1 + SEND_ATTEMPTS  # the second batch was retried, then given up
    # Not all-or-nothing on AWS: the first message is queued and stays queued...
    assert _queue_depth(aws) == 1
    # ...and the client's retry with the same key (the SDK always sends one) yields the same records.
    retry = ingest.handle(event, _ingest_deps(aws))
    assert retry["statusCode"] == 202
    log_ids = json.loads(retry["body"])["log_ids"]
    assert len(log_ids) == 2_400
    (first_call,) = aws.log.of("SendMessageBatch")[:1]
    first_bodies = [e["MessageBody"] for e in first_call["Entries"]]
    esm = _drain(aws, _worker_deps(aws))
    # The first batch's messages arrive twice, byte-identical (so the upsert keeps one copy of each).
    assert all(esm.bodies_seen.count(b) == 2 for b in first_bodies)
    assert len(set(esm.bodies_seen)) == len(esm.bodies_seen) - len(first_bodies) > len(first_bodies)
    stored = _items(aws)
    assert sorted(i["log_id"] for i in stored) == sorted(log_ids)


def test_failed_entries_are_retried_until_they_succeed(aws: Aws, key: str) -> None:
    stubber = Stubber(aws.sqs)
    stubber.add_response(
        "send_message_batch",
        {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False, "Code": "InternalError"}]},
        {"QueueUrl": aws.queue_url, "Entries": ANY},
    )
    stubber.add_response(
        "send_message_batch",
        {"Successful": [{"Id": "0", "MessageId": "m", "MD5OfMessageBody": "x"}], "Failed": []},
        {"QueueUrl": aws.queue_url, "Entries": ANY},
    )
    with stubber:
        response = ingest.handle(ingest_event(key, '{"message": "once"}'), _ingest_deps(aws))
    stubber.assert_no_pending_responses()
    assert response["statusCode"] == 202


# --- the worker's time guard ---------------------------------------------------------------------------


@pytest.fixture
def wired(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    aws_wiring.set_client("sqs", aws.sqs)
    aws_wiring.set_client("dynamodb", aws.dynamodb)
    monkeypatch.setattr(worker_lambda, "_deps", None)
    yield aws
    aws_wiring.reset_clients()


def test_with_time_for_one_message_per_invocation_every_message_is_stored_in_turn(wired: Aws) -> None:
    aws = wired
    bodies = [pack("acme", [r])[0] for r in _records(5)]
    SqsQueue(aws.sqs, aws.queue_url).send(bodies)
    esm = EventSourceMapping(aws.sqs, aws.queue_url, worker_lambda.handler)
    invocations = 0
    for _ in range(10):  # bounded
        # 60 s for the first message, then under the guard's 3 s margin for the rest.
        received, failed = esm.poll_once(FakeContext(60_000, 2_000), visibility_timeout=0)
        if received == 0:
            break
        invocations += 1
        # The others are not started: re-queued fresh and acknowledged, never failed (a failure would count
        # a receive toward the DLQ).
        assert failed == []
    assert invocations == 5
    assert len(_items(aws)) == 5 and _queue_depth(aws) == 0
    assert aws.sqs.receive_message(QueueUrl=aws.dlq_url).get("Messages") is None
