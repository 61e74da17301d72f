"""The per-tenant token bucket of ``core/ratelimit.py`` with a fake clock (the pure half; end to end in
``test_abuse.py``)."""

from __future__ import annotations

import threading

import pytest
from logpipe_backend.core.ratelimit import (
    DEFAULT_BURST,
    DEFAULT_RECORDS_PER_S,
    RateLimiter,
    rate_limited,
)
from logpipe_backend.settings import rate_limiter as rate_limiter_from_env


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 20, clock=clock)
    assert limiter.acquire("a", 20) is None  # the whole burst
    assert limiter.check("a") == 1  # empty: one token takes 0.1 s, Retry-After is whole seconds
    assert limiter.acquire("a", 1) == 1
    clock.now += 0.1
    assert limiter.check("a") is None
    assert limiter.acquire("a", 1) is None
    clock.now += 100
    assert limiter.acquire("a", 20) is None  # refilled to the burst, not beyond
    assert limiter.acquire("a", 1) is not None


def test_debt_admits_a_big_request_once_and_retry_after_covers_the_debt() -> None:
    clock = Clock()
    limiter = RateLimiter(100, 50, clock=clock)
    assert limiter.acquire("a", 10_000) is None  # bigger than the burst: admitted, bucket at -9,950
    assert limiter.check("a") == 100  # (1 + 9,950) / 100 per second, rounded up
    assert limiter.acquire("a", 1) == 100
    clock.now += 99
    assert limiter.check("a") == 1
    clock.now += 1
    assert limiter.check("a") is None


def test_tenants_are_independent() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 5, clock=clock)
    assert limiter.acquire("flood", 1000) is None
    assert limiter.check("flood") is not None
    for _ in range(5):
        assert limiter.acquire("quiet", 1) is None


def test_clock_stepping_back_does_not_drain_or_fill() -> None:
    clock = Clock()
    limiter = RateLimiter(10, 10, clock=clock)
    assert limiter.acquire("a", 10) is None
    clock.now -= 1000
    assert limiter.check("a") is not None
    clock.now += 0.2
    assert limiter.check("a") is None


def test_threads_never_overdraw_by_more_than_one_request() -> None:
    limiter = RateLimiter(0.001, 100, clock=lambda: 0.0)  # no refill during the test
    admitted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(200):
            if limiter.acquire("a", 1) is None:
                with lock:
                    admitted.append(1)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 100


def test_bucket_table_stays_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(1000, 10, clock=clock)
    for i in range(25_000):
        limiter.check(f"t{i}")  # full buckets: dropped when the table is large
    assert len(limiter._buckets) <= 10_001


def test_error_is_429_with_retry_after() -> None:
    err = rate_limited(3)
    assert (err.status, err.code, err.detail["retry_after"]) == (429, "rate_limited", 3)


def test_from_env() -> None:
    default = rate_limiter_from_env({})
    assert default is not None
    assert (default.rate, default.burst) == (DEFAULT_RECORDS_PER_S, DEFAULT_BURST)
    assert rate_limiter_from_env({"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "0"}) is None
    custom = rate_limiter_from_env({"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "5", "LOGPIPE_RATE_LIMIT_BURST": "7"})
    assert custom is not None and (custom.rate, custom.burst) == (5, 7)
    rate_only = rate_limiter_from_env({"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "10"})
    assert rate_only is not None and rate_only.burst == 40  # 4 seconds' worth, like the default
    for bad in ({"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "-1"}, {"LOGPIPE_RATE_LIMIT_BURST": "0"}):
        with pytest.raises(ValueError):
            rate_limiter_from_env(bad)
    with pytest.raises(ValueError):
        rate_limiter_from_env({"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "inf"})
