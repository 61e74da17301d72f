"""The record of docs/contract.md §2, as the store keeps it and the query API returns it, and its one
constructor, :func:`new_record`, which fixes the record's wire layout: the order of its keys.

The layout is an invariant others rely on: a serialized record starts with ``{"tenant_id":`` (the first of
:data:`WIRE_FIELDS`), which is how :mod:`.envelope` finds record boundaries in a packed body without
parsing it (``envelope.RECORD_HEAD``; envelope checks it against this constructor when imported). Build
records here, never as dict literals elsewhere, or a reordering goes unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NotRequired, TypedDict

LEVELS: Final = ("trace", "debug", "info", "warn", "error", "fatal")
LEVEL_RANK: Final = {name: rank for rank, name in enumerate(LEVELS)}


class Record(TypedDict):
    tenant_id: str
    log_id: str  # 26-char ULID, the store's sort key
    timestamp: str  # RFC 3339 UTC, milliseconds, "Z"
    received_at: str
    level: str  # one of LEVELS
    message: str
    attributes: dict[str, Any]
    source: str  # "json" | "text"
    client_log_id: NotRequired[str]
    redactions: int  # set by the worker; 0 until then


# The keys of a new record, in order; client_log_id, when a record has one, comes last.
WIRE_FIELDS: Final = (
    "tenant_id", "log_id", "timestamp", "received_at", "level", "message", "attributes", "source",
    "redactions",
)  # fmt: skip


def new_record(
    tenant_id: str,
    log_id: str,
    timestamp: str,
    received_at: str,
    level: str,
    message: str,
    attributes: dict[str, Any],
    source: str,
) -> Record:
    """A record not yet redacted, its keys in the order of :data:`WIRE_FIELDS`. Positional, so that
    normalize can ``map`` it over the columns of a whole request."""
    return {
        "tenant_id": tenant_id,
        "log_id": log_id,
        "timestamp": timestamp,
        "received_at": received_at,
        "level": level,
        "message": message,
        "attributes": attributes,
        "source": source,
        "redactions": 0,
    }


def record_maker(tenant_id: str, received_at: str, source: str, default_level: str) -> Callable[..., Record]:
    """:func:`new_record` for the records of one request, taking only what differs between them:
    ``make(log_id, timestamp, level, message, attributes=None)`` (a level of None is ``default_level``;
    attributes None is a new empty dict). For normalize to ``map`` over a request's columns in C; its keys
    are :func:`new_record`'s, in the same order (checked with envelope's RECORD_HEAD at import)."""

    def make(
        log_id: str, timestamp: str, level: str | None, message: str, attributes: dict[str, Any] | None = None
    ) -> Record:
        return {
            "tenant_id": tenant_id,
            "log_id": log_id,
            "timestamp": timestamp,
            "received_at": received_at,
            "level": level or default_level,
            "message": message,
            "attributes": {} if attributes is None else attributes,
            "source": source,
            "redactions": 0,
        }

    return make
