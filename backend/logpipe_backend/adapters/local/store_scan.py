"""One page of one tenant's records from the ``records`` table: the key range, then the filters.

Rows come in key order, ``SCAN_CHUNK`` at a time, each decoded and checked by ``core.query.matches``. When
the query has filters SQLite can decide (``sql_filters.py``), they run inside the SELECT, so rows they
reject are never decoded; the scan then walks the key range in windows of ``SQL_WINDOW`` keys, so a page
still has a bound on the rows it examines, as DynamoDB's 1 MB page has: past ``SQL_MAX_ROWS`` examined
(or ``SCAN_MAX_ROWS`` decoded) it answers what it found and a cursor at the last key examined, instead of
scanning a large tenant without end. A needle found in no row costs ``rows / SQL_MAX_ROWS`` requests.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Final

from logpipe_backend.adapters.local.sql_filters import SqlFilter, sql_filter
from logpipe_backend.core.query import LogQuery, QueryPage, matches
from logpipe_backend.core.record import Record

SCAN_CHUNK: Final = 500  # rows per round trip from SQLite
SCAN_MAX_ROWS: Final = 20_000  # rows decoded per page
SQL_WINDOW: Final = 100_000  # keys per window when SQLite filters
SQL_MAX_ROWS: Final = 2_000_000  # keys SQLite examines per page when it filters


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

    def sql(self, until: str | None = None) -> tuple[str, list[Any]]:
        """``WHERE`` for the interval, optionally cut at ``until`` (inclusive) in scan order."""
        sql, args = "tenant_id = ?", [self.tenant_id]
        for op, key in ((">", self.lower), ("<", self.upper)):
            if key is not None:
                sql += f" AND log_id {op} ?"
                args.append(key)
        if until is not None:
            sql += f" AND log_id {'>=' if self.desc else '<='} ?"
            args.append(until)
        return sql, args

    @property
    def order(self) -> str:
        return "DESC" if self.desc else "ASC"


def scan_page(
    conn: sqlite3.Connection, query: LogQuery, lower: str | None, upper: str | None, desc: bool
) -> QueryPage:
    """The page of ``query`` within the key interval (lower, upper), walking it in ``desc`` order or not."""
    span = _Range(query.tenant_id, lower, upper, desc)
    where = sql_filter(query)
    items: list[Record] = []
    decoded = examined = 0
    while decoded < SCAN_MAX_ROWS and examined < SQL_MAX_ROWS:
        window_end = _window_end(conn, span) if where.sql else None
        exhausted = False
        while not exhausted and decoded < SCAN_MAX_ROWS:  # this window (the whole interval if no SQL filter)
            want = min(SCAN_CHUNK, SCAN_MAX_ROWS - decoded)
            rows = _candidates(conn, span, where, window_end, want)
            exhausted = len(rows) < want
            for log_id, doc in rows:
                decoded += 1
                span.advance(log_id)
                record: Record = json.loads(doc)
                if matches(query, record):
                    items.append(record)
                    if len(items) == query.limit:
                        more = _exists_beyond(conn, span)
                        return QueryPage(items=items, last_log_id=log_id if more else None)
        if not exhausted:
            break  # the decoding budget ran out inside a window: the cursor is the last row read
        if window_end is None:
            return QueryPage(items=items, last_log_id=None)  # the interval is read to its end
        span.advance(window_end)
        examined += SQL_WINDOW
    # Budget spent: what was found, and a cursor to go on from the last key examined.
    last = span.upper if desc else span.lower
    return QueryPage(items=items, last_log_id=last)


def _window_end(conn: sqlite3.Connection, span: _Range) -> str | None:
    """The key ``SQL_WINDOW`` keys into the interval, or None when fewer are left."""
    sql, args = span.sql()
    row = conn.execute(
        f"SELECT log_id FROM records WHERE {sql} ORDER BY log_id {span.order} LIMIT 1 OFFSET ?",
        [*args, SQL_WINDOW - 1],
    ).fetchone()
    return None if row is None else str(row[0])


def _candidates(
    conn: sqlite3.Connection, span: _Range, where: SqlFilter, window_end: str | None, limit: int
) -> list[tuple[str, str]]:
    sql, args = span.sql(window_end)
    return conn.execute(
        f"SELECT log_id, doc FROM records WHERE {sql}{where.sql} ORDER BY log_id {span.order} LIMIT ?",
        [*args, *where.args, limit],
    ).fetchall()


def _exists_beyond(conn: sqlite3.Connection, span: _Range) -> bool:
    """Whether any key is left in the interval (filters aside: an extra empty page is cheaper than reading
    ahead for a match)."""
    sql, args = span.sql()
    return conn.execute(f"SELECT 1 FROM records WHERE {sql} LIMIT 1", args).fetchone() is not None
