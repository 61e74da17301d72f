"""The local worker loop: SQS-shaped events, delete on success, backoff and DLQ on failure."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from logpipe_backend.adapters.sqlite.queue import SqliteQueue
from logpipe_backend.adapters.sqlite.store import SqliteStore
from logpipe_backend.core.envelope import pack
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.ingest import prepare
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.query import LogQuery
from logpipe_backend.ports import WorkerDeps
from logpipe_backend.runtime.worker_loop import WorkerLoop, build_sqs_event

NOW = 1_764_128_700_000


def envelope(tenant: str, *messages: str) -> list[str]:
    ids = new_log_ids(len(messages), NOW)
    raws: list[dict[str, object] | str] = [{"message": m} for m in messages]
    return pack(tenant, prepare(raws, tenant_id=tenant, received_ms=NOW, log_ids=ids, limits=Limits()))


def test_sqs_event_shape(tmp_path: Path) -> None:
    q = SqliteQueue(tmp_path / "queue.db")
    q.send(["body-1"])
    [m] = q.receive(1, 30)
    [record] = build_sqs_event([m])["Records"]
    assert record["messageId"] == m.message_id and record["receiptHandle"] == m.receipt_handle
    assert record["body"] == "body-1" and record["eventSource"] == "aws:sqs"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert "md5OfBody" not in record  # SQS's transit check: left out on purpose (see build_sqs_event)


def test_success_deletes_failure_backs_off_then_dlq(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "queue.db", max_receives=2)
    store = SqliteStore(tmp_path / "logs.db")
    queue.send([*envelope("acme", "one", "user a@b.co"), "poison"])
    loop = WorkerLoop(queue, WorkerDeps(store=store), visibility_timeout_s=0.1, poll_interval_s=0.01)
    assert loop.run_once() == 2
    page = store.query(LogQuery(tenant_id="acme", order="asc"))
    assert [r["message"] for r in page.items] == ["one", "user [REDACTED:email]"]
    assert queue.depths() == (1, 0)  # the poison message waits out its backoff
    deadline = time.monotonic() + 5
    while queue.depths() != (0, 1) and time.monotonic() < deadline:
        loop.run_once()
        time.sleep(0.02)
    assert queue.depths() == (0, 1)
    [dead] = queue.dead_letters()
    assert dead.body == "poison" and dead.receive_count == 2 and "ValueError" in (dead.last_error or "")


def test_one_acknowledgement_for_the_batch_and_a_lost_lease_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = SqliteQueue(tmp_path / "queue.db")
    store = SqliteStore(tmp_path / "logs.db")
    queue.send([*envelope("acme", "one"), *envelope("acme", "two"), "poison"])
    lost: list[str] = []

    class LosingQueue(SqliteQueue):
        """Plays a lease that expired while the handler worked: the first message's receipt went stale."""

        def delete_batch(self, receipt_handles: Sequence[str]) -> set[str]:
            lost.append(receipt_handles[0])
            return super().delete_batch(receipt_handles[1:])

    losing = LosingQueue(tmp_path / "queue.db")
    loop = WorkerLoop(losing, WorkerDeps(store=store), visibility_timeout_s=30)
    with caplog.at_level(logging.WARNING, logger="logpipe.worker_loop"):
        assert loop.run_once() == 3
    assert len(lost) == 1  # one call for both stored messages, none for the poison one
    assert "was lost before it was acknowledged" in caplog.text
    assert queue.depths() == (2, 0)  # the "lost" one and the poison one (backing off) are still there
    assert sorted(r["message"] for r in store.query(LogQuery(tenant_id="acme")).items) == ["one", "two"]


def test_run_stops_on_event(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "queue.db")
    loop = WorkerLoop(queue, WorkerDeps(store=SqliteStore(tmp_path / "logs.db")), poll_interval_s=0.01)
    stop = threading.Event()
    t = threading.Thread(target=loop.run, args=(stop,))
    t.start()
    queue.send(envelope("acme", "x"))
    deadline = time.monotonic() + 5
    while queue.approximate_depth() and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    t.join(timeout=5)
    assert not t.is_alive() and queue.approximate_depth() == 0


def test_slow_work_keeps_its_lease_and_is_done_once(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "queue.db")
    store = SqliteStore(tmp_path / "logs.db")
    queue.send(envelope("acme", "x" * 10))
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    # 0.8 s of simulated work against a 0.2 s visibility timeout: only the heartbeat keeps the lease.
    deps = WorkerDeps(store=store, work_per_char_s=0.08, sleep=sleep)
    loop = WorkerLoop(queue, deps, visibility_timeout_s=0.2, function_timeout_s=10)
    other = SqliteQueue(tmp_path / "queue.db")
    stolen: list[int] = []

    def rival() -> None:
        deadline = time.monotonic() + 0.7
        while time.monotonic() < deadline:
            stolen.extend(m.receive_count for m in other.receive(10, 0.2))
            time.sleep(0.05)

    got: list[int] = []
    worker = threading.Thread(target=lambda: got.append(loop.run_once()))
    worker.start()
    deadline = time.monotonic() + 5
    while not slept and time.monotonic() < deadline:  # the loop holds the message and works on it
        time.sleep(0.01)
    rival()
    worker.join(timeout=5)
    assert got == [1]
    assert stolen == [] and slept == [0.8]
    assert queue.depths() == (0, 0) and store.count("acme") == 1


def test_work_longer_than_the_function_timeout_is_not_started(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "queue.db")
    store = SqliteStore(tmp_path / "logs.db")
    queue.send(envelope("acme", "x" * 100))
    deps = WorkerDeps(store=store, work_per_char_s=1.0, sleep=lambda s: None)
    loop = WorkerLoop(queue, deps, visibility_timeout_s=5, function_timeout_s=60)
    assert loop.run_once() == 1
    [m] = queue.dead_letters() or [None]  # not dead yet: left for a later, longer-lived worker
    assert m is None and store.count() == 0 and queue.approximate_depth() == 1


def test_work_longer_than_many_invocations_is_stored_once_and_never_reaches_the_dlq(tmp_path: Path) -> None:
    """Issue 12 on the local stack: as on AWS, the loop's worker stores what fits in its function timeout
    and re-queues the rest (here to the same SQLite queue, as main() wires it), carrying the work done."""
    queue = SqliteQueue(tmp_path / "queue.db", max_receives=2)
    store = SqliteStore(tmp_path / "logs.db")
    messages = [f"line {i:04d}" for i in range(150)]
    messages[3] = "x" * 300  # 0.3 s of work alone: longer than a whole invocation's 0.2 s budget
    for start in range(0, 150, 50):
        queue.send(envelope("acme", *messages[start : start + 50]))
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # the simulated work, really waited for: the loop's clock is real
        slept.append(seconds)
        time.sleep(seconds)

    deps = WorkerDeps(store=store, work_per_char_s=0.001, sleep=sleep, requeue=queue)
    # A 0.25 s function timeout: the loop keeps a quarter as the margin for the writes.
    loop = WorkerLoop(queue, deps, visibility_timeout_s=5, function_timeout_s=0.25)
    rounds = 0
    while queue.approximate_depth() and rounds < 100:
        loop.run_once()
        rounds += 1
    assert queue.depths() == (0, 0)  # drained; nothing dead (2 failed receives would have sent it there)
    ids = [r["log_id"] for r in store.query(LogQuery(tenant_id="acme", limit=1_000)).items]
    assert len(ids) == 150 == len(set(ids))
    assert rounds > 5 and sum(slept) == pytest.approx(0.001 * sum(map(len, messages)))


class _RecordingStop(threading.Event):
    """A stop event that records each wait instead of sleeping, runs ``on_wait`` with the count of waits so
    far, and stops the loop after ``waits`` of them."""

    def __init__(self, waits: int, on_wait: Callable[[int], None] = lambda n: None) -> None:
        super().__init__()
        self.waited: list[float] = []
        self._waits = waits
        self._on_wait = on_wait

    def wait(self, timeout: float | None = None) -> bool:
        self.waited.append(float(timeout or 0))
        self._on_wait(len(self.waited))
        if len(self.waited) >= self._waits:
            self.set()
        return self.is_set()


def test_an_empty_queue_is_polled_soon_after_work_then_less_often(tmp_path: Path) -> None:
    queue = SqliteQueue(tmp_path / "queue.db")
    store = SqliteStore(tmp_path / "logs.db")
    loop = WorkerLoop(queue, WorkerDeps(store=store), poll_interval_s=0.2)

    def arrive(waits: int) -> None:
        if waits == 7:  # a message arrives while the loop waits at its longest
            queue.send(envelope("acme", "one"))

    stop = _RecordingStop(waits=10, on_wait=arrive)
    loop.run(stop)
    # Backing off while empty, up to poll_interval_s; after the message is handled, soon again.
    assert stop.waited == [0.01, 0.02, 0.04, 0.08, 0.16, 0.2, 0.2, 0.01, 0.02, 0.04]
    assert store.count("acme") == 1
