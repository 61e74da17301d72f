"""How many records fit in one ``GET /admin/logs`` answer: Lambda refuses a response payload over 6 MB.

On AWS the handler's return value is serialized once more by the Lambda runtime, as JSON with ASCII escapes
(Python's ``json.dumps`` defaults): the body, already JSON text, grows by one byte per ``"`` and ``\\`` it
holds, and every non-ASCII character becomes a ``\\uXXXX`` escape (two for characters past U+FFFF). A page
that passes the limit is not cut by Lambda but fails as a whole (502 at API Gateway), so pages are cut here,
before that: each record is counted at its size in that payload, which is never under its size in the body
(so the local stack's bodies stay under the budget too). Issue 12.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

from logpipe_backend.core.record import Record

# Lambda's limit is 6 MB for the whole payload (status, headers, cursor: a few hundred bytes); the records
# get 5 MiB of it, the rest is headroom.
MAX_RECORDS_BYTES: Final = 5 * 1024 * 1024
_ASCII_ENCODER: Final = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def payload_size(record: Record) -> int:
    """Bytes ``record`` takes in Lambda's serialized response: its ASCII JSON, escaped once more."""
    text = _ASCII_ENCODER.encode(record)
    return len(text) + text.count('"') + text.count("\\") + 1  # + the comma between records


def records_within(records: Sequence[Record], budget: int = MAX_RECORDS_BYTES) -> int:
    """How many of ``records``, from the first, fit ``budget`` bytes of response payload (at least one, so a
    page always moves the cursor forward)."""
    used = 0
    for count, record in enumerate(records):
        used += payload_size(record)
        if used > budget:
            return max(count, 1)
    return len(records)
