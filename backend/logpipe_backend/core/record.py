"""The record of docs/contract.md §2, as the store keeps it and the query API returns it."""

from __future__ import annotations

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
