"""The queue message: many serialized records of one tenant in one SQS-valid JSON body.

Format: ``{"v":1,"tenant_id":"…","records":[…]}``. Records are packed in order, as many per message as fit
in ``max_bytes`` of UTF-8 (SQS allows 256 KiB or 1 MiB depending on configuration; the default stays under
1 MiB with headroom for attributes). SQS refuses characters outside #x9 #xA #xD #x20–#xD7FF
#xE000–#xFFFD #x10000–#x10FFFF; records are JSON, where such a character can only sit inside a string, so
it is replaced by its ``\\uXXXX`` escape and the JSON means exactly the same.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final, cast

from logpipe_backend.core.record import Record

MAX_MESSAGE_BYTES: Final = 1_000_000
ENVELOPE_VERSION: Final = 1

# Characters SQS refuses (the complement of what it allows), including lone surrogates.
_SQS_UNSAFE_RE: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# Their UTF-8 bytes in valid UTF-8 input: C0 controls other than tab/LF/CR, and U+FFFE/U+FFFF
# (EF BF BE / EF BF BF). A cheap bytes check skips the decode-and-escape step for almost every record.
_UNSAFE_BYTES_RE: Final = re.compile(b"[\x00-\x08\x0b\x0c\x0e-\x1f]|\xef\xbf[\xbe\xbf]")
_REFUSED_CONTROLS: Final = bytes(b for b in range(0x20) if b not in (0x09, 0x0A, 0x0D))
_ALL_BUT_REFUSED_CONTROLS: Final = bytes(b for b in range(256) if b not in _REFUSED_CONTROLS)
_REQUIRED_FIELDS: Final = (
    "tenant_id", "log_id", "timestamp", "received_at", "level", "message", "attributes"
)  # fmt: skip
_REQUIRED_SET: Final = frozenset(_REQUIRED_FIELDS)


def sqs_safe(text: str) -> bool:
    """Whether SQS accepts every character of ``text`` in a message body."""
    return _SQS_UNSAFE_RE.search(text) is None


def _may_hold_unsafe(data: bytes) -> bool:
    """Cheap: C-speed passes (translate deletes every byte but the refused controls; two substring
    searches), measured about four times faster than searching with _UNSAFE_BYTES_RE."""
    return (
        bool(data.translate(None, _ALL_BUT_REFUSED_CONTROLS))
        or b"\xef\xbf\xbe" in data
        or b"\xef\xbf\xbf" in data
    )


def _escape_char(m: re.Match[str]) -> str:
    return f"\\u{ord(m.group()):04x}"


def _make_safe(record: bytes) -> bytes:
    if _UNSAFE_BYTES_RE.search(record) is None:
        return record
    text = record.decode("utf-8", "surrogatepass")
    return _SQS_UNSAFE_RE.sub(_escape_char, text).encode("utf-8")


def pack(tenant_id: str, records: list[bytes], max_bytes: int = MAX_MESSAGE_BYTES) -> list[str]:
    """Message bodies holding ``records`` (serialized JSON objects) in order, each ≤ ``max_bytes`` UTF-8.

    Raises ValueError when one record alone cannot fit (ingest's per-record limit keeps that from happening).
    """
    head = f'{{"v":{ENVELOPE_VERSION},"tenant_id":{json.dumps(tenant_id)},"records":['.encode()
    tail = b"]}"
    overhead = len(head) + len(tail)
    bodies: list[str] = []
    batch: list[bytes] = []
    size = overhead
    # One scan of all records together finds nothing unsafe in almost every request; only then is each
    # record checked (and escaped) on its own.
    check_each = _may_hold_unsafe(b"".join(records))
    for raw in records:
        record = _make_safe(raw) if check_each else raw
        extra = len(record) + (1 if batch else 0)  # a comma between records
        if batch and size + extra > max_bytes:
            bodies.append((head + b",".join(batch) + tail).decode("utf-8"))
            batch, size, extra = [], overhead, len(record)
        if size + extra > max_bytes:
            raise ValueError(f"a record of {len(record)} bytes does not fit in a {max_bytes}-byte message")
        batch.append(record)
        size += extra
    if batch:
        bodies.append((head + b",".join(batch) + tail).decode("utf-8"))
    return bodies


def unpack(body: str) -> tuple[str, list[Record]]:
    """(tenant_id, records) of a message body made by :func:`pack`; ValueError when it is malformed."""
    try:
        data: Any = json.loads(body)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"message body is not JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("v") != ENVELOPE_VERSION:
        raise ValueError("message body is not a logpipe envelope of version 1")
    tenant_id = data.get("tenant_id")
    records = data.get("records")
    if not isinstance(tenant_id, str) or not isinstance(records, list):
        raise ValueError("envelope lacks tenant_id or records")
    for index, record in enumerate(records):
        # keys() >= set: one C-level subset test per record instead of a generator over the fields.
        if not isinstance(record, dict) or not record.keys() >= _REQUIRED_SET:
            raise ValueError(f"record {index} is not a record")
        if record["tenant_id"] != tenant_id:
            raise ValueError(f"record {index} belongs to another tenant than its envelope")
        record.setdefault("redactions", 0)
        record.setdefault("source", "json")
    return tenant_id, cast(list[Record], records)
