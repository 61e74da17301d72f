"""``logpipe tenants purge`` on the local stack: a tenant's keys, queued messages and records, all gone.

The steps and their order are ``core/purge.py``'s. Here: the keys are revoked in tenants.db, where the
purge is also marked (``purge_started_ms``, shown by ``tenants list``); the tenant's messages leave
queue.db's queue and DLQ (each message's envelope names its tenant); the records leave logs.db
``BATCH_ROWS`` at a time, each batch its own short transaction, so a running ``logpipe serve`` keeps
ingesting and answering queries for other tenants meanwhile; then the freed pages go back to the file system.

Safe to run while ``logpipe serve`` runs, and again after a crash: each step deletes what is left.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Final

from logpipe_backend.adapters.sqlite._sqlite import Database
from logpipe_backend.adapters.sqlite.datadir import DataDir
from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore
from logpipe_backend.adapters.sqlite.queue import read_body
from logpipe_backend.adapters.sqlite.retention import BATCH_ROWS, PAUSE_S, give_back_space
from logpipe_backend.adapters.sqlite.store import SqliteStore
from logpipe_backend.core.purge import Progress, PurgeCounts, UnknownTenant, no_progress, tenant_of

SCAN_ROWS: Final = 200  # queue rows read per transaction while looking for the tenant's messages


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class LocalPurge:
    """The local stack's data dir, opened for purging one tenant at a time."""

    def __init__(self, data_dir: DataDir) -> None:
        data_dir.create()
        self._keys = SqliteKeyStore(data_dir.tenants_db)
        self._store = SqliteStore(data_dir.logs_db)
        self._queue = Database(data_dir.queue_db, "") if data_dir.queue_db.exists() else None

    def plan(self, tenant_id: str) -> PurgeCounts:
        """What :meth:`purge` would delete, deleting nothing."""
        queued, dead = self._messages(tenant_id)
        return PurgeCounts(records=self._store.count(tenant_id), queued=len(queued), dead=len(dead))

    def purge(self, tenant_id: str, progress: Progress = no_progress) -> PurgeCounts:
        known = any(t.tenant_id == tenant_id for t in self._keys.list_tenants())
        if not known and self._store.count(tenant_id) == 0:
            raise UnknownTenant(f"no tenant {tenant_id!r}, and no record stored for it")
        counts = PurgeCounts()
        self._keys.mark_purge(tenant_id, _now_ms())  # makes the tenant's row if there was none
        self._keys.revoke_tenant(tenant_id)
        queued, dead = self._messages(tenant_id)
        counts.queued = self._delete_messages("queued", queued, progress)
        counts.dead = self._delete_messages("dead", dead, progress)
        while gone := self._store.delete_range(tenant_id, None, BATCH_ROWS):
            counts.records += gone
            progress("records", gone)
            time.sleep(PAUSE_S)  # the write lock is free a moment for ingest's workers
        give_back_space(self._store)
        self._keys.mark_purge(tenant_id, None)
        return counts

    def _messages(self, tenant_id: str) -> tuple[list[Any], list[Any]]:
        """(seqs of queued messages, ids of dead letters) of the tenant."""
        return (
            self._tenant_rows("message_bodies", "seq", tenant_id),
            self._tenant_rows("dlq", "message_id", tenant_id),
        )

    def _tenant_rows(self, table: str, key: str, tenant_id: str) -> list[Any]:
        """The ``key`` of every row of ``table`` whose body is a message of ``tenant_id``, read in pages."""
        if self._queue is None:
            return []
        found: list[Any] = []
        last: Any = None
        while True:

            def page(conn: sqlite3.Connection, after: Any = last) -> list[Any]:
                where = "" if after is None else f" WHERE {key} > ?"
                sql = f"SELECT {key}, body FROM {table}{where} ORDER BY {key} LIMIT {SCAN_ROWS}"
                return conn.execute(sql, () if after is None else (after,)).fetchall()

            rows = self._queue.read(page)
            for row_key, stored in rows:
                try:
                    if tenant_of(read_body(stored)) == tenant_id:
                        found.append(row_key)
                except ValueError:  # not a message logpipe made: not this tenant's either
                    continue
            if len(rows) < SCAN_ROWS:
                return found
            last = rows[-1][0]

    def _delete_messages(self, kind: str, keys: list[Any], progress: Progress) -> int:
        if self._queue is None:
            return 0
        done = 0
        for start in range(0, len(keys), SCAN_ROWS):

            def remove(conn: sqlite3.Connection, batch: list[Any] = keys[start : start + SCAN_ROWS]) -> int:
                gone = 0
                for key in batch:
                    if kind == "queued":
                        gone += conn.execute("DELETE FROM message_state WHERE seq = ?", (key,)).rowcount
                        conn.execute("DELETE FROM message_bodies WHERE seq = ?", (key,))
                    else:
                        gone += conn.execute("DELETE FROM dlq WHERE message_id = ?", (key,)).rowcount
                return gone

            gone = self._queue.transaction(remove)
            done += gone
            progress(kind, gone)
        return done

    def close(self) -> None:
        for part in (self._keys, self._store, self._queue):
            if part is not None:
                part.close()
