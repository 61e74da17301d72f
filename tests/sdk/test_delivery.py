"""The delivery engine (logpipe._delivery) on its own, and seen through its three front-ends:
``Client.send_lines``, ``AsyncClient.send_lines`` and ``LogpipeHandler`` must retry, split refused batches
and count alike."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from logpipe import AsyncClient, BatchLimits, Client, LogpipeHandler, RetryPolicy, SendStats
from logpipe._batcher import Batch
from logpipe._delivery import Delivery, Post, Shipper, Sleep, is_refusal
from logpipe._exceptions import (
    AuthenticationError,
    BadRequestError,
    PayloadTooLargeError,
    PermissionDeniedError,
    ServerError,
)

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002)
LIMITS = BatchLimits(max_records=50, max_age=60.0)  # batches close on count only: the same for all three
BAD = {17, 60, 61}


def _error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"error": {"code": code, "message": code}})


class Server:
    """A stand-in for POST /ingest: refuses (400) a body holding a BAD record, throttles the first
    request once (429), and remembers the record count and Idempotency-Key of every request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[int, str]] = []  # (records, key) of each request
        self.stored: list[bytes] = []
        self.throttle = 1

    def __call__(self, request: httpx.Request) -> httpx.Response:
        records = [x for x in gzip.decompress(request.content).split(b"\n") if x.strip()]
        with self.lock:
            self.requests.append((len(records), request.headers["idempotency-key"]))
            if self.throttle:
                self.throttle -= 1
                return _error(429, "rate_limited", {"retry-after": "0"})
            if any(b"BAD" in r for r in records):
                return _error(400, "invalid_record")
            self.stored += records
        return httpx.Response(202, json={"accepted": len(records), "log_ids": ["x"] * len(records)})

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        return self(request)


def _messages() -> list[str]:
    return [("BAD " if i in BAD else "ok ") + str(i) for i in range(150)]


def _counts(stats: SendStats) -> dict[str, int]:
    return {k: getattr(stats, k) for k in ("requests", "retries", "accepted", "rejected", "failed")}


def _via_client(server: Server) -> dict[str, int]:
    client = Client(
        "http://t", "k", retry=FAST_RETRY, batch_limits=LIMITS, transport=httpx.MockTransport(server)
    )
    stats = SendStats()
    lines = [json.dumps({"message": m}) for m in _messages()]
    result = client.send_lines(lines, max_in_flight=1, stats=stats)
    assert (result.accepted, result.rejected, result.failed, result.fatal) == (147, 3, 0, None)
    return _counts(stats)


def _via_async_client(server: Server) -> dict[str, int]:
    async def main() -> dict[str, int]:
        transport = httpx.MockTransport(server.handle_async)
        async with AsyncClient(
            "http://t", "k", retry=FAST_RETRY, batch_limits=LIMITS, transport=transport
        ) as client:
            stats = SendStats()
            lines = [json.dumps({"message": m}) for m in _messages()]
            result = await client.send_lines(lines, max_in_flight=1, stats=stats)
        assert (result.accepted, result.rejected, result.failed, result.fatal) == (147, 3, 0, None)
        return _counts(stats)

    return asyncio.run(main())


def _log_through(client: Client) -> LogpipeHandler:
    """A LogpipeHandler on a logger of its own, fed _messages() and flushed; then taken off and closed."""
    handler = LogpipeHandler(client, batch_limits=LIMITS, retry=FAST_RETRY, report_loss=False)
    log = logging.getLogger(f"delivery.{id(handler)}")
    log.propagate = False
    log.addHandler(handler)
    try:
        for message in _messages():
            log.warning(message)
        assert handler.flush(10)
    finally:
        log.removeHandler(handler)
        handler.close()
    return handler


def _via_handler(server: Server) -> dict[str, int]:
    handler = _log_through(Client("http://t", "k", transport=httpx.MockTransport(server)))
    stats = handler.stats
    assert (stats.sent, stats.rejected, stats.lost, stats.dropped) == (147, 3, 0, 0)
    return _counts(handler._delivery.stats)


FRONT_ENDS: dict[str, Callable[[Server], dict[str, int]]] = {
    "Client.send_lines": _via_client,
    "AsyncClient.send_lines": _via_async_client,
    "LogpipeHandler": _via_handler,
}


def test_one_refusal_policy_and_one_set_of_stats_through_all_three_front_ends() -> None:
    seen: dict[str, tuple[dict[str, int], list[int]]] = {}
    for name, send in FRONT_ENDS.items():
        server = Server()
        counts = send(server)
        assert len(server.stored) == 147 and not any(b"BAD" in r for r in server.stored), name
        seen[name] = (counts, sorted(n for n, _ in server.requests))
    # Bisection: 3 batches of 50, one with BAD 17, one with BAD 60 and 61 (neighbours), one clean: each
    # halving costs two requests, so a few dozen requests in all, never one per record.
    first = next(iter(seen.values()))
    assert all(got == first for got in seen.values()), seen
    counts, sizes = first
    assert counts["retries"] == 1 and counts["rejected"] == 3 and counts["accepted"] == 147
    assert counts["requests"] == len(sizes) - counts["retries"] < 40
    assert sizes.count(1) >= 3


def test_retries_keep_the_key_and_split_halves_get_new_ones() -> None:
    server = Server()
    _via_client(server)
    keys = [key for _, key in server.requests]
    assert keys[0] == keys[1]  # the throttled request and its retry: one key, one copy stored
    assert len(set(keys)) == len(keys) - 1  # every split half under a key of its own


@pytest.mark.parametrize("limit", [1, 3])
def test_in_flight_limit_is_respected_sync_and_async(limit: int) -> None:
    lock = threading.Lock()
    now = [0]
    peak = [0]

    def enter() -> None:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])

    def leave(request: httpx.Request) -> httpx.Response:
        n = gzip.decompress(request.content).count(b"\n") + 1
        with lock:
            now[0] -= 1
        return httpx.Response(202, json={"accepted": n, "log_ids": ["x"] * n})

    def slow(request: httpx.Request) -> httpx.Response:
        enter()
        time.sleep(0.02)
        return leave(request)

    async def aslow(request: httpx.Request) -> httpx.Response:
        enter()
        await asyncio.sleep(0.02)
        return leave(request)

    lines = [f"line {i}" for i in range(400)]
    limits = BatchLimits(max_records=20)
    client = Client("http://t", "k", batch_limits=limits, transport=httpx.MockTransport(slow))
    assert client.send_lines(lines, max_in_flight=limit).accepted == 400
    assert peak[0] == limit

    peak[0] = 0

    async def main() -> int:
        async with AsyncClient(
            "http://t", "k", batch_limits=limits, transport=httpx.MockTransport(aslow)
        ) as c:
            return (await c.send_lines(lines, max_in_flight=limit)).accepted

    assert asyncio.run(main()) == 400
    assert peak[0] == limit


def test_fatal_error_halts_send_lines_but_the_handler_goes_on() -> None:
    answers = iter([_error(401, "unauthorized")])

    def first_refused(request: httpx.Request) -> httpx.Response:
        answer = next(answers, None)
        if answer is not None:
            return answer
        n = gzip.decompress(request.content).count(b"\n") + 1
        return httpx.Response(202, json={"accepted": n, "log_ids": ["x"] * n})

    client = Client("http://t", "k", batch_limits=LIMITS, transport=httpx.MockTransport(first_refused))
    result = client.send_lines([json.dumps({"message": m}) for m in _messages()], max_in_flight=1)
    assert isinstance(result.fatal, AuthenticationError) and result.accepted == 0 and result.failed == 150

    answers = iter([_error(401, "unauthorized")])
    handler = _log_through(client)
    assert (handler.stats.sent, handler.stats.lost) == (100, 50)


# -- the sans-IO core, driven by hand ---------------------------------------------------------------


def _drive(delivery: Delivery, batch: Batch, replies: list[Any]) -> list[Any]:
    """Answer ``delivery.deliver(batch)``'s steps with ``replies`` in turn; the steps it asked for."""
    steps: list[Any] = []
    gen = delivery.deliver(batch)
    try:
        step = next(gen)
        while True:
            steps.append(step)
            step = gen.send(replies.pop(0) if isinstance(step, Post) else False)
    except StopIteration:
        return steps


def _batch(n: int) -> Batch:
    return Batch.of("json", [b'{"n":%d}' % i for i in range(n)])


def test_core_retries_then_splits_a_too_large_batch_down_to_the_record() -> None:
    delivery = Delivery(FAST_RETRY, halt_on_fatal=True)
    too_large = PayloadTooLargeError("big", status=413, code="payload_too_large")
    steps = _drive(
        delivery,
        _batch(2),
        [ServerError("down", status=503, code="queue_unavailable"), too_large, ["a"], too_large],
    )
    kinds = [type(s).__name__ for s in steps]
    assert kinds == ["Post", "Sleep", "Post", "Post", "Post"]
    assert [s.batch.count for s in steps if isinstance(s, Post)] == [2, 2, 1, 1]
    assert steps[0].batch.idempotency_key == steps[2].batch.idempotency_key != steps[3].batch.idempotency_key
    assert isinstance(steps[1], Sleep)
    assert _counts(delivery.stats) == {"requests": 3, "retries": 1, "accepted": 1, "rejected": 1, "failed": 0}
    assert not delivery.halt.is_set()


def test_core_fatal_counts_the_rest_and_halts_only_when_told() -> None:
    for halt_on_fatal in (True, False):
        lost: list[tuple[int, str]] = []
        delivery = Delivery(
            FAST_RETRY, halt_on_fatal=halt_on_fatal, on_lost=lambda n, r, x=lost: x.append((n, r))
        )
        refused = BadRequestError("bad", status=400, code="invalid_record")
        steps = _drive(
            delivery, _batch(4), [refused, AuthenticationError("no", status=401, code="unauthorized")]
        )
        assert [s.batch.count for s in steps] == [4, 2]
        assert (delivery.stats.failed, lost) == (4, [(4, "401 unauthorized: no")])
        assert delivery.halt.is_set() is halt_on_fatal
        assert len(delivery.fatal) == int(halt_on_fatal)
        after = _drive(delivery, _batch(3), [["a", "b", "c"]])
        if halt_on_fatal:  # halted: no request, counted failed
            assert after == [] and delivery.stats.failed == 7
        else:  # the next batch is tried
            assert len(after) == 1 and delivery.stats.accepted == 3


@pytest.mark.parametrize(
    ("error", "refusal"),
    [
        (BadRequestError("", status=400, code="invalid_json"), True),
        (PayloadTooLargeError("", status=413, code="payload_too_large"), True),
        (PermissionDeniedError("", status=403, code="tenant_mismatch"), True),
        (PermissionDeniedError("", status=403, code="insufficient_scope"), False),
        (BadRequestError("", status=405, code="method_not_allowed"), False),
        (AuthenticationError("", status=401, code="unauthorized"), False),
    ],
)
def test_what_counts_as_a_refusal(error: Any, refusal: bool) -> None:
    assert is_refusal(error) is refusal


def test_shipper_join_and_close() -> None:
    delivered: list[int] = []
    gate = threading.Event()

    def post(batch: Batch) -> list[str]:
        gate.wait(5)
        delivered.append(batch.count)
        return ["x"] * batch.count

    shipper = Shipper(Delivery(FAST_RETRY, halt_on_fatal=True), post, max_in_flight=2)
    for n in (1, 2, 3):
        assert shipper.submit(_batch(n))
    assert not shipper.join(timeout=0.05)  # the server hangs: not in time
    gate.set()
    assert shipper.join(timeout=5) and sorted(delivered) == [1, 2, 3]
    assert shipper.delivery.stats.accepted == 6
    shipper.close()
    shipper.close()  # idempotent
    shipper.delivery.halt.set()
    assert not shipper.submit(_batch(4))  # halted: counted failed, not sent
    assert shipper.delivery.stats.failed == 4
