"""No record answered 202 is lost or doubled: kill -9 mid-flight, and a graceful SIGTERM/SIGINT stop.

Clients send NDJSON batches whose records carry unique client ids (``log_id`` in the body, kept as
``client_log_id``), from several threads, while the stack is killed. After a restart on the same data dir
and a drained queue, the SQLite store is read directly:

- every record of every request answered 202 is stored, exactly once;
- nothing is stored that was not sent (records of requests whose answer was lost in the kill may be there:
  the client could not know, which is why ``Idempotency-Key`` exists).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from local_stack import LocalServer

RECORDS_PER_REQUEST = 5
CLIENT_THREADS = 6


class Traffic:
    """Client threads sending until stopped; they remember what was answered 202."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self.accepted: dict[str, str] = {}  # client id -> log_id the server gave it
        self.sent: set[str] = set()
        self.errors = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(CLIENT_THREADS)
        ]

    def start(self) -> Traffic:
        for t in self.threads:
            t.start()
        return self

    def _run(self, worker: int) -> None:
        with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {self.key}"}) as client:
            for n in range(100_000):
                if self.stop.is_set():
                    return
                ids = [f"w{worker}-r{n}-{j}" for j in range(RECORDS_PER_REQUEST)]
                body = "\n".join(
                    json.dumps({"log_id": cid, "message": f"msg {cid} " + "x" * 20}) for cid in ids
                )
                with self.lock:
                    self.sent.update(ids)
                try:
                    r = client.post(
                        f"{self.url}/ingest", content=body, headers={"Content-Type": "application/x-ndjson"}
                    )
                except httpx.HTTPError:
                    with self.lock:
                        self.errors += 1
                    time.sleep(0.05)
                    continue
                if r.status_code == 202:
                    with self.lock:
                        self.accepted.update(zip(ids, r.json()["log_ids"], strict=True))

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=15)
            assert not t.is_alive()


def stored_records(data_dir: Path) -> list[dict[str, str]]:
    conn = sqlite3.connect(data_dir / "logs.db")
    try:
        rows = conn.execute("SELECT tenant_id, log_id, doc FROM records").fetchall()
    finally:
        conn.close()
    out = []
    for tenant, log_id, doc in rows:
        record = json.loads(doc)
        assert record["tenant_id"] == tenant and record["log_id"] == log_id
        out.append(record)
    return out


def assert_exactly_once(traffic: Traffic, data_dir: Path) -> None:
    records = stored_records(data_dir)
    by_client = Counter(r["client_log_id"] for r in records)
    doubled = [cid for cid, n in by_client.items() if n > 1]
    assert doubled == [], f"stored more than once: {doubled[:10]}"
    missing = [cid for cid in traffic.accepted if cid not in by_client]
    assert missing == [], f"answered 202 but not stored: {len(missing)} e.g. {missing[:5]}"
    log_ids = {r["client_log_id"]: r["log_id"] for r in records}
    assert all(log_ids[cid] == lid for cid, lid in traffic.accepted.items())  # the ids the client was given
    unexpected = set(by_client) - traffic.sent
    assert unexpected == set()
    assert {r["tenant_id"] for r in records} <= {"acme"}


def test_kill_9_mid_flight_then_restart(server_factory: Callable[..., LocalServer]) -> None:
    started = time.monotonic()
    # Slow workers (simulated work) so that messages are leased, half-done, when the kill comes.
    server = server_factory(
        workers=2, visibility_timeout=2.0, env={"LOGPIPE_SIMULATED_WORK_PER_CHAR": "0.0002"}
    )
    key = server.create_tenant("acme")
    traffic = Traffic(server.url, key).start()
    deadline = time.monotonic() + 10
    while len(traffic.accepted) < 300 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()  # SIGKILL to the process group: server and workers, with requests in flight
    time.sleep(0.3)
    traffic.finish()
    assert len(traffic.accepted) >= 300 // 2, "too little traffic got through before the kill"

    server.restart()  # same data dir; leased messages come back when their lease expires
    # The kill left work behind (queued and leased messages), so recovery is what is being tested.
    assert server.health()["queue_depth"] > 0
    server.wait_drained(timeout=20)
    assert server.health()["dlq_depth"] == 0
    assert_exactly_once(traffic, server.data_dir)
    assert time.monotonic() - started < 30


def test_graceful_stop_with_requests_in_flight(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=2, visibility_timeout=2.0)
    key = server.create_tenant("acme")
    data_dir = server.data_dir
    traffic = Traffic(server.url, key).start()
    deadline = time.monotonic() + 10
    while len(traffic.accepted) < 200 and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0  # exits 0 ...
    assert time.monotonic() - t0 < 10  # ... promptly
    traffic.finish()
    assert traffic.errors > 0  # it did stop taking requests
    accepted_before_restart = dict(traffic.accepted)

    server.restart()
    server.wait_drained(timeout=20)
    assert traffic.accepted == accepted_before_restart
    assert_exactly_once(traffic, data_dir)


def test_sigint_stops_cleanly(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("acme")
    r = httpx.post(
        f"{server.url}/ingest",
        content="hello",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/plain"},
    )
    assert r.status_code == 202
    assert server.stop(signal.SIGINT) == 0
    server.restart()
    server.wait_drained()
    assert [x["message"] for x in server.admin_query(tenant="acme")] == ["hello"]
