"""Retention: how long a tenant's records are kept, counted from ``received_at`` (issue 16).

A duration is written ``90s``, ``15m``, ``12h``, ``30d`` or ``2w`` (a bare number is seconds); ``0`` keeps
records forever. The same words on both stacks: ``logpipe serve --retention``, ``LOGPIPE_LOG_RETENTION``,
``logpipe tenants set-retention``.

A record's ``log_id`` is a ULID whose time part is the moment ingest accepted it, which is its
``received_at`` (core/ids.py): so "received before T" is "log_id below the smallest id of T", a key range of
the store's primary key. No index on ``received_at`` is needed, locally or on DynamoDB.
"""

from __future__ import annotations

import re
from typing import Final

from logpipe_backend.core.ids import log_id_floor

DEFAULT_RETENTION_S: Final = 30 * 86_400  # the default, on both stacks
FOREVER: Final = 0
_UNIT_S: Final = {"": 1, "s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
_DURATION_RE: Final = re.compile(r"(\d{1,10})\s*([smhdw]?)")
# Over 100 years is a typo, not a policy; DynamoDB's TTL would be refused far before int overflow anyway.
MAX_RETENTION_S: Final = 100 * 365 * 86_400


def parse_duration(text: str) -> int:
    """Seconds of ``90s``, ``12h``, ``30d``… (``0``: forever). ValueError with a one-line reason."""
    match = _DURATION_RE.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use 90s, 15m, 12h, 30d, 2w; 0 keeps forever)")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds > MAX_RETENTION_S:
        raise ValueError(f"duration {text!r} is over 100 years")
    return seconds


def format_duration(seconds: int | None) -> str:
    """The shortest exact spelling (``30d``, ``90s``); ``forever`` for 0; ``default`` for None."""
    if seconds is None:
        return "default"
    if seconds == FOREVER:
        return "forever"
    for unit in ("d", "h", "m"):
        if seconds % _UNIT_S[unit] == 0:
            return f"{seconds // _UNIT_S[unit]}{unit}"
    return f"{seconds}s"


def cutoff_log_id(now_ms: int, retention_s: int) -> str | None:
    """The smallest log id received at ``now_ms - retention``: every id below it has expired.

    None when nothing expires (retention 0, or a cut-off before the epoch)."""
    if retention_s == FOREVER:
        return None
    cutoff_ms = now_ms - retention_s * 1000
    if cutoff_ms <= 0:
        return None
    return log_id_floor(cutoff_ms)


def expires_at(newest_received_ms: int, retention_s: int) -> int | None:
    """DynamoDB TTL (epoch seconds) of an item whose newest record was received at ``newest_received_ms``;
    None (no TTL attribute: kept forever) for retention 0."""
    if retention_s == FOREVER:
        return None
    return newest_received_ms // 1000 + retention_s
