"""The retention sweep of the local stack: expired records deleted in small transactions, space given back.

``logpipe serve`` runs :meth:`RetentionSweep.run_once` every ``--retention-sweep`` seconds in a thread of
the supervisor. For each tenant with stored records, the records received before ``now - retention`` (the
tenant's own, from ``tenants set-retention``, else ``--retention``) are a key range of logs.db's primary key
(``core/retention.py``): they are deleted ``BATCH_ROWS`` at a time, each batch its own short write
transaction, with a pause between batches so ingest's workers and the admin API's readers get the lock in
between (bench/retention.py measures what this costs ingest). Then the free pages are returned to the file
system ``VACUUM_PAGES`` at a time (``PRAGMA incremental_vacuum``), so logs.db shrinks instead of only
reusing its free pages.

logs.db made by an earlier version has ``auto_vacuum=NONE``, which only a full VACUUM can change:
:func:`enable_incremental_vacuum` does it once, when ``logpipe serve`` starts (before it serves).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from logpipe_backend.adapters.sqlite._sqlite import connect
from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore
from logpipe_backend.adapters.sqlite.store import SqliteStore
from logpipe_backend.core.retention import cutoff_log_id

log = logging.getLogger("logpipe.retention")

# Rows deleted per write transaction. With secure_delete each deleted row's page is rewritten (zeroed), so
# a batch holds the write lock for a few milliseconds; a worker's message waits at most that long.
BATCH_ROWS: Final = 500
VACUUM_PAGES: Final = 64  # 1 MiB of 16 KiB pages per incremental_vacuum transaction
# Between two write transactions of the sweep: the lock is free for this long, so a waiting writer (whose
# BEGIN IMMEDIATE retries every 0.1-1 ms, _sqlite.py) gets it before the sweep takes it again.
PAUSE_S: Final = 0.002
DEFAULT_SWEEP_S: Final = 60.0
_AUTO_VACUUM_INCREMENTAL: Final = 2


@dataclass(frozen=True)
class SweepResult:
    deleted: int
    tenants: int
    pages_freed: int


def enable_incremental_vacuum(path: Path) -> bool:
    """Switch an existing database to ``auto_vacuum=INCREMENTAL`` with its one VACUUM; True if it did.

    A VACUUM rewrites the whole file (it needs about as much free space again) and holds the write lock while
    it runs, so it is done at start, before anything else uses the database, and only once."""
    if not path.exists():
        return False
    conn = connect(path)
    try:
        if int(conn.execute("PRAGMA auto_vacuum").fetchone()[0]) == _AUTO_VACUUM_INCREMENTAL:
            return False
        size_mb = path.stat().st_size / 2**20
        log.warning("logs.db: one-time VACUUM (%.1f MiB) to turn on incremental vacuum", size_mb)
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("VACUUM")
        return True
    finally:
        conn.close()


def store_bytes(path: Path) -> int:
    """Bytes the store takes on disk: the database and its WAL."""
    total = 0
    for part in (path, path.with_name(path.name + "-wal")):
        with contextlib.suppress(FileNotFoundError):
            total += part.stat().st_size
    return total


class RetentionSweep:
    """Deletes expired records of every tenant; one call of :meth:`run_once` is one sweep."""

    def __init__(
        self,
        store: SqliteStore,
        keys: SqliteKeyStore,
        default_retention_s: int,
        *,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        pause_s: float = PAUSE_S,
        stop: threading.Event | None = None,
    ) -> None:
        self._store = store
        self._keys = keys
        self._default = default_retention_s
        self._clock_ms = clock_ms
        self._pause_s = pause_s
        # Set when the stack stops: a long sweep ends between two batches (the next one goes on from there).
        self._stop = stop or threading.Event()

    def run_once(self) -> SweepResult:
        own = self._keys.retentions()
        now = self._clock_ms()
        deleted = 0
        tenants = self._store.tenant_ids()
        for tenant_id in tenants:
            cutoff = cutoff_log_id(now, own.get(tenant_id, self._default))
            if cutoff is None:
                continue
            if self._stop.is_set():
                break
            while True:
                gone = self._store.delete_range(tenant_id, cutoff, BATCH_ROWS)
                deleted += gone
                if gone < BATCH_ROWS or self._stop.is_set():
                    break
                time.sleep(self._pause_s)
        freed = 0 if self._stop.is_set() else give_back_space(self._store, self._pause_s)
        if deleted:
            log.info("retention: %d expired record(s) deleted, %d page(s) freed", deleted, freed)
        return SweepResult(deleted=deleted, tenants=len(tenants), pages_freed=freed)


def give_back_space(store: SqliteStore, pause_s: float = PAUSE_S) -> int:
    """Return logs.db's free pages to the file system, VACUUM_PAGES per transaction; how many went."""
    freed = 0
    while (free := store.free_pages()) > 0:
        store.give_back(VACUUM_PAGES)
        after = store.free_pages()
        if after >= free:  # nothing more can go now (e.g. auto_vacuum is off): do not spin
            break
        freed += free - after
        time.sleep(pause_s)
    return freed


def run_sweeps(sweep: RetentionSweep, interval_s: float, stop: threading.Event) -> None:
    """The supervisor's sweep thread: a sweep every ``interval_s`` until ``stop``; errors are logged and the
    next sweep tries again (a busy or full disk must not end retention for good)."""
    while not stop.wait(interval_s):
        try:
            sweep.run_once()
        except sqlite3.Error:
            log.exception("retention sweep failed; trying again in %.0fs", interval_s)
