"""SQLite plumbing shared by the local adapters: durable settings, a small connection pool, busy retries.

Every database is in WAL mode with ``synchronous=FULL``: a transaction that returned from COMMIT survives a
crash of the process *and* of the machine, which is what lets ingest answer 202 right after the queue's
commit. Writers take the lock up front (``BEGIN IMMEDIATE``, tried again in steps of 0.1 to 1 ms while
another writer holds it) so two writers never deadlock on an upgrade, and SQLITE_BUSY is retried with a
short backoff on top of SQLite's own busy timeout.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

BUSY_TIMEOUT_S = 10.0  # SQLite's own wait for a lock, per statement
BUSY_RETRIES = 5  # then our retries, for the rare BUSY the busy handler does not cover (WAL snapshots)
BUSY_BACKOFF_S = 0.05
# A writer waiting for another: SQLite's own busy handler sleeps 1, 2, 5, 10, 15 … ms between tries, so it
# wakes milliseconds after the lock was freed, while a worker holds logs.db's for only a few milliseconds a
# message: workers would spend a good part of their time asleep beside a free lock. BEGIN IMMEDIATE is tried
# again after 0.1 ms, doubling up to 1 ms.
WRITE_WAIT_FIRST_S = 0.0001
WRITE_WAIT_MAX_S = 0.001
POOL_MAX_IDLE = 8  # connections kept open for reuse; more can exist while in use


def connect(path: Path, page_size: int | None = None, *, pragmas: Sequence[str] = ()) -> sqlite3.Connection:
    """A connection in autocommit mode (we issue BEGIN ourselves), WAL, synchronous=FULL, secure_delete."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    if page_size is not None:
        # Taken only by a new database, before WAL mode is set; one that exists keeps its own page size.
        conn.execute(f"PRAGMA page_size={int(page_size)}")
    for pragma in pragmas:  # a database's own settings (e.g. auto_vacuum: before its first table)
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL, not WAL's usual NORMAL: NORMAL may lose the last commits on power loss, and a 202 is a promise.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    # Deleted content is overwritten with zeros, whatever this SQLite build's default: queue.db holds records
    # before redaction, and a stored message's body must not linger in free pages. It costs some CPU a
    # record (docs/performance.md); the secrets on disk would cost more.
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Database:
    """One SQLite file: a schema applied once, and a pool of connections safe to share between threads.

    A connection is used by one thread at a time (taken from the pool, given back after); the pool only
    saves reopening files. ``transaction`` runs a function inside ``BEGIN IMMEDIATE`` … ``COMMIT`` and
    retries it whole when the database is busy.
    """

    def __init__(
        self, path: Path, schema: str, *, page_size: int | None = None, pragmas: Sequence[str] = ()
    ) -> None:
        self.path = path
        self._page_size = page_size
        self._pragmas = tuple(pragmas)
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self.transaction(lambda conn: _apply(conn, schema))

    @contextlib.contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = connect(self.path, self._page_size, pragmas=self._pragmas)
        try:
            yield conn
        except BaseException:
            # A connection left inside a transaction by an error must not go back to the pool.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.rollback()
            raise
        finally:
            with self._lock:
                if not self._closed and len(self._idle) < POOL_MAX_IDLE and not conn.in_transaction:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                conn.close()

    def transaction(self, work: Callable[[sqlite3.Connection], T], *, write: bool = True) -> T:
        """Run ``work`` in one transaction (IMMEDIATE for writers), retrying it on SQLITE_BUSY."""
        for attempt in range(BUSY_RETRIES + 1):
            try:
                with self.connection() as conn:
                    if write:
                        _begin_immediate(conn)
                    else:
                        conn.execute("BEGIN")
                    try:
                        result = work(conn)
                    except BaseException:
                        conn.rollback()
                        raise
                    conn.execute("COMMIT")
                    return result
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == BUSY_RETRIES:
                    raise
                time.sleep(BUSY_BACKOFF_S * (2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on one consistent snapshot (a deferred read transaction)."""
        return self.transaction(work, write=False)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _begin_immediate(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting for another writer in short steps (see WRITE_WAIT_FIRST_S) for up to
    BUSY_TIMEOUT_S, SQLite's own handler off meanwhile; the statements after it keep that handler."""
    conn.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        wait = WRITE_WAIT_FIRST_S
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(wait)
            wait = min(wait * 2, WRITE_WAIT_MAX_S)
    finally:
        conn.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")


def _apply(conn: sqlite3.Connection, schema: str) -> None:
    # executescript would COMMIT our transaction first; run the statements one by one instead.
    for statement in schema.split(";"):
        if statement.strip():
            conn.execute(statement)
