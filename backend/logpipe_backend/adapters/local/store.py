"""The record store on SQLite (``logs.db``): one table keyed (tenant_id, log_id), like the DynamoDB table.

``put_records`` is an upsert on the key, so a message delivered twice (at-least-once queue) leaves one copy.
``query`` reads one tenant's key range only — ``WHERE tenant_id = ?`` on the primary key — and applies the
non-key filters with :func:`logpipe_backend.core.query.matches`, the same function the DynamoDB store uses,
so both stores answer a query identically.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from logpipe_backend.adapters.local._sqlite import Database
from logpipe_backend.core.jsonenc import compact_encoder
from logpipe_backend.core.query import LogQuery, QueryPage, matches
from logpipe_backend.core.record import Record

# Rows read per round trip while filtering, and at most per query: like DynamoDB's 1 MB page, a query
# with a selective filter returns what it found so far plus a cursor instead of scanning without end.
SCAN_CHUNK = 500
SCAN_MAX_ROWS = 20_000
# One C encoder for every record (core/jsonenc.py): json.dumps with options builds a new encoder per call
# (measured ~1.5 µs a record on the worker's hot path).
_ENCODE = compact_encoder()
# SQLite's page size for a new logs.db (its default: 4 KiB). A commit writes each changed page to the WAL as
# a frame of its own (header, checksum, write call), so a message's ~1 MB of rows takes 4x fewer frames.
# Measured on the benchmark's messages: insert + commit 2.41 -> 1.74 us/record; 1-record message 57 -> 66 us.
PAGE_SIZE = 16_384

# Taken only by a new logs.db (before its first table): freed pages can be given back to the file system
# (PRAGMA incremental_vacuum: adapters/local/retention.py), not only reused. A logs.db made by an earlier
# version is switched once by a VACUUM (retention.enable_incremental_vacuum).
_PRAGMAS = ("auto_vacuum=INCREMENTAL",)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    tenant_id TEXT NOT NULL,
    log_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (tenant_id, log_id)
) WITHOUT ROWID
"""


class SqliteStore:
    """Implements ``ports.Store``."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, _SCHEMA, page_size=PAGE_SIZE, pragmas=_PRAGMAS)

    @property
    def path(self) -> Path:
        return self._db.path

    def put_records(self, records: Sequence[Record], docs: Sequence[str | None] | None = None) -> None:
        encode = _ENCODE
        if docs is None:
            rows = [(r["tenant_id"], r["log_id"], encode(r)) for r in records]
        else:
            # The worker hands over the JSON a record arrived in when redaction left it unchanged (most
            # records): writing it as is saves encoding it again (~3 us a record).
            rows = [
                (r["tenant_id"], r["log_id"], encode(r) if doc is None else doc)
                for r, doc in zip(records, docs, strict=True)
            ]

        def upsert(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO records (tenant_id, log_id, doc) VALUES (?, ?, ?)"
                " ON CONFLICT (tenant_id, log_id) DO UPDATE SET doc = excluded.doc",
                rows,
            )

        self._db.transaction(upsert)  # one transaction per batch: all of a message's records or none

    def query(self, query: LogQuery) -> QueryPage:
        descending = query.order == "desc"
        # The key range: this tenant only; above ``after``; past the previous page's last key.
        lower = query.after
        upper: str | None = None
        if query.start_after is not None:
            if descending:
                upper = query.start_after
            elif lower is None or query.start_after > lower:
                lower = query.start_after
        return self._db.read(lambda conn: self._scan(conn, query, lower, upper, descending))

    def _scan(
        self, conn: sqlite3.Connection, query: LogQuery, lower: str | None, upper: str | None, desc: bool
    ) -> QueryPage:
        items: list[Record] = []
        scanned = 0
        last_key: str | None = None
        while scanned < SCAN_MAX_ROWS:
            sql = "SELECT log_id, doc FROM records WHERE tenant_id = ?"
            args: list[Any] = [query.tenant_id]
            lo, hi = lower, upper
            if last_key is not None:  # continue after the chunk already read
                if desc:
                    hi = last_key
                else:
                    lo = last_key
            if lo is not None:
                sql += " AND log_id > ?"
                args.append(lo)
            if hi is not None:
                sql += " AND log_id < ?"
                args.append(hi)
            sql += f" ORDER BY log_id {'DESC' if desc else 'ASC'} LIMIT ?"
            args.append(min(SCAN_CHUNK, SCAN_MAX_ROWS - scanned))
            rows = conn.execute(sql, args).fetchall()
            if not rows:
                return QueryPage(items=items, last_log_id=None)
            for log_id, doc in rows:
                scanned += 1
                last_key = log_id
                record: Record = json.loads(doc)
                if matches(query, record):
                    items.append(record)
                    if len(items) == query.limit:
                        # More may follow; an extra empty page is cheaper than reading ahead.
                        more = self._exists_beyond(conn, query.tenant_id, log_id, lower, upper, desc)
                        return QueryPage(items=items, last_log_id=log_id if more else None)
        # Scan budget spent: hand back what was found and a cursor to go on from where reading stopped.
        return QueryPage(items=items, last_log_id=last_key)

    @staticmethod
    def _exists_beyond(
        conn: sqlite3.Connection, tenant_id: str, key: str, lower: str | None, upper: str | None, desc: bool
    ) -> bool:
        if desc:
            sql, args = "SELECT 1 FROM records WHERE tenant_id = ? AND log_id < ?", [tenant_id, key]
            if lower is not None:
                sql += " AND log_id > ?"
                args.append(lower)
        else:
            sql, args = "SELECT 1 FROM records WHERE tenant_id = ? AND log_id > ?", [tenant_id, key]
            if upper is not None:
                sql += " AND log_id < ?"
                args.append(upper)
        return conn.execute(sql + " LIMIT 1", args).fetchone() is not None

    def count(self, tenant_id: str | None = None) -> int:
        """Records stored (for one tenant, or all): used by ``healthz``-style checks and tests."""
        if tenant_id is None:
            return self._db.read(lambda c: int(c.execute("SELECT count(*) FROM records").fetchone()[0]))
        return self._db.read(
            lambda c: int(
                c.execute("SELECT count(*) FROM records WHERE tenant_id = ?", (tenant_id,)).fetchone()[0]
            )
        )

    # -- retention and erasure (adapters/local/retention.py, purge.py) ----------------------------------

    def tenant_ids(self) -> list[str]:
        """Every tenant with a stored record: a skip-scan of the key, one index seek a tenant."""

        def scan(conn: sqlite3.Connection) -> list[str]:
            found: list[str] = []
            while True:
                row = conn.execute(
                    "SELECT tenant_id FROM records WHERE tenant_id > ? ORDER BY tenant_id LIMIT 1",
                    (found[-1] if found else "",),
                ).fetchone()
                if row is None:
                    return found
                found.append(str(row[0]))

        return self._db.read(scan)

    def delete_range(self, tenant_id: str, below: str | None, limit: int) -> int:
        """Delete at most ``limit`` of the tenant's oldest records (those with log_id < ``below``; all when
        None) in one short transaction; how many went. A small ``limit`` keeps the write lock brief."""
        bound = "" if below is None else " AND log_id < ?"
        args: tuple[object, ...] = (tenant_id,) if below is None else (tenant_id, below)
        sql = (
            "DELETE FROM records WHERE tenant_id = ? AND log_id IN"
            f" (SELECT log_id FROM records WHERE tenant_id = ?{bound} ORDER BY log_id LIMIT ?)"
        )
        return self._db.transaction(lambda c: c.execute(sql, (tenant_id, *args, limit)).rowcount)

    def free_pages(self) -> int:
        return self._db.read(lambda c: int(c.execute("PRAGMA freelist_count").fetchone()[0]))

    def give_back(self, pages: int) -> None:
        """Return up to ``pages`` free pages to the file system (the file shrinks), in one transaction."""
        self._db.transaction(lambda c: c.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall())

    def close(self) -> None:
        self._db.close()
