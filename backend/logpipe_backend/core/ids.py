"""Log ids: 26-character ULIDs in Crockford base32 (48-bit time in ms, then 80 bits).

The ids of one request share the time part and count up from one random 80-bit base, so they sort in
record order. With a seed (sha256 of tenant and Idempotency-Key) the base is derived from the seed, so a
retried request gets the very same ids and the store's upsert keeps one copy.
"""

from __future__ import annotations

import hashlib
import os
from typing import Final

CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOG_ID_LENGTH: Final = 26
MAX_TIME_MS: Final = (1 << 48) - 1
_RANDOM_BITS: Final = 80
_RANDOM_BYTES: Final = _RANDOM_BITS // 8
# The base leaves the top bit clear so base + index never overflows 80 bits (requests are far below 2**79).
_BASE_MASK: Final = (1 << (_RANDOM_BITS - 1)) - 1
_CROCKFORD_SET: Final = frozenset(CROCKFORD)
_CROCKFORD_VALUE: Final = {c: i for i, c in enumerate(CROCKFORD)}
_SEED_DOMAIN: Final = b"logpipe/log-id/v1\0"


def _encode_time(time_ms: int) -> str:
    if not 0 <= time_ms <= MAX_TIME_MS:
        raise ValueError(f"time_ms out of range: {time_ms}")
    chars = []
    for _ in range(10):
        chars.append(CROCKFORD[time_ms & 31])
        time_ms >>= 5
    return "".join(reversed(chars))


def new_log_ids(count: int, time_ms: int, seed: bytes | None = None) -> list[str]:
    """``count`` ids with time part ``time_ms``, sorting in index order; deterministic for (time_ms, seed)."""
    if count < 0:
        raise ValueError("count must be >= 0")
    prefix = _encode_time(time_ms)
    if count == 0:
        return []
    if seed is None:
        raw = os.urandom(_RANDOM_BYTES)
    else:
        raw = hashlib.sha256(_SEED_DOMAIN + time_ms.to_bytes(8, "big") + seed).digest()[:_RANDOM_BYTES]
    base = int.from_bytes(raw, "big") & _BASE_MASK
    # Counting up changes the last two characters (10 bits) of each id; the 14 before them change once
    # per 1,024 ids at most. So each run of ids sharing those 14 characters is its head plus one table
    # lookup per id, as a C-level map over the run's slice of the table (base64.b32encode loops in Python).
    # The ids must still sort in index order: tests/backend/core/test_core_ids.py checks against a plain
    # Crockford encoding of each value.
    ids: list[str] = []
    value, end = base, base + count
    while value < end:
        run_end = min(end, (value | _LOW_MASK) + 1)
        head = prefix + _encode_random_head(value >> _LOW_BITS)
        low = value & _LOW_MASK  # the run's pairs are consecutive in the table: one C-level map over them
        ids += map(head.__add__, _PAIRS[low : low + run_end - value])
        value = run_end
    return ids


_LOW_BITS: Final = 10  # two characters
_LOW_MASK: Final = (1 << _LOW_BITS) - 1
# Every 10-bit value as its two characters.
_PAIRS: Final = tuple(CROCKFORD[v >> 5] + CROCKFORD[v & 31] for v in range(1 << _LOW_BITS))


def _encode_random_head(high: int) -> str:
    """The first 14 characters of an 80-bit value's 16, from its top 70 bits."""
    return "".join(_PAIRS[(high >> shift) & _LOW_MASK] for shift in range(60, -1, -_LOW_BITS))


def is_log_id(value: str) -> bool:
    """Whether ``value`` is a canonical (upper-case) 26-character ULID."""
    return (
        isinstance(value, str)
        and len(value) == LOG_ID_LENGTH
        and value[0] <= "7"  # the 48-bit time fits in the first 10 characters only when this holds
        and _CROCKFORD_SET.issuperset(value)
    )


def log_id_time_ms(log_id: str) -> int:
    """The time part (epoch ms) of a log id; ValueError when it is not one."""
    if not is_log_id(log_id):
        raise ValueError(f"not a log id: {log_id!r}")
    value = 0
    for char in log_id[:10]:
        value = (value << 5) | _CROCKFORD_VALUE[char]
    return value


def log_id_floor(time_ms: int) -> str:
    """The smallest log id whose time part is ``time_ms`` (clamped to the 48-bit range): every id of that
    millisecond or later sorts at or after it. A valid log id itself, so it may serve as a cursor."""
    return _encode_time(min(max(time_ms, 0), MAX_TIME_MS)) + "0" * (LOG_ID_LENGTH - 10)
