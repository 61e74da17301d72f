"""When and how long to wait before retrying a request.

Retried: 429, 5xx (but 501, which will not change; 507, the server's disk nearly full, as a 503), and
transport errors (refused, reset, timeout).
Delays follow "full jitter" exponential backoff (AWS Architecture Blog, 2015): a uniform draw in
``[0, min(cap, base * 2**attempt)]``, which spreads the retries of many clients instead of letting them
stampede together. A ``Retry-After`` from the server is a floor: we never come back sooner than asked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ._exceptions import APIError, LogpipeError, RateLimitedError, ServerError

__all__ = ["RETRYABLE_STATUSES", "Attempts", "RetryPolicy", "is_retryable_status"]

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 507})


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES or (status >= 500 and status != 501)


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` counts the first try; ``max_attempts=1`` disables retries."""

    max_attempts: int = 6
    base_delay: float = 0.25  # seconds; the first retry waits up to this
    max_delay: float = 10.0  # cap of one backoff delay
    max_retry_after: float = 60.0  # a longer Retry-After is clamped, so a bad header cannot hang us
    # 429 is the server asking us to slow down, not failing: waits it asks for do not use up attempts
    # until they add up to this many seconds (a bulk upload rides out backpressure instead of failing).
    max_throttle_seconds: float = 300.0

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (``attempt`` starts at 1)."""
        draw = (rng or random).uniform(0.0, min(self.max_delay, self.base_delay * (2 ** (attempt - 1))))
        if retry_after is not None:
            # Honour the server's floor, plus a little jitter so clients told the same thing spread out.
            return min(self.max_retry_after, retry_after) + draw * 0.1
        return draw


class Attempts:
    """The retry decisions for one request, shared by ``Client``, ``AsyncClient`` and ``AdminClient``:
    they send and sleep (sync or async), this only counts and decides (httpx style: no I/O here)."""

    def __init__(self, policy: RetryPolicy, *, throttle_budget: bool = True) -> None:
        self.policy = policy
        self.count = 0  # failed attempts that count against policy.max_attempts
        # False for the admin client: `tail` polls with max_attempts=1 and does its own backoff.
        self._throttle_budget = throttle_budget
        self._throttled = 0.0

    def next_delay(self, error: LogpipeError) -> float | None:
        """After a failed attempt: seconds to wait before the next one, or None to give up (the
        error is one no retry fixes, or the attempts are used up)."""
        if isinstance(error, APIError) and not is_retryable_status(error.status):
            return None
        self.count += 1
        if self.count >= self.policy.max_attempts:
            return None
        retry_after = error.retry_after if isinstance(error, (RateLimitedError, ServerError)) else None
        delay = self.policy.delay(self.count, retry_after)
        if (
            self._throttle_budget
            and isinstance(error, RateLimitedError)
            and self._throttled + delay <= self.policy.max_throttle_seconds
        ):
            self._throttled += delay
            self.count -= 1  # see RetryPolicy.max_throttle_seconds
        return delay
