"""Reading records, one at a time and in log_id order, out of chunks whose key ranges overlap.

A chunk's sort key is its first log_id, and runs of different requests in the same millisecond interleave,
so chunks overlap: reading chunks in key order does not give records in key order. What bounds the overlap
is the write rule that a chunk's ids span at most ``span_ms`` of ULID time (``chunks.MAX_CHUNK_SPAN_MS``):
a record with id X can only be in a chunk whose first id is in ``[floor(time(X) - span), X]``.

- ``asc`` after an exclusive position L: Query ``log_id >= floor(time(L) - span)`` ascending. Records go into
  a buffer sorted by log_id; a buffered record r is final once r <= F, the highest first id read so far
  (every unread chunk starts above F, so holds nothing smaller), or when the partition is exhausted.
- ``desc`` before an exclusive position U: Query ``log_id <= U`` descending (a chunk holding an id < U starts
  at or below it). With m the lowest first id read so far, every unread chunk starts below m, so holds ids
  of time at most time(m) + span: a buffered r is final once r >= floor(time(m) + span + 1).
- The same log_id in two chunks (a message stored in parts, then redelivered whole) is answered once.
- The page ends at ``limit`` records (cursor: the last one answered), or when the partition is exhausted,
  or when the read budget is spent: then the cursor is the boundary below (asc) or above (desc) which
  every record was examined, F or floor(time(m) + span + 1), which may lie inside a chunk. The budget
  counts only once the boundary has moved past the start, so every page makes progress.
- A chunk that cannot be decoded is logged and counted (``QueryPage.skipped_chunks``); the others are read.
  An item written before chunks (one record, no ``v``) is read as a chunk of one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from logpipe_backend.adapters.aws.chunks import ChunkError, decode_chunk
from logpipe_backend.core.ids import is_log_id, log_id_floor, log_id_time_ms
from logpipe_backend.core.query import LogQuery, QueryPage, matches
from logpipe_backend.core.record import Record

log = logging.getLogger(__name__)

# One DynamoDB Query call: the parameters given, the response (``Items``, ``LastEvaluatedKey``) returned.
QueryCall = Callable[[dict[str, Any]], dict[str, Any]]
CHUNKS_PER_CALL: Final = 100  # default Limit per Query call (DynamoDB also stops each call at 1 MB)


def _log_id(record: Record) -> str:
    return record["log_id"]


@dataclass
class _Walk:
    """The state of one page being read."""

    query: LogQuery
    span_ms: int
    lower: str | None  # exclusive: only ids above it are answered
    upper: str | None  # exclusive: only ids below it are answered
    buffer: list[Record] = field(default_factory=list)  # read, matching, not yet final; in answer order
    items: list[Record] = field(default_factory=list)
    skipped: int = 0
    boundary: str | None = None  # everything on the near side of it (in order) is final

    @property
    def desc(self) -> bool:
        return self.query.order == "desc"

    def wanted(self, log_id: str) -> bool:
        return (self.lower is None or log_id > self.lower) and (self.upper is None or log_id < self.upper)

    def add(self, item: dict[str, Any]) -> None:
        """Decode one chunk into the buffer and move the boundary past its first id."""
        first = str(item.get("log_id", {}).get("S", ""))
        try:
            records = decode_chunk(item, self.query.tenant_id)
        except ChunkError as exc:
            log.warning("skipping chunk %s/%s: %s", self.query.tenant_id, first, exc)
            self.skipped += 1
        else:
            self.buffer += [r for r in records if self.wanted(r["log_id"]) and matches(self.query, r)]
        if not is_log_id(first):  # not a key we wrote (skipped above): it moves no boundary
            return
        if self.desc:
            self.boundary = log_id_floor(log_id_time_ms(first) + self.span_ms + 1)
        else:
            self.boundary = first

    def final(self, record: Record) -> bool:
        if self.boundary is None:
            return False
        return record["log_id"] >= self.boundary if self.desc else record["log_id"] <= self.boundary

    def emit(self, everything: bool) -> bool:
        """Answer the buffer's final records in order (all of them when ``everything``); True when full."""
        self.buffer.sort(key=_log_id, reverse=self.desc)
        taken = 0
        last = self.items[-1]["log_id"] if self.items else None
        for record in self.buffer:
            if len(self.items) == self.query.limit or not (everything or self.final(record)):
                break
            taken += 1
            if record["log_id"] != last:  # the same record from two overlapping chunks: once
                self.items.append(record)
                last = record["log_id"]
        del self.buffer[:taken]
        return len(self.items) == self.query.limit

    def progressed(self) -> bool:
        """Whether the boundary is past the page's start (a cursor there moves the reader forward)."""
        if self.boundary is None:
            return False
        start = self.upper if self.desc else self.lower
        if start is None:
            return True
        return self.boundary < start if self.desc else self.boundary > start


def _bounds(query: LogQuery) -> tuple[str | None, str | None]:
    if query.order == "desc":
        return query.after, query.start_after
    lower = query.after
    if query.start_after is not None and (lower is None or query.start_after > lower):
        lower = query.start_after
    return lower, None


def _key_condition(walk: _Walk) -> tuple[str, dict[str, Any]]:
    """The Query's key condition: the tenant, and the range of first ids that may hold a wanted record."""
    values: dict[str, Any] = {":t": {"S": walk.query.tenant_id}}
    low = None if walk.lower is None else log_id_floor(log_id_time_ms(walk.lower) - walk.span_ms)
    if low is not None and walk.upper is not None:
        values[":lo"], values[":hi"] = {"S": low}, {"S": walk.upper}
        return "tenant_id = :t AND log_id BETWEEN :lo AND :hi", values
    if low is not None:
        values[":lo"] = {"S": low}
        return "tenant_id = :t AND log_id >= :lo", values
    if walk.upper is not None:
        values[":hi"] = {"S": walk.upper}
        return "tenant_id = :t AND log_id <= :hi", values
    return "tenant_id = :t", values


def _chunks(call: QueryCall, params: dict[str, Any]) -> Iterator[tuple[dict[str, Any] | None, bool, bool]]:
    """Every chunk item of the Query, with whether it ends a Query call and whether more may follow
    (None for a call that returned nothing but a LastEvaluatedKey: it still counts against the budget)."""
    start_key: dict[str, Any] | None = None
    while True:
        page_params = dict(params)
        if start_key is not None:
            page_params["ExclusiveStartKey"] = start_key
        response = call(page_params)
        items = response.get("Items", [])
        start_key = response.get("LastEvaluatedKey")
        for position, item in enumerate(items):
            last = position + 1 == len(items)
            yield item, last, not last or start_key is not None
        if start_key is None:
            return
        if not items:
            yield None, True, True


def read_page(
    call: QueryCall, query: LogQuery, *, span_ms: int, max_calls: int, chunks_per_call: int = CHUNKS_PER_CALL
) -> QueryPage:
    """One page of ``query`` read from chunks; ``call`` runs one Query (adding the table name). At most
    ``max_calls`` Query calls once the boundary has moved past the page's start."""
    lower, upper = _bounds(query)
    walk = _Walk(query, span_ms, lower, upper)
    condition, values = _key_condition(walk)
    params: dict[str, Any] = {
        "ScanIndexForward": not walk.desc,
        "ConsistentRead": True,  # a record the worker has just written is seen by the next query
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "Limit": chunks_per_call,
    }
    calls_done = 0
    for item, call_ended, more in _chunks(call, params):
        if item is not None:
            walk.add(item)
            if walk.emit(everything=False):
                return _page(walk, walk.items[-1]["log_id"] if walk.buffer or more else None)
        if call_ended:
            calls_done += 1
            if calls_done >= max_calls and walk.progressed() and more:
                # Read budget spent: answer what is final; resume at the boundary everything before which
                # (in order) was examined.
                return _page(walk, walk.boundary)
    walk.emit(everything=True)
    return _page(walk, walk.items[-1]["log_id"] if walk.buffer else None)


def _page(walk: _Walk, cursor: str | None) -> QueryPage:
    return QueryPage(items=walk.items, last_log_id=cursor, skipped_chunks=walk.skipped)
