"""Backoff with full jitter, shared by the SQS and DynamoDB adapters.

AWS's guidance for batch APIs that report partial failure (``SendMessageBatch``'s ``Failed``,
``BatchWriteItem``'s ``UnprocessedItems``) is to retry only what failed, after an exponentially growing,
randomised pause: the randomness spreads retries of many concurrent Lambdas so they do not hit the
throttled partition in lock-step again.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BASE_DELAY_SECONDS = 0.05
MAX_DELAY_SECONDS = 2.0


def full_jitter_delay(
    attempt: int,
    *,
    base: float = BASE_DELAY_SECONDS,
    cap: float = MAX_DELAY_SECONDS,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): uniform in [0, min(cap, base·2^attempt)]."""
    ceiling = min(cap, base * float(1 << min(max(attempt, 0), 30)))
    return ceiling * rand()
