"""One raw record (a parsed JSON object or a text line) → the record of CONTRACT §2.

JSON: the well-known fields become the record's own (message, timestamp, level, client_log_id) and are
removed from the attributes; a field that cannot be used (a message that is not a string, a time that does
not parse, an unknown level) stays in the attributes, so nothing a client sent is lost. Text: the line is
the message, with a leading timestamp and level token read from it.
"""

from __future__ import annotations

from typing import Any, Final

from logpipe_backend.core.errors import ApiError, forbidden
from logpipe_backend.core.levels import level_from_text, level_from_value
from logpipe_backend.core.record import Record
from logpipe_backend.core.timefmt import canonical_timestamp, format_ts, leading_timestamp, parse_event_time

MESSAGE_FIELDS: Final = ("message", "msg", "text", "log", "body")
TIMESTAMP_FIELDS: Final = ("timestamp", "ts", "time", "@timestamp")
LEVEL_FIELDS: Final = ("level", "severity", "lvl", "loglevel")
CLIENT_ID_FIELDS: Final = ("log_id", "id")
DEFAULT_LEVEL: Final = "info"


def _tenant_mismatch() -> ApiError:
    return forbidden("tenant_mismatch", "a record's tenant_id differs from the credential's tenant")


def _client_log_id(value: object) -> str | None:
    # Scalars only: str() of an object or a list would be noise, so those stay attributes.
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _normalize_json(raw: dict[str, Any], tenant_id: str, log_id: str, received_at: str) -> Record:
    attributes = dict(raw)  # shallow copy: the caller's dict is left as it was

    # The tenant comes from the credential only; a record may name it, but must name the same one.
    if "tenant_id" in attributes and attributes.pop("tenant_id") != tenant_id:
        raise _tenant_mismatch()

    message = ""
    for name in MESSAGE_FIELDS:
        value = attributes.get(name)
        if type(value) is str:
            message = value
            del attributes[name]
            break

    timestamp = None
    for name in TIMESTAMP_FIELDS:
        if name in attributes:
            value = attributes[name]
            timestamp = canonical_timestamp(value)  # fast path: already in the record's format
            if timestamp is None:
                event_ms = parse_event_time(value)
                timestamp = None if event_ms is None else format_ts(event_ms)
            if timestamp is not None:
                del attributes[name]
                break

    level = None
    for name in LEVEL_FIELDS:
        if name in attributes:
            level = level_from_value(attributes[name])
            if level is not None:
                del attributes[name]
                break

    client_log_id = None
    # Most records have neither: two lookups instead of a loop.
    for name in CLIENT_ID_FIELDS if "log_id" in attributes or "id" in attributes else ():
        if name in attributes:
            client_log_id = _client_log_id(attributes[name])
            if client_log_id is not None:
                del attributes[name]
                break

    record: Record = {
        "tenant_id": tenant_id,
        "log_id": log_id,
        "timestamp": received_at if timestamp is None else timestamp,
        "received_at": received_at,
        "level": level or DEFAULT_LEVEL,
        "message": message,
        "attributes": attributes,
        "source": "json",
        "redactions": 0,
    }
    if client_log_id is not None:
        record["client_log_id"] = client_log_id
    return record


def _normalize_text(line: str, tenant_id: str, log_id: str, received_at: str) -> Record:
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    # Fast path: a line that starts with a timestamp in the record's own format, then a blank, keeps it
    # as it is (what leading_timestamp + format_ts would give, without parsing and formatting it again).
    head = line[:24] if len(line) == 24 or line[24:25] in (" ", "\t") else None
    timestamp = canonical_timestamp(head) if head is not None else None
    if timestamp is not None:
        after_ts = 24
    else:
        event_ms, after_ts = leading_timestamp(line)
        timestamp = received_at if event_ms is None else format_ts(event_ms)
    return {
        "tenant_id": tenant_id,
        "log_id": log_id,
        "timestamp": timestamp,
        "received_at": received_at,
        "level": level_from_text(line, after_ts) or DEFAULT_LEVEL,
        "message": line,
        "attributes": {},
        "source": "text",
        "redactions": 0,
    }


def normalize(raw: dict[str, Any] | str, *, tenant_id: str, log_id: str, received_ms: int) -> Record:
    """The record for ``raw``; ApiError 403 ``tenant_mismatch`` when it names another tenant."""
    if isinstance(raw, str):
        return _normalize_text(raw, tenant_id, log_id, format_ts(received_ms))
    return _normalize_json(raw, tenant_id, log_id, format_ts(received_ms))


def normalize_all(
    raws: list[dict[str, Any] | str], tenant_id: str, log_ids: list[str], received_ms: int
) -> list[Record]:
    """:func:`normalize` of each raw record with its log id, in order (the first error raised); the time
    received formatted once, and no keyword call per record."""
    received_at = format_ts(received_ms)
    return [
        _normalize_text(raw, tenant_id, log_id, received_at)
        if isinstance(raw, str)
        else _normalize_json(raw, tenant_id, log_id, received_at)
        for raw, log_id in zip(raws, log_ids, strict=True)
    ]
