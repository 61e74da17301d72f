"""The pure part of POST /ingest after authentication: raw records → serialized normalized records.

What comes out is exactly what goes into the queue envelope (and, after redaction, into the store), so the
per-record size limit is checked here, on the bytes that will travel.
"""

from __future__ import annotations

from typing import Any, Final

from logpipe_backend.core.errors import ApiError, bad_request, too_large
from logpipe_backend.core.jsonenc import compact_encoder
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.normalize import normalize

# Compact UTF-8 JSON; one C encoder reused (core/jsonenc.py: json.dumps with options builds a new encoder
# per call). allow_nan=False: parsing already refuses NaN/Infinity; this keeps a Python caller from
# slipping one in.
_ENCODE: Final = compact_encoder(allow_nan=False)


def serialize(record: Any) -> bytes:
    """Compact UTF-8 JSON of a record (ValueError / UnicodeEncodeError on what JSON cannot carry)."""
    return _ENCODE(record).encode("utf-8")


def prepare(
    raws: list[dict[str, Any] | str],
    *,
    tenant_id: str,
    received_ms: int,
    log_ids: list[str],
    limits: Limits,
) -> list[bytes]:
    """Each raw record normalized and serialized, in order.

    413 ``record_bytes`` with ``index`` for a record over ``limits.record_bytes``; a normalization error
    (403 ``tenant_mismatch``) gets the ``index`` of its record.
    """
    if len(log_ids) != len(raws):
        raise ValueError(f"{len(log_ids)} log ids for {len(raws)} records")
    max_bytes = limits.record_bytes
    out: list[bytes] = []
    append = out.append
    for index, raw in enumerate(raws):
        try:
            record = normalize(raw, tenant_id=tenant_id, log_id=log_ids[index], received_ms=received_ms)
        except ApiError as exc:
            exc.detail["index"] = index
            raise
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
