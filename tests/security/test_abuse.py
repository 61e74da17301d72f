"""Abuse on the local stack (issue #5): a per-tenant rate limit (429 ``rate_limited`` with ``Retry-After``)
under which one tenant's flood does not stop another's logs, a bound on concurrent connections (503), and
a bound on the queue's depth (429 ``queue_full``) — each refusing without queueing anything, the server
serving on afterwards.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
from sec_local import LocalServer, assert_error, assert_serving, ingest, queue_rows, start_module_server

RATE = 20  # records per second per tenant, for these tests only
BURST = 40


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    env = {"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": str(RATE), "LOGPIPE_RATE_LIMIT_BURST": str(BURST)}
    yield from start_module_server(tmp_path_factory, "ratelimit", env=env)


def _records(n: int, tag: str) -> bytes:
    return json.dumps([{"message": f"{tag} {i}"} for i in range(n)]).encode()


def test_rate_limit_answers_429_with_retry_after(limited: LocalServer) -> None:
    key = limited.create_tenant("hasty")
    assert ingest(limited, key, _records(BURST - 5, "burst")).status_code == 202
    assert ingest(limited, key, _records(60, "debt")).status_code == 202  # admitted: 5 tokens left
    before = queue_rows(limited)
    refused = ingest(limited, key, _records(1, "over"))
    error = assert_error(refused, 429, "rate_limited")
    retry_after = int(refused.headers["retry-after"])
    assert retry_after == error["retry_after"]
    # In debt by up to 55 records at 20 a second: the bucket is positive again within 3 s.
    assert 1 <= retry_after <= 3
    # Refused before the body is read: an invalid body gets the same 429, not a 400.
    assert_error(ingest(limited, key, b"{not json"), 429, "rate_limited")
    assert queue_rows(limited) == before
    time.sleep(retry_after + 0.1)
    assert ingest(limited, key, _records(1, "later")).status_code == 202


def test_one_tenants_flood_does_not_stop_anothers(limited: LocalServer) -> None:
    flood_key = limited.create_tenant("flood")
    quiet_key = limited.create_tenant("quiet")
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop = threading.Event()

    def flood() -> None:
        with httpx.Client(timeout=10) as client:
            for _ in range(400):
                if stop.is_set():
                    return
                r = client.post(
                    f"{limited.url}/ingest",
                    content=_records(5, "flood"),
                    headers={"Authorization": f"Bearer {flood_key}", "Content-Type": "application/json"},
                )
                with lock:
                    statuses[r.status_code] += 1

    threads = [threading.Thread(target=flood) for _ in range(6)]
    started = time.monotonic()
    for t in threads:
        t.start()
    try:
        quiet = []
        for i in range(10):  # one record a little more often than every 0.1 s: within its own rate
            quiet.append(ingest(limited, quiet_key, _records(1, f"quiet {i}")).status_code)
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    elapsed = time.monotonic() - started
    assert quiet == [202] * 10, quiet
    assert statuses[429] > 0 and statuses[202] > 0, statuses
    # The flood got its burst plus its rate over the test, and at most one request (5 records) more per
    # thread that passed the check as the bucket emptied.
    assert statuses[202] * 5 <= BURST + RATE * elapsed + 5 * 6, (statuses, elapsed)
    assert set(statuses) <= {202, 429}, statuses
    assert_serving(limited, quiet_key)


def _raw_get(url: str, path: str, timeout: float = 5.0) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def _eventually(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_concurrent_connections_are_bounded(server_factory: Callable[..., LocalServer]) -> None:
    from logpipe_backend.runtime.server import MAX_CONNECTIONS

    server = server_factory(workers=0)
    key = server.create_tenant("crowd")
    host, port = server.url.removeprefix("http://").split(":")
    held: list[socket.socket] = []
    try:
        for _ in range(MAX_CONNECTIONS):  # idle keep-alive connections, each holding a server thread
            held.append(socket.create_connection((host, int(port)), timeout=5))

        def refused() -> bool:
            return b" 503 " in _raw_get(server.url, "/healthz").split(b"\r\n", 1)[0] + b" "

        assert _eventually(refused, 10), "connection beyond the bound was served"
        answer = _raw_get(server.url, "/healthz")
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert b"retry-after: 1" in head.lower()
        assert json.loads(body)["error"]["code"] == "unavailable"
    finally:
        for sock in held:
            sock.close()
    # The held connections are gone: the server serves again, nothing was queued by the refused ones.
    assert _eventually(lambda: b"200 OK" in _raw_get(server.url, "/healthz"), 10)
    assert queue_rows(server) == 0
    assert_serving(server, key)


def test_queue_depth_is_bounded(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=0, env={"LOGPIPE_MAX_QUEUE_DEPTH": "3"})
    key = server.create_tenant("deep")
    other = server.create_tenant("other")
    for i in range(3):
        assert ingest(server, key, _records(1, f"fill {i}")).status_code == 202
    for who in (key, other):  # the queue is shared: its bound protects the workers, for everyone
        refused = ingest(server, who, _records(1, "overflow"))
        error = assert_error(refused, 429, "queue_full")
        assert int(refused.headers["retry-after"]) == error["retry_after"] >= 1
    assert queue_rows(server) == 3
    assert server.health()["queue_depth"] == 3
    # Workers drain the queue; then it accepts again.
    server.stop()
    server.workers = 2
    server.start()
    server.wait_drained()
    assert ingest(server, other, _records(1, "after drain")).status_code == 202
