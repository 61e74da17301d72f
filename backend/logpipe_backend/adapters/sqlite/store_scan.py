"""One page of one tenant's records from the ``records`` table: the key range, then the filters.

Rows come in key order, each decoded and checked by ``core.query.matches``. When the query has filters
SQLite can decide (``sql_filters.py``), they run inside the SELECT, so the rows they reject are never
decoded. A page still has a bound on the rows it examines, as DynamoDB's 1 MB page has: the SELECT also
returns, without its document, every key whose last two characters are ``00`` — a *marker*. Those are
a ULID's lowest random bits, and the ids of one request count up, so about one key in 1,024 is a marker.
Markers tell where the scan is without counting rows in SQL; past ``SQL_MAX_MARKERS`` of them (or
``SCAN_MAX_ROWS`` decoded rows) the page answers what it found and a cursor at the last key seen, instead
of scanning a large tenant without end.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Final

from logpipe_backend.adapters.sqlite.sql_filters import SqlFilter, sql_filter
from logpipe_backend.core.query import LogQuery, QueryPage, matches
from logpipe_backend.core.record import Record

SCAN_CHUNK: Final = 500  # rows per round trip from SQLite when nothing is filtered in SQL
SCAN_MAX_ROWS: Final = 20_000  # rows decoded per page
KEYS_PER_MARKER: Final = 1024  # 32 x 32: the last two Crockford characters of a log_id
MARKER_GLOB: Final = "*00"
SQL_MAX_MARKERS: Final = 2_000_000 // KEYS_PER_MARKER  # about 2 million keys examined per filtered page


class _Range:
    """The open key interval (lower, upper) still to read, narrowed from the near end as reading goes on."""

    def __init__(self, tenant_id: str, lower: str | None, upper: str | None, desc: bool) -> None:
        self.tenant_id, self.lower, self.upper, self.desc = tenant_id, lower, upper, desc

    def advance(self, key: str) -> None:
        """Everything up to ``key`` (in scan order) has been read."""
        if self.desc:
            self.upper = key
        else:
            self.lower = key

    def sql(self) -> tuple[str, list[Any]]:
        """``WHERE`` for the interval."""
        sql, args = "tenant_id = ?", [self.tenant_id]
        for op, key in ((">", self.lower), ("<", self.upper)):
            if key is not None:
                sql += f" AND log_id {op} ?"
                args.append(key)
        return sql, args

    @property
    def position(self) -> str | None:
        """The last key read, in scan order."""
        return self.upper if self.desc else self.lower

    @property
    def order(self) -> str:
        return "DESC" if self.desc else "ASC"


def scan_page(
    conn: sqlite3.Connection, query: LogQuery, lower: str | None, upper: str | None, desc: bool
) -> QueryPage:
    """The page of ``query`` within the key interval (lower, upper), walking it in ``desc`` order or not."""
    span = _Range(query.tenant_id, lower, upper, desc)
    where = sql_filter(query)
    if where.sql:
        return _filtered(conn, query, span, where)
    items: list[Record] = []
    decoded = 0
    while decoded < SCAN_MAX_ROWS:
        sql, args = span.sql()
        want = min(SCAN_CHUNK, SCAN_MAX_ROWS - decoded)
        rows = conn.execute(
            f"SELECT log_id, doc FROM records WHERE {sql} ORDER BY log_id {span.order} LIMIT ?", [*args, want]
        ).fetchall()
        for log_id, doc in rows:
            decoded += 1
            span.advance(log_id)
            if _take(query, doc, items):
                return QueryPage(items=items, last_log_id=log_id if _exists_beyond(conn, span) else None)
        if len(rows) < want:
            return QueryPage(items=items, last_log_id=None)  # the interval is read to its end
    return QueryPage(items=items, last_log_id=span.position)  # budget spent: go on from the last key read


def _filtered(conn: sqlite3.Connection, query: LogQuery, span: _Range, where: SqlFilter) -> QueryPage:
    """The rows SQLite's filter lets through (their documents) and the markers (no document), in order."""
    condition = f"(1{where.sql})"
    sql, args = span.sql()
    rows = conn.execute(
        f"SELECT log_id, CASE WHEN {condition} THEN doc END FROM records"
        f" WHERE {sql} AND ({condition} OR log_id GLOB ?) ORDER BY log_id {span.order}",
        [*where.args, *args, *where.args, MARKER_GLOB],
    )
    items: list[Record] = []
    decoded = markers = 0
    for log_id, doc in rows:
        span.advance(log_id)
        if doc is None:  # a marker the filter refused
            markers += 1
            if markers >= SQL_MAX_MARKERS:
                break
            continue
        decoded += 1
        if _take(query, doc, items):
            return QueryPage(items=items, last_log_id=log_id if _exists_beyond(conn, span) else None)
        if decoded >= SCAN_MAX_ROWS:
            break
    else:
        return QueryPage(items=items, last_log_id=None)  # the interval is read to its end
    return QueryPage(items=items, last_log_id=span.position)  # budget spent: go on from the last key read


def _take(query: LogQuery, doc: str, items: list[Record]) -> bool:
    """Add the record if it matches; whether the page is now full."""
    record: Record = json.loads(doc)
    if matches(query, record):
        items.append(record)
    return len(items) == query.limit


def _exists_beyond(conn: sqlite3.Connection, span: _Range) -> bool:
    """Whether any key is left in the interval (filters aside: an extra empty page is cheaper than reading
    ahead for a match)."""
    sql, args = span.sql()
    return conn.execute(f"SELECT 1 FROM records WHERE {sql} LIMIT 1", args).fetchone() is not None
