"""Times: the record's RFC 3339 format, event times from log fields and lines, query time bounds.

Everything is epoch milliseconds inside; strings only at the edges. Times are limited to years
0001–9999 (what :mod:`datetime` and the fixed-width format can represent), so a formatted time always
sorts as a string in time order, which the stores and :func:`logpipe_backend.core.query.matches` rely on.
"""

from __future__ import annotations

import math
import operator
import re
from datetime import date
from functools import lru_cache
from typing import Any, Final

from logpipe_backend.core.errors import bad_request

_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_DAY_MS: Final = 86_400_000
MIN_MS: Final = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
MAX_MS: Final = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z

# Magnitude rules for numeric epochs (absolute value): below 1e11 it is seconds (1e11 s is the year 5138),
# below 1e14 milliseconds, below 1e17 microseconds, below 1e20 nanoseconds. Today each unit is far
# from the next boundary (now ≈ 1.8e9 s ≈ 1.8e12 ms ≈ 1.8e15 µs ≈ 1.8e18 ns).
_SECONDS_BELOW: Final = 1e11
_MILLIS_BELOW: Final = 1e14
_MICROS_BELOW: Final = 1e17
_NANOS_BELOW: Final = 1e20

# ISO 8601 / RFC 3339 date-time: "T", "t" or a space between date and time; seconds and fraction
# optional; "Z" or an offset (+01:00, +0100, +01) optional, meaning UTC when absent.
_ISO_CORE: Final = (
    r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9})\d*)?)?"
    r"[ ]?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?"
)
_ISO_RE: Final = re.compile(_ISO_CORE)
# A text line's leading timestamp must have a time of day (a bare date is too likely to be prose),
# optionally in square brackets; group 1 is the timestamp. Atomic, so "03:44:56Zfoo" cannot shrink to a
# shorter time that happens to be followed by a separator.
_LEADING_TS_RE: Final = re.compile(
    r"\[?((?>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?))\]?"
    r"(?=[\s\]|,;:-]|$)"
)
_NUMERIC_RE: Final = re.compile(r"-?\d{1,20}(?:\.\d{1,9})?")
_RELATIVE_RE: Final = re.compile(r"(\d{1,9})\s*(s|m|h|d|w)")
_UNIT_MS: Final = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


# Dates are cached and times of day computed with integer arithmetic: a datetime per record cost more
# than the rest of normalization together.
@lru_cache(maxsize=4096)
def _date_text(days: int) -> str:
    return date.fromordinal(_EPOCH_ORDINAL + days).isoformat()


@lru_cache(maxsize=4096)
def _days_since_epoch(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01; ValueError for a date that does not exist."""
    return date(year, month, day).toordinal() - _EPOCH_ORDINAL


@lru_cache(maxsize=1024)
def format_ts(epoch_ms: int) -> str:
    """RFC 3339 UTC with milliseconds and ``Z``: ``2026-11-26T03:44:56.123Z``.

    Cached: one request formats the same ``received_at`` for every record. ValueError out of years 1–9999.
    """
    days, rest = divmod(epoch_ms, _DAY_MS)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{_date_text(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


# The record's own format (what format_ts makes, and what many loggers write): such a value is already the
# normalized timestamp, so it is kept as it is instead of parsed and formatted again.
_CANONICAL_RE: Final = re.compile(r"(\d{4}-\d{2}-\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z")


@lru_cache(maxsize=4096)
def _valid_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _canonical_by_regex(value: str) -> bool:
    m = _CANONICAL_RE.fullmatch(value)
    return m is not None and _valid_date(m.group(1))


# Every ASCII ".mmmZ": what the pattern's last five characters match, but for non-ASCII digits (\d is
# Unicode), which the regex path still decides.
_MILLIS_TAILS: Final = frozenset(f".{ms:03d}Z" for ms in range(1000))
# Whether each "YYYY-MM-DDTHH:MM:SS" seen is the start of a canonical timestamp (the pattern is fixed
# width, so the two parts are judged apart). A request's records share their second far more often than
# not; bounded, and cleared when full.
_SECONDS_SEEN: dict[str, bool] = {}
_SECONDS_SEEN_MAX: Final = 4096


def canonical_timestamp(value: object) -> str | None:
    """``value`` itself when it is already in the format of :func:`format_ts` (so
    ``format_ts(parse_event_time(value)) == value``), else None; the caller then takes the general path.

    The regex runs once per distinct second (cached in _SECONDS_SEEN), not per value: a wrong verdict there
    would keep a timestamp that does not exist (2026-02-30), so the cache holds the regex's verdicts only."""
    if type(value) is not str or len(value) != 24:
        return None
    if value[19:] not in _MILLIS_TAILS:
        return value if _canonical_by_regex(value) else None
    head = value[:19]
    known = _SECONDS_SEEN.get(head)
    if known is None:
        known = _canonical_by_regex(value)
        if len(_SECONDS_SEEN) >= _SECONDS_SEEN_MAX:
            _SECONDS_SEEN.clear()
        _SECONDS_SEEN[head] = known
    return value if known else None


_TAIL: Final = operator.itemgetter(slice(19, None))
_HEAD: Final = operator.itemgetter(slice(19))


def all_canonical(values: list[Any]) -> bool:
    """Whether :func:`canonical_timestamp` keeps every one of ``values`` (at least one), in C-level passes
    over them and one call per distinct second (for normalize's field-at-a-time path)."""
    if {*map(type, values)} != _STR_ONLY:
        return False
    if not _MILLIS_TAILS.issuperset(map(_TAIL, values)):  # a tail of five from index 19: the length is 24
        return all(map(canonical_timestamp, values))  # e.g. non-ASCII digits, which the regex decides
    # With an ASCII ".mmmZ" tail, the verdict is the head's alone (as canonical_timestamp caches it).
    return all(canonical_timestamp(head + ".000Z") for head in {*map(_HEAD, values)})


_STR_ONLY: Final = frozenset({str})


def _in_range(ms: int) -> int | None:
    return ms if MIN_MS <= ms <= MAX_MS else None


def _from_number(value: float) -> int | None:
    if not math.isfinite(value):
        return None
    magnitude = abs(value)
    if magnitude < _SECONDS_BELOW:
        ms = value * 1000
    elif magnitude < _MILLIS_BELOW:
        ms = value
    elif magnitude < _MICROS_BELOW:
        ms = value / 1000
    elif magnitude < _NANOS_BELOW:
        ms = value / 1_000_000
    else:
        return None
    return _in_range(math.floor(ms))


def _from_int(value: int) -> int | None:
    # Integer arithmetic keeps nanosecond epochs exact (a float has only 53 bits).
    magnitude = abs(value)
    if magnitude < _SECONDS_BELOW:
        return _in_range(value * 1000)
    if magnitude < _MILLIS_BELOW:
        return _in_range(value)
    if magnitude < _MICROS_BELOW:
        return _in_range(value // 1000)
    if magnitude < _NANOS_BELOW:
        return _in_range(value // 1_000_000)
    return None


def _iso_match_to_ms(m: re.Match[str]) -> int | None:
    year, month, day, hour, minute, second, fraction, offset = m.groups()
    try:
        days = _days_since_epoch(int(year), int(month), int(day))
    except ValueError:
        return None
    h = int(hour) if hour else 0
    mi = int(minute) if minute else 0
    sec = int(second) if second else 0  # 60 is a leap second: the first instant of the next minute
    if h > 23 or mi > 59 or sec > 60:
        return None
    ms = days * _DAY_MS + h * 3_600_000 + mi * 60_000 + sec * 1000
    if fraction:
        ms += int(fraction[:3].ljust(3, "0"))
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        off_h = int(digits[:2])
        off_m = int(digits[2:4]) if len(digits) >= 4 else 0
        if off_h > 23 or off_m > 59:
            return None
        ms -= sign * (off_h * 60 + off_m) * 60_000
    return _in_range(ms)


def _parse_iso(text: str) -> int | None:
    m = _ISO_RE.fullmatch(text)
    return _iso_match_to_ms(m) if m else None


def parse_event_time(value: object) -> int | None:
    """Epoch ms of an event time, or None when ``value`` is not one. Never raises.

    Accepts ISO 8601 strings (any offset, ``Z`` or none meaning UTC, with or without fraction, ``T`` or a
    space), and epoch seconds / milliseconds / microseconds / nanoseconds by magnitude, as numbers or as
    numeric strings (Loki and many shippers send nanoseconds as a string).
    """
    try:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return _from_int(value)
        if isinstance(value, float):
            return _from_number(value)
        if isinstance(value, str):
            text = value.strip()
            if not text or len(text) > 64:
                return None
            if text[0] == "-" or text[0].isdigit():
                if len(text) > 4 and text[4] == "-":
                    return _parse_iso(text)
                if _NUMERIC_RE.fullmatch(text):
                    return _from_int(int(text)) if "." not in text else _from_number(float(text))
            return None
    except (ValueError, OverflowError, ArithmeticError):
        return None
    return None


def leading_timestamp(line: str) -> tuple[int | None, int]:
    """The ISO timestamp a text line starts with: (epoch ms or None, index just after it, else 0)."""
    m = _LEADING_TS_RE.match(line)
    if not m:
        return None, 0
    ms = _parse_iso(m.group(1))
    if ms is None:
        return None, 0
    return ms, m.end()


def parse_time_bound(value: str, now_ms: int) -> int:
    """Epoch ms of a query bound: RFC 3339 / ISO 8601, or relative ``30s``, ``15m``, ``2h``, ``7d``, ``1w``
    (meaning ``now_ms`` minus that). Raises ApiError 400 ``invalid_query``."""
    text = value.strip() if isinstance(value, str) else ""
    relative = _RELATIVE_RE.fullmatch(text)
    if relative:
        ms = now_ms - int(relative.group(1)) * _UNIT_MS[relative.group(2)]
        return max(ms, MIN_MS)
    ms_abs = _parse_iso(text) if len(text) <= 64 else None
    if ms_abs is None:
        raise bad_request(
            "invalid_query",
            f"not a time: {value!r} (use RFC 3339 like 2026-11-26T03:44:56Z, or 30s, 15m, 2h, 7d)",
        )
    return ms_abs
