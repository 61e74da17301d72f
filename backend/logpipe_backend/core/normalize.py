"""One raw record (a parsed JSON object or a text line) → the record of docs/contract.md §2.

JSON: the well-known fields become the record's own (message, timestamp, level, client_log_id) and are
removed from the attributes; a field that cannot be used (a message that is not a string, a time that does
not parse, an unknown level) stays in the attributes, so nothing a client sent is lost. Text: a line in a
recognised format (syslog, access log, logfmt, Python logging: :mod:`.textformats`) gives its parts; any
other line is the message, with a leading timestamp and level token read from it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import repeat
from operator import contains, itemgetter
from typing import Any, Final, cast

from logpipe_backend.core.errors import ApiError, forbidden
from logpipe_backend.core.levels import LEVEL_ALIASES, level_from_text, level_from_value, levels_from_text
from logpipe_backend.core.record import Record, new_record, record_maker
from logpipe_backend.core.textformats import recognise
from logpipe_backend.core.timefmt import (
    all_canonical,
    canonical_timestamp,
    format_ts,
    leading_timestamp,
    parse_event_time,
)

MESSAGE_FIELDS: Final = ("message", "msg", "text", "log", "body")
# "date": Fluent Bit's json formats (float epoch seconds), last so an explicit time field wins.
TIMESTAMP_FIELDS: Final = ("timestamp", "ts", "time", "@timestamp", "date")
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
            timestamp = _timestamp_of(attributes[name])
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

    record = new_record(
        tenant_id, log_id, received_at if timestamp is None else timestamp, received_at,
        level or DEFAULT_LEVEL, message, attributes, "json",
    )  # fmt: skip
    if client_log_id is not None:
        record["client_log_id"] = client_log_id
    return record


def _timestamp_of(value: object) -> str | None:
    """The record's timestamp for an event time field's value, or None when it is not one."""
    timestamp = canonical_timestamp(value)  # fast path: already in the record's format
    if timestamp is None:
        event_ms = parse_event_time(value)
        timestamp = None if event_ms is None else format_ts(event_ms)
    return timestamp


def _normalize_text(line: str, tenant_id: str, log_id: str, received_at: str, received_ms: int) -> Record:
    if line.endswith("\n"):
        line = line[:-2] if line.endswith("\r\n") else line[:-1]
    # Fast path: a line that starts with a timestamp in the record's own format, then a blank, keeps it
    # as it is (what leading_timestamp + format_ts would give, without parsing and formatting it again).
    # Such a line is never read as one of textformats' formats (_normalize_lines_alike relies on it).
    head = line[:24] if len(line) == 24 or line[24:25] in (" ", "\t") else None
    timestamp = canonical_timestamp(head) if head is not None else None
    if timestamp is not None:
        return _text_record(tenant_id, log_id, timestamp, received_at, level_from_text(line, 24), line, {})
    event_ms, after_ts = leading_timestamp(line)
    parts = recognise(line, received_ms, event_ms, after_ts)
    if parts is None:  # a plain line
        timestamp = received_at if event_ms is None else format_ts(event_ms)
        return _text_record(
            tenant_id, log_id, timestamp, received_at, level_from_text(line, after_ts), line, {}
        )
    if isinstance(parts, dict):  # logfmt: its pairs are fields like a JSON object's
        record = _normalize_json(parts, tenant_id, log_id, received_at)
        record["source"] = "text"
        if "message" not in parts and "msg" not in parts:
            record["message"] = line
        return record
    timestamp = received_at if parts.event_ms is None else format_ts(parts.event_ms)
    return _text_record(
        tenant_id, log_id, timestamp, received_at, parts.level, parts.message, parts.attributes
    )


def _text_record(
    tenant_id: str,
    log_id: str,
    timestamp: str,
    received_at: str,
    level: str | None,
    message: str,
    attributes: dict[str, Any],
) -> Record:
    return new_record(
        tenant_id, log_id, timestamp, received_at, level or DEFAULT_LEVEL, message, attributes, "text"
    )


def normalize(raw: dict[str, Any] | str, *, tenant_id: str, log_id: str, received_ms: int) -> Record:
    """The record for ``raw``; ApiError 403 ``tenant_mismatch`` when it names another tenant."""
    if isinstance(raw, str):
        return _normalize_text(raw, tenant_id, log_id, format_ts(received_ms), received_ms)
    return _normalize_json(raw, tenant_id, log_id, format_ts(received_ms))


def normalize_all(
    raws: list[dict[str, Any] | str], tenant_id: str, log_ids: list[str], received_ms: int
) -> list[Record]:
    """:func:`normalize` of each raw record with its log id, in order (the first error raised); the time
    received formatted once, and no keyword call per record.

    Records of one shape (JSON objects with the same fields, text lines starting alike: what a shipper or
    the SDK sends) are normalized a field at a time over all of them. The per-record functions are not a
    second copy of that: they are the definition (a field that cannot be used moves on to the next name,
    logfmt, syslog, ...), and take every request the column path declines, mixed shapes included."""
    received_at = format_ts(received_ms)
    kinds = frozenset(map(type, raws)) if len(raws) == len(log_ids) else None
    if kinds == _DICT_ONLY:
        records = _normalize_json_alike(cast(list[dict[str, Any]], raws), tenant_id, log_ids, received_at)
        if records is not None:
            return records
    elif kinds == _STR_ONLY:
        records = _normalize_lines_alike(cast(list[str], raws), tenant_id, log_ids, received_at)
        if records is not None:
            return records
    return [
        _normalize_text(raw, tenant_id, log_id, received_at, received_ms)
        if isinstance(raw, str)
        else _normalize_json(raw, tenant_id, log_id, received_at)
        for raw, log_id in zip(raws, log_ids, strict=True)
    ]


# --- JSON records of one shape, a field at a time ---------------------------------------------------------

_DICT_ONLY: Final[frozenset[type]] = frozenset({dict})
_STR_ONLY: Final[frozenset[type]] = frozenset({str})


class _Missing:
    pass


_MISSING: Final = _Missing()
_NO_FIELD: Final[list[Any]] = []  # a marker: no record has any of the names


def _each(convert: Callable[[Any], Any], values: list[Any]) -> list[Any] | None:
    out = list(map(convert, values))
    return None if None in out else out


def _messages(values: list[Any]) -> list[Any] | None:
    # A record whose field is not a string would go on to the next name: left to the per-record path.
    return values if {*map(type, values)} == _STR_ONLY else None


def _levels(values: list[Any]) -> list[Any] | None:
    if {*map(type, values)} == _STR_ONLY and LEVEL_ALIASES.keys() >= {*values}:
        return list(map(LEVEL_ALIASES.__getitem__, values))  # what level_from_value gives for these
    return _each(level_from_value, values)


def _timestamps(values: list[Any]) -> list[Any] | None:
    return values if all_canonical(values) else _each(_timestamp_of, values)


def _take(
    attributes: list[dict[str, Any]], names: tuple[str, ...], convert: Callable[[list[Any]], list[Any] | None]
) -> list[Any] | None:
    """The first of ``names`` that any record has: ``convert`` of every record's value, removed from every
    record; _NO_FIELD when no record has any of them; None (nothing removed) when only some records have
    it or ``convert`` refuses (a value the per-record path would leave, going on to the next name)."""
    for name in names:
        if not any(map(contains, attributes, repeat(name))):
            continue
        values = list(map(dict.get, attributes, repeat(name), repeat(_MISSING)))
        out = None if _MISSING in values else convert(values)
        if out is not None:
            deque(map(dict.pop, attributes, repeat(name)), 0)
        return out
    return _NO_FIELD


def _normalize_json_alike(
    raws: list[dict[str, Any]], tenant_id: str, log_ids: list[str], received_at: str
) -> list[Record] | None:
    """What the per-record path gives for JSON records that agree on which fields they have and whose values
    it takes without a second look, a field at a time in C-level passes over all records (no Python step
    per record: the cost that matters at 1,000s of records a request); None for anything else (the
    per-record path then decides, errors included). Equivalence: tests/backend/core/test_core_normalize.py
    (hypothesis)."""
    attributes = list(map(dict.copy, raws))
    # A record naming another tenant is refused by the per-record path.
    if _take(attributes, ("tenant_id",), lambda v: v if v.count(tenant_id) == len(v) else None) is None:
        return None
    messages = _take(attributes, MESSAGE_FIELDS, _messages)
    if messages is None:
        return None
    timestamps = _take(attributes, TIMESTAMP_FIELDS, _timestamps)
    if timestamps is None:
        return None
    levels = _take(attributes, LEVEL_FIELDS, _levels)
    if levels is None:
        return None
    client_ids = _take(attributes, CLIENT_ID_FIELDS, lambda values: _each(_client_log_id, values))
    if client_ids is None:
        return None

    records = list(
        map(
            record_maker(tenant_id, received_at, "json", DEFAULT_LEVEL),
            log_ids,
            repeat(received_at) if timestamps is _NO_FIELD else timestamps,
            repeat(DEFAULT_LEVEL) if levels is _NO_FIELD else levels,
            repeat("") if messages is _NO_FIELD else messages,
            attributes,
        )
    )
    for rec, client_id in zip(records, client_ids, strict=False):  # none for most requests
        rec["client_log_id"] = client_id
    return records


# --- text lines that start alike ---------------------------------------------------------------------------

_AFTER_TIMESTAMP: Final = itemgetter(slice(24, 25))
_TIMESTAMP: Final = itemgetter(slice(24))
_BLANKS: Final = frozenset({" ", "\t"})


def _normalize_lines_alike(
    lines: list[str], tenant_id: str, log_ids: list[str], received_at: str
) -> list[Record] | None:
    """What the per-record path gives for text lines that all start with a timestamp in the record's format
    and a blank (which it keeps as they are), in C-level passes over all lines (with levels_from_text);
    None for other lines (the per-record path then). Relies on such a line never being read as one of
    textformats' formats (see _normalize_text)."""
    if any(map(str.endswith, lines, repeat("\n"))) or not _BLANKS.issuperset(map(_AFTER_TIMESTAMP, lines)):
        return None
    timestamps = list(map(_TIMESTAMP, lines))
    if not all_canonical(timestamps):
        return None

    make = record_maker(tenant_id, received_at, "text", DEFAULT_LEVEL)
    return list(map(make, log_ids, timestamps, levels_from_text(lines, 24), lines))
