"""``logpipe backup DIR``: a consistent copy of a data dir while ``logpipe serve`` keeps running.

Each database is copied with SQLite's online backup API in one step (``Connection.backup`` with all pages
at once): the copy reads one snapshot of the source (a WAL read transaction), so writers go on meanwhile
and the copy is that snapshot exactly. Copied page by page in several steps instead, a backup restarts each
time another connection writes, which under steady ingest can be for ever.

The order makes the copy hold every record the stack had accepted (answered 202) when the backup began:
queue.db first, then logs.db. A record accepted before the queue's snapshot is either still queued in it, or
was stored before it, so before the later logs.db snapshot; a message in both copies is stored again by the
copy's workers, and the store's upsert keeps one record. tenants.db (the keys) and ``admin_token`` come
along, so ``logpipe serve --data-dir DIR`` serves the copy with the same keys and token.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from logpipe_backend.adapters.sqlite.datadir import DataDir

# In this order (see the module docstring): what is queued before what is stored.
DATABASES = ("queue.db", "logs.db", "tenants.db")
FILES = ("admin_token",)


class BackupError(Exception):
    """The backup cannot be made; the message says why, in one line."""


@dataclass(frozen=True)
class BackupResult:
    target: Path
    databases: tuple[str, ...]
    bytes: int
    seconds: float


def backup(source: DataDir, target: Path) -> BackupResult:
    """Copy ``source``'s databases and token into ``target`` (a new or empty directory)."""
    if not source.logs_db.exists() and not source.queue_db.exists():
        raise BackupError(f"no logpipe data in {source.root} (has `logpipe serve` run there?)")
    if target.resolve() == source.root.resolve():
        raise BackupError("the backup directory is the data dir itself")
    if target.exists() and any(target.iterdir()):
        raise BackupError(f"{target} is not empty: back up into a new or empty directory")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    started = time.monotonic()
    copied: list[str] = []
    for name in DATABASES:
        if (source.root / name).exists():
            _copy_database(source.root / name, target / name)
            copied.append(name)
    for name in FILES:
        if (source.root / name).exists():
            shutil.copy2(source.root / name, target / name)  # copy2 keeps the token's 0600
    total = sum(f.stat().st_size for f in target.iterdir() if f.is_file())
    return BackupResult(target, tuple(copied), total, time.monotonic() - started)


def _copy_database(source: Path, target: Path) -> None:
    # Read-only: the backup must never change (or create) the database it copies.
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=10)
    try:
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)  # pages=-1: every page from one snapshot (see the module docstring)
        finally:
            dst.close()
    finally:
        src.close()
    with open(target, "rb") as fh:  # durable before the command says "done"
        os.fsync(fh.fileno())
    with contextlib.suppress(FileNotFoundError):  # the copy is complete in its main file
        (target.with_name(target.name + "-journal")).unlink()
