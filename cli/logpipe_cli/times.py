"""``--since`` / ``--until`` as people type them, resolved to RFC 3339 UTC before any request is sent.

Accepted (docs/contract.md §4): RFC 3339 / ISO 8601 instants (``2026-12-06T10:00:00Z``, an offset, or no zone:
then the display zone); plain dates (``2026-12-06``: its midnight in the display zone); durations meaning
"that long ago" (``30s``, ``15m``, ``90min``, ``2h``, ``7d``, ``1w``, ``1h30m``, with or without a trailing
``ago`` and with words: ``1 hour ago``, ``90 minutes``); ``now``, ``today`` and ``yesterday`` (midnights in
the display zone). ``aws logs tail --since`` and ``logcli --from`` take the same kinds of value.

The server accepts only RFC 3339 and the short durations: resolving here means a typo is a usage error
(exit 2) with a message naming the flag, not a 400 from the server (exit 1) after a round trip.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final

__all__ = ["TimeSyntaxError", "format_rfc3339", "parse_when"]

_UNIT_SECONDS: Final = {
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86_400,
    "day": 86_400,
    "days": 86_400,
    "w": 604_800,
    "week": 604_800,
    "weeks": 604_800,
}
# One or more "<number> <unit>" terms ("1h30m", "1 hour 30 minutes"), then an optional "ago".
_TERM = r"(\d{1,9})\s*([a-z]+)"
_DURATION_RE: Final = re.compile(rf"(?:{_TERM}\s*)+(?:ago)?")
_TERM_RE: Final = re.compile(_TERM)
_DATE_RE: Final = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
HINT: Final = (
    "use RFC 3339 (2026-12-06T10:00:00Z), a date (2026-12-06), 30s, 15m, 90min, 2h, 7d, "
    "'1 hour ago', today, yesterday"
)


class TimeSyntaxError(ValueError):
    """Not a time this CLI understands; the message says what is accepted."""


def format_rfc3339(moment: datetime) -> str:
    """The fixed-width UTC form the store compares as strings (``2026-12-06T10:00:00.000Z``)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _in_zone(naive: datetime, zone: tzinfo | None) -> datetime:
    """``naive`` read as a wall-clock time in ``zone``; None is the system's local zone, DST included."""
    return naive.astimezone() if zone is None else naive.replace(tzinfo=zone)


def _midnight(day: date, zone: tzinfo | None) -> datetime:
    return _in_zone(datetime(day.year, day.month, day.day), zone)


def _duration_seconds(text: str) -> int | None:
    if not _DURATION_RE.fullmatch(text):
        return None
    total = 0
    for number, unit in _TERM_RE.findall(text.removesuffix("ago")):
        if unit not in _UNIT_SECONDS:
            return None
        total += int(number) * _UNIT_SECONDS[unit]
    return total


def parse_when(value: str, *, now: datetime, zone: tzinfo | None) -> datetime:
    """The instant ``value`` names, ``now`` (aware) being the current time and ``zone`` the display zone
    (None: the system's local zone).

    Raises :class:`TimeSyntaxError` for anything else, including a date that does not exist.
    """
    text = " ".join(value.strip().lower().split())
    if not text:
        raise TimeSyntaxError(f"empty time ({HINT})")
    if text == "now":
        return now
    local_today = now.astimezone(zone).date()
    if text == "today":
        return _midnight(local_today, zone)
    if text == "yesterday":
        return _midnight(local_today - timedelta(days=1), zone)
    seconds = _duration_seconds(text)
    if seconds is not None:
        try:
            return now - timedelta(seconds=seconds)
        except OverflowError:
            raise TimeSyntaxError(f"{value!r} is too far back") from None
    try:
        if _DATE_RE.fullmatch(text):
            return _midnight(date.fromisoformat(text), zone)
        # fromisoformat (3.11) takes RFC 3339 with "Z", offsets, fractions, and "T" or a space.
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise TimeSyntaxError(f"not a time: {value!r} ({HINT})") from None
    return moment if moment.tzinfo is not None else _in_zone(moment, zone)
