"""The pure part of POST /ingest after authentication: raw records → serialized normalized records.

What comes out is exactly what goes into the queue envelope (and, after redaction, into the store), so the
per-record size limit is checked here, on the bytes that will travel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from json.encoder import encode_basestring
from typing import Any, Final

from logpipe_backend.core import codec
from logpipe_backend.core.envelope import RECORD_SEPARATOR_BYTES, Serialized
from logpipe_backend.core.errors import ApiError, bad_request, too_large
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.normalize import normalize, normalize_all
from logpipe_backend.core.record import Record

# Compact UTF-8 JSON, json's own encoder (codec.compact_encoder). allow_nan=False: parsing already refuses
# NaN/Infinity; this keeps a Python caller from slipping one in.
_ENCODE: Final = codec.compact_encoder(allow_nan=False)
# Records are normalized and serialized by the chunk: normalized records kept alive across a whole request
# cost the garbage collector passes over them, and one encoder call per record costs its set-up each time.
CHUNK_RECORDS: Final = 256


def serialize(record: Any) -> bytes:
    """Compact UTF-8 JSON of a record (ValueError / UnicodeEncodeError on what JSON cannot carry)."""
    return _ENCODE(record).encode("utf-8")


def accepted_json(log_ids: list[str], request_id: str) -> str:
    """The 202's body ``{"accepted":…,"log_ids":[…],"request_id":…}``, what ``core.http.json_response`` writes
    for it, with the log ids joined as they are: ULIDs (core/ids.py) are Crockford base32, which JSON writes
    unescaped (so no encoder is needed for ~4,000 ids a request)."""
    ids = '"' + '","'.join(log_ids) + '"' if log_ids else ""
    return f'{{"accepted":{len(log_ids)},"log_ids":[{ids}],"request_id":{encode_basestring(request_id)}}}'


def prepare(
    raws: list[dict[str, Any] | str],
    *,
    tenant_id: str,
    received_ms: int,
    log_ids: list[str],
    limits: Limits,
    finite_floats: bool = False,
) -> Serialized:
    """Each raw record normalized and serialized, in order (in the layout :func:`envelope.pack` takes).

    413 ``record_bytes`` with ``index`` for a record over ``limits.record_bytes``; a normalization error
    (403 ``tenant_mismatch``) gets the ``index`` of its record. ``finite_floats``: the caller vouches that
    ``raws`` hold no NaN or infinite float, as what ``body.parse_records`` returns (it refuses them).

    One path: :func:`normalize_all` and one ``codec.dumps_list`` a chunk of records. Where that fails or a
    record is too big, :func:`_serialize_each` goes record by record to raise the first error with its
    index; it also serializes the rare request a chunk cannot be cut at record boundaries for.
    """
    if len(log_ids) != len(raws):
        raise ValueError(f"{len(log_ids)} log ids for {len(raws)} records")
    chunks: list[bytes] = []
    for start in range(0, len(raws), CHUNK_RECORDS):
        end = start + CHUNK_RECORDS
        chunk = _serialize_chunk(raws[start:end], tenant_id, received_ms, log_ids[start:end], finite_floats)
        if chunk is None:
            return Serialized.of(_serialize_each(raws, tenant_id, received_ms, log_ids, limits))
        chunks.append(chunk)
    serialized = Serialized(chunks, None, len(raws))
    # A record is never longer than its chunk: only a chunk over the limit has its records measured.
    if any(len(chunk) > limits.record_bytes for chunk in chunks) and (
        max(map(len, serialized.records())) > limits.record_bytes
    ):
        return Serialized.of(_serialize_each(raws, tenant_id, received_ms, log_ids, limits))
    return serialized


def prepare_normalized(
    chunks: Callable[[], Iterable[list[Record]]], *, limits: Limits, finite_floats: bool = False
) -> Serialized:
    """:func:`prepare` for records a door builds already normalized, through core/record.py's constructor
    (the OTLP door, core/otlp.py ``stored_chunks``): ``chunks()`` gives them a chunk at a time, each
    serialized as it comes, so that only a chunk of records is alive at once, never a whole request's (a
    Collector's 8,192 records make ~10 MB of dicts: held together, they and the request's protobuf do not
    fit in the cache, and glibc hands their pages back and faults them in again; docs/performance.md).
    The same 413 ``record_bytes`` and 400 ``invalid_record`` as :func:`prepare`, with the ``index`` of the
    record: to find it, ``chunks()`` is called again and the records go one by one. The door has made
    normalize's checks itself (a ``tenant_id`` naming another tenant raises as normalize does)."""
    serialized: list[bytes] = []
    total = 0
    for records in chunks():
        chunk = _dump_chunk(records, finite_floats)
        if chunk is None:
            return Serialized.of(_dump_each(_every(chunks), limits))
        serialized.append(chunk)
        total += len(records)
    out = Serialized(serialized, None, total)
    if any(len(chunk) > limits.record_bytes for chunk in serialized) and (
        max(map(len, out.records())) > limits.record_bytes
    ):
        return Serialized.of(_dump_each(_every(chunks), limits))
    return out


def _every(chunks: Callable[[], Iterable[list[Record]]]) -> list[Record]:
    """Every record, built whole before any is serialized: an error the door raises once all are built
    (core/otlp.py's deferred 403 ``tenant_mismatch``) comes before any record's own, as in :func:`prepare`."""
    return [record for records in chunks() for record in records]


def _serialize_chunk(
    raws: list[dict[str, Any] | str],
    tenant_id: str,
    received_ms: int,
    log_ids: list[str],
    finite_floats: bool,
) -> bytes | None:
    """The chunk's records normalized and serialized (:func:`_dump_chunk`); None for an error."""
    try:
        records = normalize_all(raws, tenant_id, log_ids, received_ms)
    except ApiError:
        return None
    return _dump_chunk(records, finite_floats)


def _dump_chunk(records: list[Record], finite_floats: bool) -> bytes | None:
    """The records serialized (``{…},{…}``: one list written, its brackets off), each starting with
    RECORD_HEAD and none holding RECORD_SEPARATOR_BYTES (see envelope.Serialized: pack then needs no
    record's size); None when they cannot be written as JSON or a record holds the separator."""
    data = codec.dumps_list(records, finite=finite_floats)
    if data is None:
        return None
    joined = data[1:-1]
    # The separator can also sit inside a record (an array holding an object whose first key is tenant_id;
    # inside a string its quote would be escaped): then there are more of them than gaps between records.
    # Counted, not split: nothing needs each record's size (pack cuts at separators).
    if joined.count(RECORD_SEPARATOR_BYTES) != len(records) - 1:
        return None
    return joined


def _serialize_each(
    raws: list[dict[str, Any] | str], tenant_id: str, received_ms: int, log_ids: list[str], limits: Limits
) -> list[bytes]:
    """Record by record: raises the first error with the ``index`` of its record; else (a request whose
    chunks could not be cut at record boundaries) every record's JSON on its own."""

    def normalized() -> Iterator[Record]:
        for index, raw in enumerate(raws):
            try:
                yield normalize(raw, tenant_id=tenant_id, log_id=log_ids[index], received_ms=received_ms)
            except ApiError as exc:
                exc.detail["index"] = index
                raise

    return _dump_each(normalized(), limits)


def _dump_each(records: Iterable[Record], limits: Limits) -> list[bytes]:
    """Each record's JSON on its own, in order; the first error (400 ``invalid_record``, 413
    ``record_bytes``) raised with the ``index`` of its record."""
    max_bytes = limits.record_bytes
    out: list[bytes] = []
    append = out.append
    for index, record in enumerate(records):
        try:
            data = serialize(record)
        except (ValueError, TypeError, UnicodeEncodeError, RecursionError) as exc:
            # Only reachable from Python callers: parsed bodies cannot hold NaN, lone surrogates or objects.
            message = f"record {index} cannot be stored as JSON"
            raise bad_request("invalid_record", message, index=index) from exc
        if len(data) > max_bytes:
            raise too_large(
                "record_bytes", max_bytes, f"record {index} is over {max_bytes} bytes", index=index
            )
        append(data)
    return out
