"""Nanosecond event times (OTLP, Loki) → the record's millisecond timestamp, fast.

A request's records share few distinct seconds, so the text up to the second is cached by second and the
milliseconds appended: ``timefmt.format_ts`` per record would format every field again (each record of a
batch has its own millisecond, so its cache misses).
"""

from __future__ import annotations

from typing import Final

from logpipe_backend.core.timefmt import format_ts

NS_PER_MS: Final = 1_000_000
MAX_NS: Final = 253_402_300_799_999 * NS_PER_MS  # 9999-12-31T23:59:59.999Z, format_ts's last instant
_CACHE_SECONDS: Final = 4096
# The text up to the second, by epoch second (filled by timestamp_of_ns; one dict for the life of the
# process, so a loop may hold it). core/otlp.py's per-record loop reads it itself, as below, and calls
# timestamp_of_ns only when it misses: a call per record costs more than the lookup.
SECOND_TEXT: Final[dict[int, str]] = {}
MILLIS_TEXT: Final = tuple(f".{millis:03d}Z" for millis in range(1000))  # joining beats formatting


def timestamp_of_ns(ns: int) -> str:
    """``2026-11-26T03:44:56.123Z`` for epoch nanoseconds ``ns`` (0 < ns <= MAX_NS: the caller checks)."""
    seconds, millis = divmod(ns // NS_PER_MS, 1000)
    prefix = SECOND_TEXT.get(seconds)
    if prefix is None:
        if len(SECOND_TEXT) >= _CACHE_SECONDS:
            SECOND_TEXT.clear()
        prefix = SECOND_TEXT[seconds] = format_ts(seconds * 1000)[:-5]  # without ".000Z"
    return prefix + MILLIS_TEXT[millis]
