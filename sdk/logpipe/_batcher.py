"""Turning records into request bodies, and grouping them into batches.

A batch is one request body being built: NDJSON for JSON records, ``text/plain`` for text lines (a
request has one Content-Type, so a mixed stream keeps one open batch per kind). It is closed when it
reaches ``max_records`` or ``max_bytes`` (uncompressed), or when it is older than ``max_age`` seconds, so a
slow stream (``tail -f app.log | logpipe send -``) is not held back. An open batch is a list of its
records' bytes, joined into the body once when it closes (one append a line instead of two ``bytearray``
extends); the limits bound both, so ``logpipe send`` stays flat in memory.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import _codec
from ._exceptions import InvalidRecordError

__all__ = [
    "Batch",
    "BatchLimits",
    "Batcher",
    "Classified",
    "EncodeError",
    "Kind",
    "classify_line",
    "classify_lines",
    "encode_record",
]

Kind = Literal["json", "text"]

CONTENT_TYPES: dict[str, str] = {
    "json": "application/x-ndjson",
    "text": "text/plain; charset=utf-8",
}

# Server limits (contract.md §3): 4 MiB sent, 16 MiB decoded, 10,000 records, 256 KiB per record, depth 64.
SERVER_MAX_RECORDS = 10_000
SERVER_MAX_RECORD_BYTES = 256 * 1024
SERVER_MAX_JSON_DEPTH = 64

# The server splits a text body on "\n" and strips one trailing "\r" (core/body.py); a blank line is no
# record. A str that would not survive that unchanged is sent as JSON {"message": ...} instead.


def _text_safe(text: str) -> bool:
    return "\n" not in text and not text.endswith("\r") and not text.isspace() and text != ""


# A JSON escape of a UTF-16 surrogate: Python's json accepts a lone one, the server refuses it.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


# A record that cannot be sent as it is (never sent; counted as rejected by send_lines).
EncodeError = InvalidRecordError


@dataclass(frozen=True)
class BatchLimits:
    max_records: int = 5_000
    # Uncompressed: under the 4 MiB body limit even when gzip cannot shrink the data, and under the 16 MiB
    # decoded limit with room to spare. 1 MiB keeps several requests in flight cheap in memory.
    max_bytes: int = 1024 * 1024
    max_age: float = 1.0  # seconds

    def __post_init__(self) -> None:
        if not 1 <= self.max_records <= SERVER_MAX_RECORDS:
            raise ValueError(f"max_records must be 1..{SERVER_MAX_RECORDS}")
        if self.max_bytes < 1024:
            raise ValueError("max_bytes must be at least 1024")
        if self.max_age <= 0:
            raise ValueError("max_age must be positive")


@dataclass
class Batch:
    """A closed batch: one request body of ``count`` records, ``\\n``-separated."""

    kind: Kind
    body: bytes = b""
    count: int = 0
    created: float = 0.0
    idempotency_key: str = ""

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.kind]

    def items(self) -> list[bytes]:
        return self.body.split(b"\n")[: self.count]

    @classmethod
    def of(cls, kind: Kind, items: list[bytes]) -> Batch:
        """A closed batch holding ``items`` (used to resend part of a refused batch, under a new key)."""
        return cls(kind, b"\n".join(items), len(items), time.monotonic(), new_idempotency_key())


@dataclass(slots=True)
class _OpenBatch:
    created: float
    items: list[bytes] = field(default_factory=list)
    size: int = 0  # the body's length once joined, plus one: each record counts its separator


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


def _json_depth(value: Any, limit: int) -> int:
    """Nesting depth, stopping early once over ``limit``; iterative (no RecursionError)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


# One encoder for every record: json.dumps with options builds a new one per call, on the hot path.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)


def _check_json_object(line: str, tenant: str | None) -> dict[str, Any] | None:
    """The object if ``line`` is a JSON object the server will take; else None."""
    try:
        value = _codec.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, dict):
        return None
    if (line.count("{") + line.count("[")) > SERVER_MAX_JSON_DEPTH and (
        _json_depth(value, SERVER_MAX_JSON_DEPTH) > SERVER_MAX_JSON_DEPTH
    ):
        return None
    if _SURROGATE_ESCAPE.search(line):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return None
    return value


@dataclass(slots=True)
class Classified:
    """What ``classify_lines`` made of some input lines: the records of each kind in input order, the
    blank lines, one reason per refused line, and what a line raised other than EncodeError (a lone
    surrogate ``json`` takes and UTF-8 cannot encode; a line that is not a str), the lines after it left
    unclassified."""

    json: list[bytes] = field(default_factory=list)
    text: list[bytes] = field(default_factory=list)
    blank: int = 0
    refused: list[str] = field(default_factory=list)
    error: Exception | None = None


def classify_lines(lines: list[str], fmt: str, tenant: str | None) -> Classified:
    """``classify_line(line.rstrip("\\r\\n"), fmt, tenant)`` of each of ``send_lines``' input lines, a blank
    one (``line.strip()`` empty) counted, a refused one (EncodeError) giving its reason; stops at a line
    that raises anything else (``Classified.error``: send_lines ends its input there, as it always did).

    One call for a chunk of lines, the common lines taking a fast path in one loop (no Python call and no
    tuple per line: this loop is most of ``logpipe send``'s CPU); a line it is not sure of goes to
    ``classify_line``, the reference, which also words the reason a line is refused. JSON: orjson accepting
    a text implies ``json`` accepts it as an object of the same shape (``_codec``; an integer past 64 bits
    becomes a float, and its one use here, ``tenant_id``, then differs from the tenant either way, which
    ``classify_line`` reports), so only the checks after the parse are left, each skipped when the text
    cannot fail it. tests/sdk/test_codec.py holds the two paths to the same outcome, line by line.
    """
    out = Classified()
    json_items, text_items = out.json, out.text
    fast = _codec.orjson
    loads = None if fast is None or fmt == "text" else fast.loads
    refused = fast.JSONDecodeError if fast is not None else ValueError
    for line in lines:
        try:
            stripped = line.strip()
            if not stripped:
                out.blank += 1
                continue
            if fmt != "text" and stripped[0] == "{":
                if loads is not None:
                    try:
                        value = loads(stripped)  # refuses a str with a lone surrogate (not UTF-8)
                    except refused:
                        value = None
                    if (
                        type(value) is dict
                        # Depth: no bracket after the first is depth 1. Two "in" tests (memchr) decide most
                        # lines without counting; counting every line would cost more than the parse check.
                        and (
                            ("[" not in stripped and "{" not in stripped[1:])
                            or stripped.count("{") + stripped.count("[") <= SERVER_MAX_JSON_DEPTH
                        )
                        # A lone surrogate escape, which the server refuses: orjson refuses it too, but the
                        # rule must not hang on orjson's; no backslash, no escape, so no regex to run.
                        and ("\\" not in stripped or not _SURROGATE_ESCAPE.search(stripped))
                        # Most records name no tenant: "in" then spares a get and a tuple compare.
                        and (
                            tenant is None or "tenant_id" not in value or value["tenant_id"] in (None, tenant)
                        )
                    ):
                        data = stripped.encode("utf-8")
                        if len(data) <= SERVER_MAX_RECORD_BYTES:
                            json_items.append(data)
                            continue
            elif fmt != "json":
                text = line.rstrip("\r\n")
                if "\n" not in text:  # not blank, no trailing "\r": what encode_record sends as text
                    data = text.encode("utf-8", "replace")
                    if len(data) <= SERVER_MAX_RECORD_BYTES:
                        text_items.append(data)
                        continue
            kind, data = classify_line(line.rstrip("\r\n"), fmt, tenant)
        except EncodeError as exc:
            out.refused.append(str(exc))
            continue
        except Exception as exc:  # e.g. a lone surrogate json takes and UTF-8 cannot encode; a bytes line
            out.error = exc
            break
        (json_items if kind == "json" else text_items).append(data)
    return out


def classify_line(line: str, fmt: str, tenant: str | None = None) -> tuple[Kind, bytes]:
    """How to send one input line under ``--format auto|json|text``; raises EncodeError if it cannot be.

    auto: a line that is a JSON object the server accepts goes as JSON (its bytes unchanged), any other
    line as text. json: a line that is not such an object is an error. text: every line is text.
    """
    if fmt != "text":
        stripped = line.strip()
        obj = _check_json_object(stripped, tenant) if stripped.startswith("{") else None
        if obj is not None:
            owner = obj.get("tenant_id")
            if tenant is not None and owner is not None and owner != tenant:
                # The server refuses the whole request (403) for one such record: refuse it alone here.
                raise EncodeError(f"record names tenant {owner!r}, not {tenant!r}")
            data = stripped.encode("utf-8")
            if len(data) > SERVER_MAX_RECORD_BYTES:
                raise EncodeError("record over 256 KiB")
            return "json", data
        if fmt == "json":
            raise EncodeError("not a JSON object")
    return encode_record(line)


def encode_record(record: Mapping[str, Any] | str) -> tuple[Kind, bytes]:
    """A dict as one NDJSON line; a str as one text line, or, if the text body would not keep it as it is
    (a line break: a joined stack trace), as a JSON string on an NDJSON line: a text record the server
    reads like a line (its first line gives time, level and format; contract.md §3). A blank str is sent as
    ``{"message": ...}``: as text it would be no record at all."""
    if isinstance(record, str):
        if not record.strip():
            record = {"message": record}
        elif not _text_safe(record):
            data = json.dumps(record, ensure_ascii=False).encode("utf-8", "replace")
            if len(data) > SERVER_MAX_RECORD_BYTES:
                raise EncodeError("record over 256 KiB")
            return "json", data
        else:
            data = record.encode("utf-8", "replace")
            if len(data) > SERVER_MAX_RECORD_BYTES:
                raise EncodeError("record over 256 KiB")
            return "text", data
    if not isinstance(record, Mapping):
        raise EncodeError(f"a record must be a dict or a str, not {type(record).__name__}")
    try:
        text = _ENCODER.encode(record)
        data = text.encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError, RecursionError) as exc:
        raise EncodeError(f"record is not JSON-serializable: {exc}") from exc
    if len(data) > SERVER_MAX_RECORD_BYTES:
        raise EncodeError("record over 256 KiB")
    return "json", data


class Batcher:
    """Open batches by kind; not thread-safe (callers hold a lock)."""

    def __init__(
        self, limits: BatchLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or BatchLimits()
        self._max_records = self.limits.max_records
        self._max_bytes = self.limits.max_bytes
        self._clock = clock
        self._open: dict[Kind, _OpenBatch] = {}

    def add(self, kind: Kind, data: bytes) -> list[Batch]:
        """Add one encoded record; returns the batches this closed (zero, one or two)."""
        closed: list[Batch] = []
        batch = self._open.get(kind)
        n = len(data)
        # An open batch holds at least one record; the body with this one would be size + n bytes long.
        if batch is not None and batch.size + n > self._max_bytes:
            closed.append(self._close(kind))
            batch = None
        if batch is None:
            batch = self._open[kind] = _OpenBatch(self._clock())
        batch.items.append(data)
        batch.size += n + 1
        if len(batch.items) >= self._max_records or batch.size > self._max_bytes:
            closed.append(self._close(kind))
        return closed

    def add_many(self, kind: Kind, items: list[bytes]) -> list[Batch]:
        """``add`` of each of ``items`` in order, in one step when they all fit in the open batch: adding
        closes nothing while the count stays under ``max_records`` and the size within ``max_bytes`` (both
        only grow), so the last item's totals decide for all of them."""
        if not items:
            return []
        size = sum(map(len, items)) + len(items)
        batch = self._open.get(kind)
        held, held_size = (0, 0) if batch is None else (len(batch.items), batch.size)
        if held + len(items) >= self._max_records or held_size + size > self._max_bytes:
            closed: list[Batch] = []
            for data in items:
                closed += self.add(kind, data)
            return closed
        if batch is None:
            batch = self._open[kind] = _OpenBatch(self._clock())
        batch.items += items
        batch.size += size
        return []

    def due(self) -> list[Batch]:
        """Close and return the batches older than ``max_age``."""
        now = self._clock()
        old = [k for k, b in self._open.items() if now - b.created >= self.limits.max_age]
        return [self._close(k) for k in old]

    def next_due_in(self) -> float | None:
        """Seconds until the oldest open batch is due, or None when nothing is open."""
        if not self._open:
            return None
        oldest = min(b.created for b in self._open.values())
        return max(0.0, oldest + self.limits.max_age - self._clock())

    def flush(self) -> list[Batch]:
        return [self._close(k) for k in list(self._open)]

    @property
    def pending(self) -> int:
        return sum(len(b.items) for b in self._open.values())

    def _close(self, kind: Kind) -> Batch:
        batch = self._open.pop(kind)
        body = b"\n".join(batch.items)
        return Batch(kind, body, len(batch.items), batch.created, new_idempotency_key())
