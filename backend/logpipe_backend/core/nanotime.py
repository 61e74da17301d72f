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
_second_text: dict[int, str] = {}


def timestamp_of_ns(ns: int) -> str:
    """``2026-11-26T03:44:56.123Z`` for epoch nanoseconds ``ns`` (0 < ns <= MAX_NS: the caller checks)."""
    seconds, millis = divmod(ns // NS_PER_MS, 1000)
    prefix = _second_text.get(seconds)
    if prefix is None:
        if len(_second_text) >= _CACHE_SECONDS:
            _second_text.clear()
        prefix = _second_text[seconds] = format_ts(seconds * 1000)[:-5]  # without ".000Z"
    return f"{prefix}.{millis:03d}Z"
