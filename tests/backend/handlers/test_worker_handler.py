"""The worker handler over recorded SQS events: redaction, partial batch failures, time guard, idempotence."""

from __future__ import annotations

import json
from typing import Any

from handler_fakes import MemoryQueue, MemoryStore, load_event
from logpipe_backend.core.envelope import pack, take_work_done, unpack, with_work_done
from logpipe_backend.core.redact import Redactor
from logpipe_backend.handlers import worker
from logpipe_backend.ports import WorkerDeps


class Clock:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_batch_is_redacted_and_stored() -> None:
    store = MemoryStore()
    result = worker.handle(load_event("sqs_batch.json"), WorkerDeps(store=store), Clock(60_000))
    assert result == {"batchItemFailures": []}
    records = sorted(store.records.values(), key=lambda r: (r["tenant_id"], r["log_id"]))
    assert [(r["tenant_id"], r["message"]) for r in records] == [
        ("acme", "hello"),
        ("acme", "login by [REDACTED:email]"),
        ("beta", "2025-11-26T03:44:50Z WARN token=[REDACTED:secret] expired"),
    ]
    assert records[1]["attributes"]["password"] == "[REDACTED:secret]"
    assert records[1]["redactions"] == 2 and records[0]["redactions"] == 0
    assert "hunter2" not in json.dumps(list(store.records.values()))


def test_redelivery_stores_one_copy() -> None:
    store = MemoryStore()
    deps = WorkerDeps(store=store)
    worker.handle(load_event("sqs_batch.json"), deps)
    first = dict(store.records)
    event = load_event("sqs_batch.json")
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "2"
    assert worker.handle(event, deps) == {"batchItemFailures": []}
    assert store.records == first and len(store.records) == 3


def test_poison_message_fails_alone() -> None:
    store = MemoryStore()
    result = worker.handle(load_event("sqs_batch_poison.json"), WorkerDeps(store=store))
    assert result == {"batchItemFailures": [{"itemIdentifier": "4a1c9f7e-1d2b-4c3a-9e8f-7a6b5c4d3e2f"}]}
    assert len(store.records) == 2  # the good message of the same batch is stored


def test_envelope_tenant_mismatch_is_refused() -> None:
    event = load_event("sqs_batch.json")
    body = json.loads(event["Records"][0]["body"])
    body["records"][0]["tenant_id"] = "beta"  # a record smuggled into acme's message
    event["Records"][0]["body"] = json.dumps(body)
    store = MemoryStore()
    failures = worker.process(event, WorkerDeps(store=store))
    assert list(failures) == [event["Records"][0]["messageId"]]
    assert {t for t, _ in store.records} == {"beta"}  # only the other (beta) message was stored


def test_store_error_reports_the_message() -> None:
    store = MemoryStore()
    store.fail_with = OSError("disk gone")
    failures = worker.process(load_event("sqs_batch.json"), WorkerDeps(store=store))
    assert len(failures) == 2 and all("disk gone" in reason for reason in failures.values())


def test_time_guard_leaves_messages_for_later() -> None:
    store = MemoryStore()
    result = worker.handle(load_event("sqs_batch.json"), WorkerDeps(store=store), Clock(1_000))
    assert len(result["batchItemFailures"]) == 2 and store.records == {}


def test_simulated_work_per_char() -> None:
    slept: list[float] = []
    deps = WorkerDeps(store=MemoryStore(), work_per_char_s=0.01, sleep=slept.append)
    worker.handle(load_event("sqs_batch.json"), deps, Clock(600_000))
    acme_chars = len("hello") + len("login by bob@example.com")
    beta_chars = len("2025-11-26T03:44:50Z WARN token=abc123 expired")
    assert slept == [0.01 * acme_chars, 0.01 * beta_chars]
    # Work that cannot finish before the deadline is not started.
    slow = WorkerDeps(store=MemoryStore(), work_per_char_s=10.0, sleep=slept.append)
    assert len(worker.handle(load_event("sqs_batch.json"), slow, Clock(60_000))["batchItemFailures"]) == 2


def test_extra_redaction_patterns() -> None:
    store = MemoryStore()
    deps = WorkerDeps(store=store, redactor=Redactor([r"hel+o"]))
    worker.handle(load_event("sqs_batch.json"), deps)
    assert any(r["message"] == "[REDACTED:custom]" for r in store.records.values())


class DocsStore(MemoryStore):
    """Also keeps the JSON texts the worker offers to store records as."""

    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[str, str | None] = {}

    def put_records(self, records: Any, docs: Any = None) -> None:
        super().put_records(records, docs)
        for i, r in enumerate(records):
            self.docs[r["log_id"]] = None if docs is None else docs[i]


def test_records_without_secrets_are_handed_over_with_the_json_they_arrived_in() -> None:
    store = DocsStore()
    event = load_event("sqs_batch.json")
    assert worker.handle(event, WorkerDeps(store=store)) == {"batchItemFailures": []}
    for r in store.records.values():
        doc = store.docs[r["log_id"]]
        if r["redactions"]:
            assert doc is None  # changed by redaction: the store encodes the redacted record
        elif doc is not None:
            assert json.loads(doc) == r and doc in event["Records"][0]["body"] + event["Records"][1]["body"]
    assert any(d is not None for d in store.docs.values())


def test_with_extra_patterns_every_record_goes_through_redaction() -> None:
    store = DocsStore()
    deps = WorkerDeps(store=store, redactor=Redactor(["hel+o"]))
    assert worker.handle(load_event("sqs_batch.json"), deps) == {"batchItemFailures": []}
    assert all(d is None for d in store.docs.values())
    assert any(r["message"] == "[REDACTED:custom]" for r in store.records.values())


def test_a_complete_record_of_another_tenant_fails_its_message() -> None:
    # Records as ingest writes them (every field, redactions and source too), packed as ingest packs them.
    record = {
        "tenant_id": "acme", "log_id": "01KAZ479SV65DH4C98VGTRN853", "timestamp": "2026-11-26T03:44:56.123Z",
        "received_at": "2026-11-26T03:44:56.123Z", "level": "info", "message": "m", "attributes": {},
        "source": "json", "redactions": 0,
    }  # fmt: skip
    smuggled = {**record, "tenant_id": "beta", "log_id": "01KAZ479SV65DH4C98VGTRN854"}
    [body] = pack("acme", [json.dumps(r).encode() for r in (record, smuggled)])
    store = MemoryStore()
    failures = worker.process({"Records": [{"messageId": "m1", "body": body}]}, WorkerDeps(store=store))
    assert failures == {"m1": "ValueError: record 1 belongs to another tenant than its envelope"}
    assert store.records == {}


def _long_records(n: int, chars: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "tenant_id": "acme",
                "log_id": f"01KAZ479SV65DH4C98VGTRN8{i:02d}",
                "timestamp": "2026-11-26T03:44:56.123Z",
                "received_at": "2026-11-26T03:44:56.123Z",
                "level": "info",
                "message": "x" * chars,
                "attributes": {},
                "source": "json",
                "redactions": 0,
            }
        ).encode()
        for i in range(n)
    ]


def test_what_does_not_fit_is_re_queued_with_the_work_done_and_the_message_acknowledged() -> None:
    store, queue, slept = MemoryStore(), MemoryQueue(), []
    deps = WorkerDeps(store=store, work_per_char_s=0.01, sleep=slept.append, requeue=queue)
    [body] = pack("acme", _long_records(3, 100))  # 1 s of work per record
    # 2.5 s of budget (5.5 s left, less the 3 s margin): two records, and half of the third.
    failures = worker.process({"Records": [{"messageId": "m1", "body": body}]}, deps, Clock(5_500))
    assert failures == {} and slept == [2.5] and len(store.records) == 2
    [rest] = queue.bodies
    rest_body, done = take_work_done(rest)
    assert done == 0.5 and [r["log_id"] for r in unpack(rest_body)[1]] == ["01KAZ479SV65DH4C98VGTRN802"]


def test_a_message_not_started_is_re_queued_as_it_came_with_its_work_done() -> None:
    store, queue = MemoryStore(), MemoryQueue()
    deps = WorkerDeps(store=store, work_per_char_s=0.01, sleep=lambda _s: None, requeue=queue)
    [body] = pack("acme", _long_records(2, 100))
    marked = with_work_done(body, 0.75)
    failures = worker.process({"Records": [{"messageId": "m1", "body": marked}]}, deps, Clock(2_000))
    assert failures == {} and store.records == {}
    assert [take_work_done(b) for b in queue.bodies] == [(body, 0.75)]


def test_a_failed_re_queue_fails_the_message() -> None:
    store, queue = MemoryStore(), MemoryQueue()
    queue.unavailable = True
    deps = WorkerDeps(store=store, work_per_char_s=0.01, sleep=lambda _s: None, requeue=queue)
    [body] = pack("acme", _long_records(3, 100))
    failures = worker.process({"Records": [{"messageId": "m1", "body": body}]}, deps, Clock(5_500))
    assert list(failures) == ["m1"] and "QueueUnavailable" in failures["m1"]
