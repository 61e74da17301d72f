"""The canary through crashes of the local stack: every record answered 202 is stored exactly once.

- kill -9 of a worker mid-batch: the supervisor starts a new one; the dead worker's leases expire and its
  messages are delivered again (seen in the log as ``delivered again``);
- kill -9 of the server with requests in flight: restarted on the same port, the SDK's retries (same
  ``Idempotency-Key``) carry the canary through; a response lost in the kill causes no second copy;
- SIGTERM: a graceful stop exits 0 promptly, in-flight requests are answered, nothing is half-done;
- a stalled worker (SIGSTOP) loses its lease to the other worker mid-batch: two workers race on the same
  message; on SIGCONT the stalled one finishes, its acknowledgement is refused as stale, one copy is kept;
- work longer than the visibility timeout: the lease heartbeat keeps it leased, nothing is redelivered.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import httpx
from faults_support import (
    CanaryThread,
    assert_clean,
    busy_worker,
    children,
    leased_messages,
    log_lines,
    port_of,
    stall_outside_a_write,
    wait_for,
)
from local_stack import LocalServer

# Seconds of simulated work per character of a message: a canary message of 4 records (~120 characters)
# takes ~0.25 s, a batch of 10 messages ~2.5 s — longer than the visibility timeouts used here, so a
# batch is always in flight, and only the lease heartbeat keeps it from being delivered twice.
SLOW_WORK = "0.002"


def test_kill_9_worker_mid_batch(server_factory: Callable[..., LocalServer]) -> None:
    started = time.monotonic()
    server = server_factory(
        workers=2, visibility_timeout=1.5, env={"LOGPIPE_SIMULATED_WORK_PER_CHAR": SLOW_WORK}
    )
    assert server.process is not None
    serve_pid = server.process.pid
    key = server.create_tenant("acme")
    assert wait_for(lambda: len(children(serve_pid)) == 2)
    workers = children(serve_pid)
    canary = CanaryThread(server, key, duration_s=6.0).start()

    # The canary sends more than the workers can do: wait until messages are leased, then kill a worker
    # caught in the middle of its batch.
    assert wait_for(lambda: len(leased_messages(server.data_dir)) >= 2, timeout=10)
    victim = busy_worker(serve_pid)
    assert victim in workers
    os.kill(victim, signal.SIGKILL)

    # The supervisor replaces it ...
    assert wait_for(lambda: victim not in children(serve_pid) and len(children(serve_pid)) == 2, timeout=10)
    report = canary.result()
    assert_clean(report)
    assert report.failed == 0 and report.stored_unacknowledged == 0, report.summary()
    # ... and what the dead worker held came back once its lease expired.
    assert log_lines(server, "delivered again"), server.log_text()
    assert not log_lines(server, "failed"), server.log_text()  # no message failed: only the lease expired
    assert server.health()["dlq_depth"] == 0
    assert time.monotonic() - started < 40


def test_kill_9_server_with_requests_in_flight(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=2, visibility_timeout=1.5)
    server.port = port_of(server.url)  # restart on the same port: the canary keeps its endpoint
    key = server.create_tenant("acme")
    uploads = SlowUploads(pause_s=0.1)
    canary = CanaryThread(server, key, duration_s=6.0, rate=80.0, max_in_flight=6, transport=uploads)
    canary.start()
    assert wait_for(lambda: _stored(server) >= 40, timeout=10)

    # Kill while a request is in flight: its body half sent, the server reading it.
    assert wait_for(lambda: uploads.mid_body > 0, timeout=5)
    assert server.process is not None
    os.kill(server.process.pid, signal.SIGKILL)  # the server alone; its workers die with it below
    server.process.wait(timeout=10)
    server.stop()  # reaps it and kill -9s whatever is left of its process group (the workers)
    time.sleep(0.5)  # down for a moment: requests are refused or cut off
    server.start()

    report = canary.result()
    assert_clean(report)
    # The kill cut requests in flight, and while it was down others were refused; all were retried
    # (same Idempotency-Key) once it was back.
    assert report.lost_responses > 0 and report.connect_errors > 0, report.summary()
    assert report.failed == 0, report.summary()  # the retries outlasted the restart
    assert server.health()["dlq_depth"] == 0


def test_sigterm_graceful_stop_during_canary(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=2, visibility_timeout=1.5)
    server.port = port_of(server.url)
    key = server.create_tenant("acme")
    uploads = SlowUploads(pause_s=0.1)
    canary = CanaryThread(server, key, duration_s=5.0, transport=uploads).start()
    assert wait_for(lambda: _stored(server) >= 40, timeout=10)

    assert wait_for(lambda: uploads.mid_body > 0, timeout=5)  # stop with a request half received
    t0 = time.monotonic()
    assert server.stop(signal.SIGTERM) == 0  # exits 0 ...
    assert time.monotonic() - t0 < 10  # ... promptly
    server.start()

    report = canary.result()
    assert_clean(report)
    # Graceful: every request the server took was answered, so nothing is stored without its 202.
    assert report.stored_unacknowledged == 0, report.summary()
    assert report.failed == 0, report.summary()


def test_two_workers_race_on_an_expired_lease(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(
        workers=2, visibility_timeout=1.0, env={"LOGPIPE_SIMULATED_WORK_PER_CHAR": SLOW_WORK}
    )
    assert server.process is not None
    serve_pid = server.process.pid
    key = server.create_tenant("acme")
    assert wait_for(lambda: len(children(serve_pid)) == 2)
    canary = CanaryThread(server, key, duration_s=6.0).start()
    assert wait_for(lambda: len(leased_messages(server.data_dir)) >= 2, timeout=10)

    victim = busy_worker(serve_pid)
    stall_outside_a_write(victim, server.data_dir)  # stalled mid-batch: its lease heartbeat stops too
    try:
        # The other worker takes over the expired leases (receive 2) ...
        assert wait_for(lambda: bool(log_lines(server, "delivered again")), timeout=10), server.log_text()
        time.sleep(1.0)
    finally:
        os.kill(victim, signal.SIGCONT)
    # ... the stalled one wakes, stores its batch again (an upsert) and is refused the acknowledgement.
    assert wait_for(lambda: bool(log_lines(server, "was lost before it was acknowledged")), timeout=15), (
        server.log_text()
    )
    report = canary.result()
    assert_clean(report)
    assert report.failed == 0, report.summary()
    assert victim in children(serve_pid)  # it was never restarted: the race was between two live workers
    assert server.health()["dlq_depth"] == 0


def test_work_longer_than_the_visibility_timeout_is_not_redelivered(
    server_factory: Callable[..., LocalServer],
) -> None:
    # One message of 20 records (~550 characters) takes ~1.6 s of work, the lease is 1 s: without the
    # heartbeat every message would be delivered again.
    server = server_factory(
        workers=1, visibility_timeout=1.0, env={"LOGPIPE_SIMULATED_WORK_PER_CHAR": "0.003"}
    )
    key = server.create_tenant("acme")
    report = CanaryThread(server, key, duration_s=4.0, rate=20.0, batch=20).start().result()
    assert_clean(report)
    assert report.stored_unacknowledged == 0 and report.failed == 0, report.summary()
    assert report.latency_max_ms > 1000, report.summary()  # the work really outlasted the lease
    assert log_lines(server, "delivered again") == [], server.log_text()
    assert log_lines(server, "was lost") == [], server.log_text()


class _Halves(httpx.SyncByteStream):
    def __init__(self, data: bytes, pause_s: float, owner: SlowUploads) -> None:
        self._data, self._pause_s, self._owner = data, pause_s, owner

    def __iter__(self) -> Iterator[bytes]:
        half = len(self._data) // 2
        yield self._data[:half]
        with self._owner.lock:
            self._owner.mid_body += 1
        try:
            time.sleep(self._pause_s)
        finally:
            with self._owner.lock:
                self._owner.mid_body -= 1
        yield self._data[half:]


class SlowUploads(httpx.BaseTransport):
    """Sends each request body in two halves with a pause between: requests are really in flight (the
    server has started reading them) for ``pause_s``, so a kill or a stop finds some half-received."""

    def __init__(self, pause_s: float) -> None:
        self._inner = httpx.HTTPTransport()
        self.pause_s = pause_s
        self.lock = threading.Lock()
        self.mid_body = 0  # requests whose body is half sent right now

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.stream = _Halves(request.read(), self.pause_s, self)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def _stored(server: LocalServer) -> int:
    import sqlite3

    conn = sqlite3.connect(f"file:{server.data_dir / 'logs.db'}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        conn.close()
