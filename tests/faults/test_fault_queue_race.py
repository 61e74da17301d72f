"""The SQLite queue and store under races: lease expiry, stale receipts, SQLITE_BUSY, double delivery.

- Two worker *processes* receiving at the same instant a lease expires: each message goes to exactly one
  of them; the previous holder's receipt no longer deletes it (nor extends it), and it is not lost.
- A writer holding queue.db's lock for a while: the queue waits and retries (busy timeout, then its own
  backoff) instead of failing the request; held for too long, it fails cleanly (503), writing nothing.
- The same SQS message delivered twice, one after the other and concurrently: one copy in the store.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from logpipe_backend.adapters.sqlite import _sqlite as sqlite_module
from logpipe_backend.adapters.sqlite.queue import SqliteQueue
from logpipe_backend.adapters.sqlite.store import SqliteStore
from logpipe_backend.core.envelope import pack
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.ingest import prepare
from logpipe_backend.core.limits import Limits
from logpipe_backend.handlers.worker import process
from logpipe_backend.ports import QueueUnavailable, WorkerDeps
from logpipe_backend.runtime.worker_loop import build_sqs_event

MESSAGES = 20

# A worker process of the race: wait for the start time, then receive one message at a time until none
# is visible, printing what it got as JSON lines.
RACER = """
import json, sys, time
from pathlib import Path
from logpipe_backend.adapters.sqlite.queue import SqliteQueue
q = SqliteQueue(Path(sys.argv[1]))
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
for _ in range(1000):
    got = q.receive(1, 30)
    if not got:
        break
    m = got[0]
    print(json.dumps({"id": m.message_id, "count": m.receive_count, "receipt": m.receipt_handle}), flush=True)
"""


def test_two_processes_race_on_expired_leases(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    queue = SqliteQueue(path)
    queue.send([f"m{i}" for i in range(MESSAGES)])
    stale = queue.receive(MESSAGES, 0.5)  # a first holder, which then stalls past its lease
    assert len(stale) == MESSAGES
    start = time.time() + 1.5  # both racers start together, after the leases have expired
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(path), str(start)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [r.communicate(timeout=30)[0] for r in racers]
    assert all(r.returncode == 0 for r in racers)
    got = [[json.loads(line) for line in out.splitlines()] for out in outputs]
    ids = [{g["id"] for g in mine} for mine in got]
    assert ids[0].isdisjoint(ids[1])  # never both
    assert ids[0] | ids[1] == {m.message_id for m in stale}  # and every one to someone
    assert all(g["count"] == 2 for mine in got for g in mine)

    # The stalled first holder wakes up: its receipts acknowledge nothing and extend nothing ...
    for m in stale:
        assert not queue.delete(m.receipt_handle)
        assert not queue.change_visibility(m.receipt_handle, 0)
    assert queue.approximate_depth() == MESSAGES  # ... and nothing was lost by trying
    for g in (g for mine in got for g in mine):
        assert queue.delete(g["receipt"])  # the current holders can
    assert queue.depths() == (0, 0)


def test_threads_race_on_one_expired_lease_many_times(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    queues = [SqliteQueue(path) for _ in range(3)]
    for _ in range(15):
        queues[0].send(["x"])
        first = queues[0].receive(1, 0.05)[0]
        time.sleep(0.06)
        barrier = threading.Barrier(2)
        results: list[list[str]] = [[], []]

        def race(i: int, barrier: threading.Barrier, results: list[list[str]]) -> None:
            barrier.wait()
            results[i] = [m.receipt_handle for m in queues[i + 1].receive(1, 30)]

        threads = [threading.Thread(target=race, args=(i, barrier, results)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        winners = [r for r in results if r]
        assert len(winners) == 1, results  # exactly one gets it
        assert not queues[0].delete(first.receipt_handle)  # the stale receipt is ignored
        assert queues[0].approximate_depth() == 1  # and the message is still there
        assert queues[0].delete(winners[0][0])
    assert queues[0].depths() == (0, 0)


def test_busy_database_is_waited_for_and_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite's own busy wait cut to 50 ms, so that what carries the send through is our retry loop.
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_S", 0.05)
    queue = SqliteQueue(tmp_path / "queue.db")
    blocker = sqlite3.connect(tmp_path / "queue.db", timeout=0, isolation_level=None, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the write lock ...
    release = threading.Timer(0.4, lambda: blocker.execute("ROLLBACK"))
    release.start()  # ... for 0.4 s: longer than the busy timeout, shorter than the retries
    t0 = time.monotonic()
    try:
        queue.send(["waited"])
    finally:
        release.join()
        blocker.close()
    assert time.monotonic() - t0 >= 0.35
    assert queue.approximate_depth() == 1


def test_busy_for_too_long_fails_cleanly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_S", 0.02)
    monkeypatch.setattr(sqlite_module, "BUSY_BACKOFF_S", 0.01)
    queue = SqliteQueue(tmp_path / "queue.db")
    blocker = sqlite3.connect(tmp_path / "queue.db", timeout=0, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(QueueUnavailable):  # ingest answers 503: the client retries later
            queue.send(["a", "b"])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert queue.approximate_depth() == 0  # all or nothing


def _message(tmp_path: Path) -> tuple[dict[str, object], list[str]]:
    ids = new_log_ids(50, 1_764_000_000_000)
    records = prepare(
        [{"message": f"r{i}"} for i in range(50)],
        tenant_id="acme",
        received_ms=1_764_000_000_000,
        log_ids=ids,
        limits=Limits(),
    )
    [body] = pack("acme", records)
    queue = SqliteQueue(tmp_path / "queue.db")
    queue.send([body])
    [m] = queue.receive(1, 30)
    return build_sqs_event([m]), ids


def test_same_message_delivered_twice_stores_one_copy(tmp_path: Path) -> None:
    event, _ = _message(tmp_path)
    store = SqliteStore(tmp_path / "logs.db")
    assert process(event, WorkerDeps(store=store)) == {}
    assert process(event, WorkerDeps(store=store)) == {}  # delivered again (a lease expired)
    assert store.count("acme") == 50


def test_same_message_delivered_twice_concurrently_stores_one_copy(tmp_path: Path) -> None:
    event, ids = _message(tmp_path)
    # Two workers (own connections), each given the same message, storing it at the same moment.
    stores = [SqliteStore(tmp_path / "logs.db") for _ in range(2)]
    barrier = threading.Barrier(2)
    failures: list[dict[str, str]] = []

    def worker(store: SqliteStore) -> None:
        barrier.wait()
        failures.append(process(event, WorkerDeps(store=store, sleep=lambda _s: None)))

    threads = [threading.Thread(target=worker, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert failures == [{}, {}]
    assert stores[0].count("acme") == 50
    conn = sqlite3.connect(tmp_path / "logs.db")
    rows = conn.execute("SELECT log_id FROM records ORDER BY log_id").fetchall()
    conn.close()
    assert [r[0] for r in rows] == sorted(ids)
