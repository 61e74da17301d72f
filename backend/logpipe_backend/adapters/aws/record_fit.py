"""DynamoDB's item size, and shortening a record too large to be stored even alone in one item.

DynamoDB refuses items over 400 KB (names plus values). Records are stored compressed, in chunks
(:mod:`.chunks`), so a record over the limit is stored whole as long as it compresses under it. One that does
not (a 300 KB random blob plus a 300 KB message) cannot be stored as it is; :func:`shorten_record` shortens
it in a way the record says itself, rather than failing its whole queue message forever. A record is at most
256 KiB when ingested, but redaction can make it longer (``[REDACTED:secret]`` replacing a one-letter value).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from logpipe_backend.core.record import Record

log = logging.getLogger(__name__)

DYNAMODB_ITEM_LIMIT: Final = 400 * 1024  # 409,600 bytes: attribute names + values, UTF-8
# What we allow ourselves: a margin under the hard limit for our size estimate of numbers.
ITEM_BUDGET: Final = 400_000
TRUNCATED_KEY: Final = "logpipe_truncated"
MAX_KEPT_CLIENT_ID_BYTES: Final = 1024  # a shortened record keeps at most this much of client_log_id
_TRUNCATION_SUFFIX: Final = " …[truncated]"
_MARKER_ROOM: Final = 256  # bytes kept for the marker's keys and numbers


def _attr_size(name: str, value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute, never under the real one (item size rules, Developer Guide)."""
    (kind, raw), *_ = value.items()
    name_size = len(name.encode("utf-8"))
    if kind == "N":
        # Real size is about (significant digits / 2) + 1; the character count + 1 is an upper bound.
        return name_size + len(raw) + 1
    if kind == "B":
        return name_size + len(raw)
    return name_size + len(raw.encode("utf-8"))


def item_size(item: dict[str, dict[str, Any]]) -> int:
    """The size DynamoDB counts for ``item`` (S, N and B attributes): what the 400 KB limit and the write
    units (1 per KB, rounded up) are computed from."""
    return sum(_attr_size(name, value) for name, value in item.items())


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_size(record: Record) -> int:
    return len(_dumps(record).encode("utf-8"))


def _cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits ``max_bytes`` (never splits a character)."""
    if max_bytes <= 0:
        return ""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def _halve(text: str) -> str:
    return _cut_utf8(text, len(text.encode("utf-8")) // 2)


def shorten_record(record: Record, budget: int) -> Record:
    """``record``, shortened so that its compact JSON fits ``budget`` bytes if it does not.

    Shortening keeps the key, times, level and source, keeps as much of ``message`` as fits (ending in
    `` …[truncated]``), and replaces ``attributes`` by ``{"logpipe_truncated": {"message_bytes": …,
    "attributes_bytes": …, "attributes_preview": "<start of the attributes' JSON>"}}`` so a reader sees that
    and how much was cut. The message is kept first because it is what people search for. A
    ``client_log_id`` over 1 KiB is cut too (and ``client_log_id_bytes`` added to the marker).
    """
    size = json_size(record)
    if size <= budget:
        return record
    log.warning(
        "record %s/%s is %d bytes of JSON that do not compress under %d: storing it shortened",
        record["tenant_id"],
        record["log_id"],
        size,
        budget,
    )
    message_bytes = len(record["message"].encode("utf-8"))
    attributes_json = _dumps(record["attributes"])
    attributes_bytes = len(attributes_json.encode("utf-8"))
    base: Record = {**record, "message": "", "attributes": {}}
    # The only other field of unbounded length: a client's own id. Kept whole up to 1 KiB.
    client_id = record.get("client_log_id")
    client_log_id_bytes = 0 if client_id is None else len(client_id.encode("utf-8"))
    if client_id is not None and client_log_id_bytes > MAX_KEPT_CLIENT_ID_BYTES:
        client_id = _cut_utf8(client_id, MAX_KEPT_CLIENT_ID_BYTES)
        base["client_log_id"] = client_id
    room = budget - json_size(base) - _MARKER_ROOM
    message = record["message"]
    if message_bytes > room:
        message = _cut_utf8(message, room - len(_TRUNCATION_SUFFIX.encode("utf-8"))) + _TRUNCATION_SUFFIX
    preview = _cut_utf8(attributes_json, room - len(message.encode("utf-8")))
    # JSON-escaping can make the texts longer than their raw bytes (quotes, control characters: up to 6x):
    # halve the preview, then the message, then the client id, until it fits. Bounded: each round halves
    # one of them, and with all three empty the record fits any budget we use.
    for _ in range(256):
        details: dict[str, object] = {
            "message_bytes": message_bytes,
            "attributes_bytes": attributes_bytes,
            "attributes_preview": preview,
        }
        candidate: Record = {**base, "message": message, "attributes": {TRUNCATED_KEY: details}}
        if client_id is not None:
            candidate["client_log_id"] = client_id
            if client_id != record["client_log_id"]:
                details["client_log_id_bytes"] = client_log_id_bytes
        if json_size(candidate) <= budget or not (preview or message or client_id):
            return candidate
        if preview:
            preview = _halve(preview)
        elif message:
            kept = _cut_utf8(message, len(message.encode("utf-8")) // 2 - len(_TRUNCATION_SUFFIX.encode()))
            message = kept + _TRUNCATION_SUFFIX if kept else ""
        else:
            client_id = _halve(client_id or "")
    raise AssertionError("unreachable: each round halves a text")  # pragma: no cover
