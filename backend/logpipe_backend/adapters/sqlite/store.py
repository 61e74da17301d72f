"""The record store on SQLite (``logs.db``): one table keyed (tenant_id, log_id), like the DynamoDB table.

``put_records`` is an upsert on the key, so a message delivered twice (at-least-once queue) leaves one copy.
``query`` reads one tenant's key range only — ``WHERE tenant_id = ?`` on the primary key — and applies the
non-key filters with :func:`logpipe_backend.core.query.matches`, the same function the DynamoDB store uses,
so both stores answer a query identically.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from logpipe_backend.adapters.sqlite._sqlite import Database
from logpipe_backend.adapters.sqlite.store_scan import scan_page
from logpipe_backend.core.codec import compact_encoder
from logpipe_backend.core.query import LogQuery, QueryPage
from logpipe_backend.core.record import Record

# One C encoder for every record (core/codec.py): json.dumps with options builds a new encoder per call,
# for every record on the worker's hot path.
_ENCODE = compact_encoder()
# SQLite's page size for a new logs.db (its default: 4 KiB). A commit writes each changed page to the WAL as
# a frame of its own (header, checksum, write call), so a message's ~1 MB of rows takes 4x fewer frames; a
# one-record message pays a little more per commit (figures: docs/performance.md).
PAGE_SIZE = 16_384

# Taken only by a new logs.db (before its first table): freed pages can be given back to the file system
# (PRAGMA incremental_vacuum: adapters/sqlite/retention.py), not only reused. A logs.db made by an earlier
# version is switched once by a VACUUM (retention.enable_incremental_vacuum).
_PRAGMAS = ("auto_vacuum=INCREMENTAL",)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    tenant_id TEXT NOT NULL,
    log_id TEXT NOT NULL,
    doc TEXT NOT NULL,
    plain INTEGER,
    PRIMARY KEY (tenant_id, log_id)
) WITHOUT ROWID
"""


def is_plain(doc: str) -> int:
    """1 when ``doc`` is ASCII with no ``\\u`` escape: then SQL's ASCII-only LIKE finds exactly what
    ``str.casefold`` finds in it (``sql_filters.py``); 0 otherwise."""
    return 1 if doc.isascii() and "\\u" not in doc else 0


def _add_plain_column(conn: sqlite3.Connection) -> None:
    # logs.db files written before the column existed: rows without it (NULL) are filtered in Python only.
    columns = {row[1] for row in conn.execute("PRAGMA table_info(records)")}
    if "plain" not in columns:
        conn.execute("ALTER TABLE records ADD COLUMN plain INTEGER")


class SqliteStore:
    """Implements ``ports.Store``."""

    def __init__(self, path: Path) -> None:
        self._db = Database(path, _SCHEMA, page_size=PAGE_SIZE, pragmas=_PRAGMAS)
        self._db.transaction(_add_plain_column)

    @property
    def path(self) -> Path:
        return self._db.path

    def put_records(self, records: Sequence[Record], docs: Sequence[str | None] | None = None) -> None:
        encode = _ENCODE
        if docs is None:
            texts = [encode(r) for r in records]
        else:
            # The worker hands over the JSON a record arrived in when redaction left it unchanged (most
            # records): writing it as is saves encoding it again.
            texts = [encode(r) if doc is None else doc for r, doc in zip(records, docs, strict=True)]
        rows = [
            (r["tenant_id"], r["log_id"], text, is_plain(text))
            for r, text in zip(records, texts, strict=True)
        ]

        def upsert(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "INSERT INTO records (tenant_id, log_id, doc, plain) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant_id, log_id) DO UPDATE SET doc = excluded.doc, plain = excluded.plain",
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
        return self._db.read(lambda conn: scan_page(conn, query, lower, upper, descending))

    def count(self, tenant_id: str | None = None) -> int:
        """Records stored (for one tenant, or all): used by ``healthz``-style checks and tests."""
        if tenant_id is None:
            return self._db.read(lambda c: int(c.execute("SELECT count(*) FROM records").fetchone()[0]))
        return self._db.read(
            lambda c: int(
                c.execute("SELECT count(*) FROM records WHERE tenant_id = ?", (tenant_id,)).fetchone()[0]
            )
        )

    # -- retention and erasure (adapters/sqlite/retention.py, purge.py) ----------------------------------

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
