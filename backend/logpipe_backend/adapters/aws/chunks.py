"""The logs table's item layout: one item holds a *chunk*, a run of one tenant's records, compressed.

Item (low-level attribute values):

- ``tenant_id`` (S, hash key): one tenant is one partition key, so a query can never cross tenants, and
  ``dynamodb:LeadingKeys`` (strict isolation) still names the tenant of every item.
- ``log_id`` (S, range key): the chunk's first (smallest) record log_id. ``last_id`` (S): its largest.
  ``count`` (N): how many records it holds. ``v`` (N): the format version, :data:`CHUNK_VERSION`.
- ``z`` (B): the records as one JSON array (``[{…},{…}]``, each record's compact JSON, in log_id order),
  deflated with ``core.codec`` (isal when present, else zlib; either inflates the other's output).
- ``expires_at`` (N): the TTL attribute, epoch seconds: the newest ``received_at`` in the chunk plus the
  tenant's retention; absent when retention is 0 (keep forever).

How records are cut into chunks (:func:`plan_chunks`) depends only on the records and their JSON text,
never on the compressor, so a redelivered message writes the very same keys (an upsert: idempotent):

- sorted by log_id, one copy per log_id (the last one given wins, as an upsert);
- a chunk's ids span at most :data:`MAX_CHUNK_SPAN_MS` of ULID time: what lets a reader find every chunk
  that may hold a given id (docs/aws.md, "How records are stored: chunks");
- at most :data:`MAX_CHUNK_RAW_BYTES` of JSON per chunk, so a chunk stays well under DynamoDB's 400 KB item
  limit whatever the records compress to. A single record over that is a chunk of its own; if it does not
  compress under the item budget either, it is shortened (:func:`.record_fit.shorten_record`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from logpipe_backend.adapters.aws.record_fit import ITEM_BUDGET, shorten_record
from logpipe_backend.core import codec
from logpipe_backend.core.codec import compact_encoder
from logpipe_backend.core.ids import is_log_id, log_id_time_ms
from logpipe_backend.core.record import Record
from logpipe_backend.core.retention import expires_at
from logpipe_backend.core.timefmt import parse_event_time

CHUNK_VERSION: Final = 1
# ULID time between a chunk's first and last id, at most. One message's ids share one millisecond (one
# request's, core/ids.py), so this almost never cuts a run; a reader reads up to this much of a tenant's
# records beyond what it answers (desc) or before it (asc): small keeps queries cheap.
MAX_CHUNK_SPAN_MS: Final = 100
MAX_CHUNK_RAW_BYTES: Final = 256 * 1024  # JSON per chunk, before compression
# isal's highest level (it has 0-3); the standard library's zlib at 3 makes chunks of about the same size.
COMPRESS_LEVEL: Final = 3
# A chunk never inflates to more than this (a zip bomb in the table is refused, not expanded).
MAX_INFLATED_BYTES: Final = 4 * 1024 * 1024
# Room for everything but the payload in an item (keys, last_id, count, v, expires_at, attribute names).
_ITEM_OVERHEAD: Final = 200
PAYLOAD_BUDGET: Final = ITEM_BUDGET - _ITEM_OVERHEAD
_ENCODE: Final = compact_encoder()
_RECORD_FIELDS: Final = ("tenant_id", "log_id", "timestamp", "received_at", "level", "message", "source")
_LOADS: Final = codec.loads_with(json.loads)


class ChunkError(ValueError):
    """An item that is not a chunk this code can read (the reader skips and counts it)."""


@dataclass(frozen=True)
class PlannedChunk:
    """Consecutive records (sorted, one tenant) and their JSON texts, to be stored as one item."""

    records: list[Record]
    texts: list[str]


def by_tenant(
    records: Sequence[Record], docs: Sequence[str | None] | None
) -> dict[str, tuple[list[Record], list[str | None]]]:
    """Records and their texts (``docs``: None where there is none) grouped by tenant, in order."""
    texts: Sequence[str | None] = [None] * len(records) if docs is None else docs
    groups: dict[str, tuple[list[Record], list[str | None]]] = {}
    for record, text in zip(records, texts, strict=True):
        group = groups.setdefault(record["tenant_id"], ([], []))
        group[0].append(record)
        group[1].append(text)
    return groups


def _text_of(record: Record, doc: str | None) -> str:
    # The worker hands over each record's JSON as it arrived where redaction left it unchanged: writing it
    # as is saves encoding the record again.
    return _ENCODE(record) if doc is None else doc


def plan_chunks(
    records: Sequence[Record], docs: Sequence[str | None] | None = None, *, span_ms: int = MAX_CHUNK_SPAN_MS
) -> list[PlannedChunk]:
    """One tenant's records cut into chunks (see the module docstring); deterministic in its input.

    Raises ValueError for a log_id that is not a ULID (ingest makes every id one: the span rule needs the
    time part).
    """
    texts_in = [None] * len(records) if docs is None else docs
    unique: dict[str, tuple[Record, str | None]] = {}
    for record, doc in zip(records, texts_in, strict=True):
        if not is_log_id(record["log_id"]):
            raise ValueError(f"not a log id: {record['log_id']!r}")
        unique[record["log_id"]] = (record, doc)
    planned: list[PlannedChunk] = []
    current: list[Record] = []
    texts: list[str] = []
    raw = 0
    first_ms = time_ms = 0
    prefix = ""
    for log_id in sorted(unique):
        record, doc = unique[log_id]
        text = _text_of(record, doc)
        size = len(text.encode("utf-8")) + 1  # the comma
        if log_id[:10] != prefix:  # the time part: one request's ids share it, so it is decoded once
            prefix, time_ms = log_id[:10], log_id_time_ms(log_id)
        if current and (raw + size > MAX_CHUNK_RAW_BYTES or time_ms - first_ms > span_ms):
            planned.append(PlannedChunk(current, texts))
            current, texts, raw = [], [], 0
        if not current:
            first_ms = time_ms
        current.append(record)
        texts.append(text)
        raw += size
    if current:
        planned.append(PlannedChunk(current, texts))
    return planned


def _newest_received_ms(records: Sequence[Record]) -> int:
    # Stored times are fixed-width RFC 3339 UTC (docs/contract.md §2): the greatest string is the newest time.
    newest_ms = parse_event_time(max(r["received_at"] for r in records))
    if newest_ms is None:  # not a time we wrote: the arrival the newest log_id says
        newest_ms = max(log_id_time_ms(r["log_id"]) for r in records)
    return newest_ms


def _compress(texts: Sequence[str]) -> bytes:
    return bytes(codec.ZLIB.compress(("[" + ",".join(texts) + "]").encode("utf-8"), COMPRESS_LEVEL))


def chunk_item(chunk: PlannedChunk, *, retention_seconds: int) -> dict[str, dict[str, Any]]:
    """The item of one planned chunk; a lone record that does not compress under the budget is shortened."""
    records, texts = chunk.records, chunk.texts
    payload = _compress(texts)
    if len(payload) > PAYLOAD_BUDGET and len(records) == 1:
        budget = PAYLOAD_BUDGET
        while len(payload) > PAYLOAD_BUDGET:  # JSON shortened to the budget compresses under it + a margin
            records = [shorten_record(records[0], budget)]
            texts = [_ENCODE(records[0])]
            payload = _compress(texts)
            budget = budget * 9 // 10
    if len(payload) > PAYLOAD_BUDGET:  # pragma: no cover - MAX_CHUNK_RAW_BYTES keeps it under
        raise AssertionError(f"a chunk of {len(records)} records compressed to {len(payload)} bytes")
    item: dict[str, dict[str, Any]] = {
        "tenant_id": {"S": records[0]["tenant_id"]},
        "log_id": {"S": records[0]["log_id"]},
        "last_id": {"S": records[-1]["log_id"]},
        "count": {"N": str(len(records))},
        "v": {"N": str(CHUNK_VERSION)},
        "z": {"B": payload},
    }
    expiry = expires_at(_newest_received_ms(records), retention_seconds)
    if expiry is not None:
        item["expires_at"] = {"N": str(expiry)}
    return item


def chunk_items(
    records: Sequence[Record],
    docs: Sequence[str | None] | None = None,
    *,
    retention_seconds: int,
    span_ms: int = MAX_CHUNK_SPAN_MS,
) -> list[dict[str, dict[str, Any]]]:
    """Every item one tenant's records are stored as."""
    planned = plan_chunks(records, docs, span_ms=span_ms)
    return [chunk_item(c, retention_seconds=retention_seconds) for c in planned]


def _inflate(payload: bytes) -> bytes:
    try:
        inflater = codec.ZLIB.decompressobj()
        data = bytes(inflater.decompress(payload, MAX_INFLATED_BYTES))
    except codec.ZLIB_ERRORS as exc:
        raise ChunkError(f"payload does not inflate: {exc}") from exc
    if inflater.unconsumed_tail or not inflater.eof:
        raise ChunkError("payload is truncated or inflates past the limit")
    return data


def _parse(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
        return json.loads(text) if codec.may_hold_big_int(text) else _LOADS(text)
    except (ValueError, RecursionError) as exc:
        raise ChunkError(f"payload is not JSON: {exc}") from exc


def _legacy_record(item: dict[str, dict[str, Any]]) -> Record:
    """The record of an item written before chunks (one record per item, each field an attribute), so a
    table written by an earlier version stays readable after an upgrade, until those items expire."""
    try:
        record: Record = {
            "tenant_id": item["tenant_id"]["S"],
            "log_id": item["log_id"]["S"],
            "timestamp": item["timestamp"]["S"],
            "received_at": item["received_at"]["S"],
            "level": item["level"]["S"],
            "message": item["message"]["S"],
            "attributes": json.loads(item["attributes"]["S"]),
            "source": item["source"]["S"],
            "redactions": int(item["redactions"]["N"]),
        }
        if "client_log_id" in item:
            record["client_log_id"] = item["client_log_id"]["S"]
    except (KeyError, TypeError, ValueError, RecursionError) as exc:
        raise ChunkError(f"not a record item: missing or malformed {exc}") from exc
    return record


def decode_chunk(item: dict[str, dict[str, Any]], tenant_id: str) -> list[Record]:
    """The records of one chunk item of ``tenant_id``, in log_id order; ChunkError if it is not readable.

    An item without ``v`` and with a ``message`` is one written before chunks: its one record.
    """
    if "v" not in item and "message" in item:
        records = [_legacy_record(item)]
        _check(records[0], tenant_id, records[0]["log_id"], records[0]["log_id"])
        return records
    try:
        version = item["v"]["N"]
        payload = item["z"]["B"]
        first, last = item["log_id"]["S"], item["last_id"]["S"]
        count = int(item["count"]["N"])
        item_tenant = item["tenant_id"]["S"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ChunkError(f"not a chunk item: missing or malformed {exc}") from exc
    if version != str(CHUNK_VERSION):
        raise ChunkError(f"unknown chunk format version {version!r}")
    if item_tenant != tenant_id:
        raise ChunkError(f"chunk of tenant {item_tenant!r} read for {tenant_id!r}")
    records = _parse(_inflate(bytes(payload)))
    if not isinstance(records, list) or len(records) != count:
        raise ChunkError("payload is not the list of records the item counts")
    for record in records:
        _check(record, tenant_id, first, last)
    return records


def _check(record: Any, tenant_id: str, first: str, last: str) -> None:
    """A record the reader can filter and answer: every field of contract.md §2, of this tenant, in range."""
    if not isinstance(record, dict) or not all(isinstance(record.get(f), str) for f in _RECORD_FIELDS):
        raise ChunkError("a record of the chunk lacks a field of the record")
    if not isinstance(record.get("attributes"), dict) or not isinstance(record.get("redactions"), int):
        raise ChunkError("a record of the chunk lacks a field of the record")
    if record["tenant_id"] != tenant_id:
        raise ChunkError(f"a record of tenant {record['tenant_id']!r} inside a chunk of {tenant_id!r}")
    if not first <= record["log_id"] <= last:
        raise ChunkError("a record's log_id is outside the chunk's key range")
