"""_sqlite.Database: a writer waiting for another writer tries again in short steps, not SQLite's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from logpipe_backend.adapters.sqlite import _sqlite
from logpipe_backend.adapters.sqlite._sqlite import Database


def _database(tmp_path: Path) -> Database:
    return Database(tmp_path / "x.db", "CREATE TABLE IF NOT EXISTS t (v INTEGER)")


def test_a_writer_waits_in_short_steps_and_gets_the_lock_once_it_is_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short busy timeout: were the wait left to SQLite's own handler, the test would fail (busy), fast.
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT_S", 0.5)
    monkeypatch.setattr(_sqlite, "BUSY_RETRIES", 0)
    db = _database(tmp_path)
    blocker = sqlite3.connect(tmp_path / "x.db", timeout=0, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 6:
            blocker.execute("ROLLBACK")  # ... and lets go after the sixth wait

    monkeypatch.setattr(_sqlite.time, "sleep", sleep)
    try:
        db.transaction(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
    assert waits == [0.0001, 0.0002, 0.0004, 0.0008, 0.001, 0.001]
    assert db.read(lambda conn: conn.execute("SELECT v FROM t").fetchall()) == [(1,)]
    db.close()


def test_the_statements_of_a_write_keep_sqlites_busy_timeout(tmp_path: Path) -> None:
    db = _database(tmp_path)
    seen = db.transaction(lambda conn: conn.execute("PRAGMA busy_timeout").fetchone()[0])
    assert seen == int(_sqlite.BUSY_TIMEOUT_S * 1000)
    # ... and so does the connection, given back to the pool
    assert db.read(lambda conn: conn.execute("PRAGMA busy_timeout").fetchone()[0]) == seen
    db.close()


def test_a_writer_gives_up_after_the_busy_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(_sqlite, "BUSY_RETRIES", 0)
    db = _database(tmp_path)
    blocker = sqlite3.connect(tmp_path / "x.db", timeout=0, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            db.transaction(lambda conn: conn.execute("INSERT INTO t VALUES (2)"))
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert db.read(lambda conn: conn.execute("SELECT count(*) FROM t").fetchone()[0]) == 0
    db.close()
