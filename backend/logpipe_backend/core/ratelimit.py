"""Per-tenant rate limit: one token bucket per tenant, counting records (pure logic; the clock is injected).

Why records, not requests: a request may hold 1 or 10,000 records, so a request count bounds nothing that
matters — the queue, the workers and the store all work per record. One token is one record; a tenant's
bucket holds at most ``burst`` tokens and refills at ``rate`` tokens a second.

Why a bucket may go into debt: a request is admitted when its tenant's bucket holds at least one token, and
then takes as many tokens as it has records, possibly leaving the bucket below zero. So a request of 10,000
records is never refused for ever because ``burst`` is smaller than it, the overshoot is at most one
request's records, and — the point for abuse — a tenant in debt is refused *before* its body is parsed
(:meth:`RateLimiter.check`), with a ``Retry-After`` of exactly the time its bucket needs to be positive.

Locally the server is one process, so this in-memory limiter is exact. On AWS every Lambda container holds
its own buckets, so the bound there is per container; API Gateway's stage throttling is the global bound.
Memory: one small bucket per tenant that authenticated (never per unknown key), and full buckets are
dropped when there are many, so the table stays bounded by the number of active tenants.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from logpipe_backend.core.errors import ApiError, too_many_requests

# Per tenant. Generous for sharing (Loki's default is ~4 MB/s, ~16,000 lines); one `logpipe send` of a big
# file on the local stack reaches ~140,000 records/s, so past the burst it is paced by 429 + Retry-After.
DEFAULT_RECORDS_PER_S: Final = 50_000.0
DEFAULT_BURST: Final = 200_000.0  # records a tenant may send at once after being idle (a 100k-line file)
_PRUNE_AT: Final = 10_000  # buckets kept before full (idle) ones are dropped


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets keyed by tenant; thread-safe (the local server handles requests on threads)."""

    def __init__(self, rate: float, burst: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, tenant_id: str, now: float) -> _Bucket:
        bucket = self._buckets.get(tenant_id)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[tenant_id] = _Bucket(self.burst, now)
            return bucket
        elapsed = max(0.0, now - bucket.updated)  # a clock that steps back must not drain the bucket
        bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate)
        bucket.updated = now
        return bucket

    def _prune(self, now: float) -> None:
        full = [t for t, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for tenant_id in full:
            del self._buckets[tenant_id]

    def _retry_after(self, tokens: float) -> int:
        # Seconds until the bucket holds one token again; whole seconds, as Retry-After wants, at least 1.
        return max(1, math.ceil((1.0 - tokens) / self.rate))

    def check(self, tenant_id: str) -> int | None:
        """Seconds to wait when ``tenant_id`` may not send now (its bucket is in debt); None when it may."""
        with self._lock:
            bucket = self._refilled(tenant_id, self._clock())
            return None if bucket.tokens >= 1.0 else self._retry_after(bucket.tokens)

    def acquire(self, tenant_id: str, cost: int) -> int | None:
        """Take ``cost`` tokens when the bucket holds at least one (None), else the seconds to wait."""
        with self._lock:
            bucket = self._refilled(tenant_id, self._clock())
            if bucket.tokens < 1.0:
                return self._retry_after(bucket.tokens)
            bucket.tokens -= max(0, cost)
            return None


def rate_limited(retry_after: int) -> ApiError:
    return too_many_requests(
        "rate_limited", "this tenant is sending faster than its rate limit; retry later", retry_after
    )
