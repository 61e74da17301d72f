"""A queue with SQS's semantics on SQLite (``queue.db``), and the idempotency claims beside it.

What SQS promises, kept here:

- ``send`` puts every body in one transaction, so a request is queued whole or not at all; it returns only
  after COMMIT (WAL, synchronous=FULL), which is what ingest's 202 stands on.
- ``receive`` leases up to N visible messages for a visibility timeout: each gets a fresh receipt handle and
  its receive count goes up. A lease that is not deleted in time expires and the message is delivered again
  (at-least-once; the store's upsert makes it exactly once in the store).
- A message already received ``max_receives`` times is moved to the DLQ (table ``dlq``) instead of being
  delivered again — the same rule as an SQS redrive policy with ``maxReceiveCount``.
- ``delete(receipt)`` removes a message (``delete_batch`` several, in one transaction); a stale receipt (the
  lease expired and someone else holds it now) deletes nothing, so only the current holder acknowledges.
- ``depth`` counts every message not deleted (waiting or leased): 0 means everything accepted is stored.

A message's lease state (``message_state``: a few small columns) and its body (``message_bodies``, ~1 MB)
are rows of two tables: SQLite rewrites a whole row on UPDATE, so with the body beside them every lease
and visibility change would rewrite the whole body while holding the write lock that every ingest needs;
apart, it writes a few bytes. The view ``messages`` shows them joined, as one table did in earlier versions
(``logpipe dlq``-style inspection and tests read it), and a queue.db of an earlier version is converted
when it is first opened.

A body is kept deflated (a BLOB of raw deflate, isal level 1; :func:`read_body` gives it back as text): a
1 MB message is then ~160 KB, 10 pages of 16 KiB instead of 62, each written to the WAL when it is sent and
zeroed when it is deleted (``secure_delete``, set on every connection: the queue holds records not yet
redacted). Bodies stored as TEXT by an earlier version, or without isal, are read as they are.
"""

from __future__ import annotations

import logging
import secrets
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from logpipe_backend.adapters.sqlite._sqlite import Database
from logpipe_backend.core import codec
from logpipe_backend.core.envelope import MAX_EXPANDED_BYTES
from logpipe_backend.ports import IdempotencyClaim, QueueUnavailable

log = logging.getLogger("logpipe.queue")

DEFAULT_MAX_RECEIVES = 5  # as the AWS stack's redrive policy
DEFAULT_VISIBILITY_TIMEOUT_S = 30.0
IDEMPOTENCY_TTL_MS = 24 * 3600 * 1000  # docs/contract.md §3: "within 24 h"
_IDEMPOTENCY_PURGE_EVERY = 500  # claims between purges of expired ones
# SQLite's page size for a new queue.db (its default: 4 KiB). Each page of a sent body is one WAL frame
# (header, checksum, write call): at 4 KiB a ~1 MB body is 4x the frames, and send is on every ingest's path.
# Larger pages (64 KiB) cost a small message more than they save a big one, and make the WAL outgrow the
# 1 MiB disk of tests/faults' disk-full case. Figures: docs/performance.md.
PAGE_SIZE = 16_384
# The longest body send takes (its UTF-8), and so the most a stored body may inflate to: ingest packs at most
# ~1 MB in a message (core/envelope.py), and a crafted BLOB in queue.db cannot make a worker inflate more.
MAX_BODY_BYTES = MAX_EXPANDED_BYTES
# Bodies are stored deflated (isal level 1) only when isal is there: fewer bytes written, WAL-framed and
# zeroed on delete (secure_delete) outweigh deflating and inflating them. The standard library's zlib at
# level 1 costs more than it saves, so without isal bodies are stored as text. Figures: docs/performance.md.
_DEFLATE_LEVEL = 1
# Raw deflate (wbits -15): no zlib header nor Adler-32 to compute each way; a stored TEXT body had no checksum
# either, and SQLite's own page checks cover the file.
_RAW_DEFLATE = -15
_READ_ERRORS: tuple[type[Exception], ...] = (*codec.ZLIB_ERRORS, UnicodeDecodeError)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS message_state (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    sent_ms INTEGER NOT NULL,
    visible_at_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    receipt_handle TEXT UNIQUE,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS message_state_visible ON message_state (visible_at_ms, seq);
CREATE TABLE IF NOT EXISTS message_bodies (
    seq INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dlq (
    message_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    sent_ms INTEGER NOT NULL,
    moved_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS idempotency (
    tenant_id TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    body_digest TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, idem_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_age ON idempotency (first_seen_ms)
"""


_MESSAGES_VIEW = """
CREATE VIEW messages AS
SELECT s.seq, s.message_id, b.body, s.sent_ms, s.visible_at_ms, s.receive_count, s.first_receive_ms,
       s.receipt_handle, s.last_error
FROM message_state AS s JOIN message_bodies AS b ON b.seq = s.seq
"""
_STATE_COLUMNS = (
    "seq, message_id, sent_ms, visible_at_ms, receive_count, first_receive_ms, receipt_handle, last_error"
)


def _upgrade(conn: sqlite3.Connection) -> None:
    """Convert the one-table ``messages`` of an earlier version, then (re)create the view of that name.

    Runs in the schema's write transaction, so processes opening queue.db together convert it once."""
    row = conn.execute("SELECT type FROM sqlite_master WHERE name = 'messages'").fetchone()
    if row is not None and row[0] == "table":
        conn.execute(f"INSERT INTO message_state ({_STATE_COLUMNS}) SELECT {_STATE_COLUMNS} FROM messages")
        conn.execute("INSERT INTO message_bodies (seq, body) SELECT seq, body FROM messages")
        conn.execute("DROP TABLE messages")  # its index goes with it
        row = None
    if row is None:
        conn.execute(_MESSAGES_VIEW)


def _open(path: Path) -> Database:
    db = Database(path, _SCHEMA, page_size=PAGE_SIZE)
    db.transaction(_upgrade)
    return db


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int  # including this receive
    sent_ms: int
    first_receive_ms: int


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    sent_ms: int
    moved_ms: int
    receive_count: int
    last_error: str | None


class SqliteQueue:
    """Implements ``ports.Queue`` (send, approximate_depth) plus the consumer side the worker loop uses."""

    def __init__(self, path: Path, *, max_receives: int = DEFAULT_MAX_RECEIVES) -> None:
        if max_receives < 1:
            raise ValueError("max_receives must be at least 1")
        self.max_receives = max_receives
        self._db = _open(path)

    # -- producer (ports.Queue) ------------------------------------------------------------------------

    def send(self, bodies: Sequence[str]) -> None:
        """Queue every body, or none (QueueUnavailable); ValueError for a body over MAX_BODY_BYTES."""
        now = _now_ms()
        rows = [(str(uuid.uuid4()), _stored(body), now, now) for body in bodies]  # deflated outside the lock

        def insert(conn: sqlite3.Connection) -> None:
            for message_id, body, sent_ms, visible_at_ms in rows:
                _insert(conn, message_id, body, sent_ms, visible_at_ms)

        try:
            self._db.transaction(insert)
        except sqlite3.Error as exc:  # locked for too long, disk full, I/O error: nothing was committed
            raise QueueUnavailable(f"local queue unavailable: {exc}") from exc

    def approximate_depth(self) -> int:
        return self._db.read(
            lambda conn: int(conn.execute("SELECT count(*) FROM message_state").fetchone()[0])
        )

    # -- consumer (the local worker loop) --------------------------------------------------------------

    def receive(self, max_messages: int, visibility_timeout_s: float) -> list[ReceivedMessage]:
        """Lease up to ``max_messages`` visible messages, oldest first; move exhausted ones to the DLQ."""
        now = _now_ms()
        lease_until = now + int(visibility_timeout_s * 1000)

        def lease(conn: sqlite3.Connection) -> list[tuple[int, str, str, int, int, int]]:
            got: list[tuple[int, str, str, int, int, int]] = []
            # A few more rows than asked, so messages moved to the DLQ do not leave the batch short.
            rows = conn.execute(
                "SELECT seq, message_id, sent_ms, receive_count, first_receive_ms FROM message_state"
                " WHERE visible_at_ms <= ? ORDER BY visible_at_ms, seq LIMIT ?",
                (now, max_messages * 2),
            ).fetchall()
            for seq, message_id, sent_ms, count, first_ms in rows:
                if len(got) >= max_messages:
                    break
                if count >= self.max_receives:
                    _move_to_dlq(conn, seq, now)
                    continue
                receipt = f"{message_id}:{secrets.token_urlsafe(12)}"
                first = first_ms if first_ms is not None else now
                conn.execute(
                    "UPDATE message_state SET receive_count = receive_count + 1, receipt_handle = ?,"
                    " visible_at_ms = ?, first_receive_ms = ? WHERE seq = ?",
                    (receipt, lease_until, first, seq),
                )
                got.append((seq, message_id, receipt, count + 1, sent_ms, first))
            return got

        leased = self._db.transaction(lease)
        if not leased:
            return []
        # Bodies are read after the lease is committed, outside the write lock: read inside it, a batch of
        # ~1 MB bodies would hold the lock that every ingest's send needs for as long as the reading takes. A
        # leased row cannot change or go away meanwhile: only our own delete removes it, or a DLQ move once
        # the lease has expired; a row that did go is simply not ours any more.
        seqs = [row[0] for row in leased]
        sql = f"SELECT seq, body FROM message_bodies WHERE seq IN ({','.join('?' * len(seqs))})"
        stored: dict[int, str | bytes] = dict(self._db.read(lambda conn: conn.execute(sql, seqs).fetchall()))
        received: list[ReceivedMessage] = []
        for seq, message_id, receipt, count, sent_ms, first in leased:
            if seq not in stored:
                continue
            try:
                body = read_body(stored[seq])
            except ValueError as exc:
                # A damaged row: no worker can ever read it, and it must not hold up the rest.
                log.error("message %s cannot be read; moved to the DLQ: %s", message_id, exc)
                self._dead(seq, now, str(exc))
                continue
            received.append(ReceivedMessage(message_id, receipt, body, count, sent_ms, first))
        return received

    def _dead(self, seq: int, now: int, error: str) -> None:
        self._db.transaction(lambda conn: _move_to_dlq(conn, seq, now, error))

    def delete(self, receipt_handle: str) -> bool:
        """Acknowledge a message; False when the receipt is stale (the lease was lost)."""
        return bool(self.delete_batch([receipt_handle]))

    def delete_batch(self, receipt_handles: Sequence[str]) -> set[str]:
        """Acknowledge several messages in one transaction (SQS's DeleteMessageBatch); the receipts that
        deleted one. A stale receipt deletes nothing, as in :meth:`delete`. One COMMIT (and fsync) for a
        batch instead of one per message: a batch of 10 otherwise pays 9 more fsyncs of queue.db, each
        holding the write lock that ingest needs."""

        def remove(conn: sqlite3.Connection) -> set[str]:
            deleted: set[str] = set()
            for receipt in receipt_handles:
                row = conn.execute(
                    "DELETE FROM message_state WHERE receipt_handle = ? RETURNING seq", (receipt,)
                ).fetchone()
                if row is not None:
                    conn.execute("DELETE FROM message_bodies WHERE seq = ?", (row[0],))
                    deleted.add(receipt)
            return deleted

        return self._db.transaction(remove) if receipt_handles else set()

    def change_visibility(self, receipt_handle: str, timeout_s: float, *, error: str | None = None) -> bool:
        """Make a leased message visible again after ``timeout_s`` (0: now), keeping ``error`` if given."""
        visible_at = _now_ms() + int(timeout_s * 1000)

        def update(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE message_state SET visible_at_ms = ?, last_error = coalesce(?, last_error)"
                " WHERE receipt_handle = ?",
                (visible_at, error, receipt_handle),
            )
            return cur.rowcount > 0

        return self._db.transaction(update)

    def depths(self) -> tuple[int, int]:
        """(queue depth, DLQ depth) from one snapshot."""

        def count(conn: sqlite3.Connection) -> tuple[int, int]:
            queued = int(conn.execute("SELECT count(*) FROM message_state").fetchone()[0])
            dead = int(conn.execute("SELECT count(*) FROM dlq").fetchone()[0])
            return queued, dead

        return self._db.read(count)

    # -- DLQ (``logpipe dlq``) ------------------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self._db.read(
            lambda conn: conn.execute(
                "SELECT message_id, body, sent_ms, moved_ms, receive_count, last_error FROM dlq"
                " ORDER BY moved_ms, message_id LIMIT ?",
                (limit,),
            ).fetchall()
        )
        return [
            DeadLetter(message_id, _readable(body), sent_ms, moved_ms, count, error)
            for message_id, body, sent_ms, moved_ms, count, error in rows
        ]

    def redrive(self, message_ids: Sequence[str] | None = None) -> int:
        """Move DLQ messages (all, or the ones named) back to the queue with a fresh receive count."""
        now = _now_ms()

        def move(conn: sqlite3.Connection) -> int:
            if message_ids is None:
                rows = conn.execute("SELECT message_id, body, sent_ms FROM dlq").fetchall()
            else:
                rows = []
                for mid in message_ids:
                    rows += conn.execute(
                        "SELECT message_id, body, sent_ms FROM dlq WHERE message_id = ?", (mid,)
                    ).fetchall()
            for message_id, body, sent_ms in rows:
                _insert(conn, message_id, body, sent_ms, now)
                conn.execute("DELETE FROM dlq WHERE message_id = ?", (message_id,))
            return len(rows)

        return self._db.transaction(move)

    def close(self) -> None:
        self._db.close()


def _stored(body: str) -> str | bytes:
    """What queue.db keeps of ``body``: its UTF-8 deflated (with isal), or the text itself (without)."""
    data = body.encode("utf-8")
    if len(data) > MAX_BODY_BYTES:
        raise ValueError(f"a message body of {len(data)} bytes is over the queue's {MAX_BODY_BYTES}")
    return codec.ZLIB.compress(data, _DEFLATE_LEVEL, wbits=_RAW_DEFLATE) if codec.deflate_is_cheap() else body


def read_body(stored: str | bytes) -> str:
    """The body of a row of ``message_bodies``/``dlq`` (the ``body`` column of the ``messages`` view): a TEXT
    as it is, a BLOB inflated (at most MAX_BODY_BYTES); ValueError when it cannot be."""
    if isinstance(stored, str):
        return stored
    try:
        inflater = codec.ZLIB.decompressobj(_RAW_DEFLATE)
        data: bytes = inflater.decompress(stored, MAX_BODY_BYTES)
        if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
            raise ValueError("stored message body is corrupt: truncated, too large or followed by data")
        return data.decode("utf-8")
    except _READ_ERRORS as exc:
        raise ValueError(f"stored message body is corrupt: {exc}") from exc


def _readable(stored: str | bytes) -> str:
    """A dead letter's body for listing: a damaged one as empty (its last error says why it is there)."""
    try:
        return read_body(stored)
    except ValueError:
        return ""


def _insert(
    conn: sqlite3.Connection, message_id: str, body: str | bytes, sent_ms: int, visible_at_ms: int
) -> None:
    cur = conn.execute(
        "INSERT INTO message_state (message_id, sent_ms, visible_at_ms) VALUES (?, ?, ?)",
        (message_id, sent_ms, visible_at_ms),
    )
    conn.execute("INSERT INTO message_bodies (seq, body) VALUES (?, ?)", (cur.lastrowid, body))


def _move_to_dlq(conn: sqlite3.Connection, seq: int, now: int, error: str | None = None) -> None:
    if error is not None:
        conn.execute("UPDATE message_state SET last_error = ? WHERE seq = ?", (error, seq))
    conn.execute(
        "INSERT OR REPLACE INTO dlq (message_id, body, sent_ms, moved_ms, receive_count, last_error)"
        " SELECT message_id, body, sent_ms, ?, receive_count, last_error FROM messages WHERE seq = ?",
        (now, seq),
    )
    conn.execute("DELETE FROM message_state WHERE seq = ?", (seq,))
    conn.execute("DELETE FROM message_bodies WHERE seq = ?", (seq,))


class SqliteIdempotencyStore:
    """Implements ``ports.IdempotencyStore`` in ``queue.db``: (tenant, key) → first acceptance, 24 h."""

    def __init__(self, path: Path, *, ttl_ms: int = IDEMPOTENCY_TTL_MS) -> None:
        self._db = _open(path)
        self._ttl_ms = ttl_ms
        self._claims = 0

    def claim(self, tenant_id: str, key: str, body_digest: str, now_ms: int) -> IdempotencyClaim:
        self._claims += 1
        purge = self._claims % _IDEMPOTENCY_PURGE_EVERY == 0

        def run(conn: sqlite3.Connection) -> IdempotencyClaim:
            if purge:
                conn.execute("DELETE FROM idempotency WHERE first_seen_ms < ?", (now_ms - self._ttl_ms,))
            row = conn.execute(
                "SELECT body_digest, first_seen_ms FROM idempotency WHERE tenant_id = ? AND idem_key = ?",
                (tenant_id, key),
            ).fetchone()
            if row is not None and now_ms - int(row[1]) < self._ttl_ms:
                return IdempotencyClaim(first_seen_ms=int(row[1]), body_digest=str(row[0]))
            conn.execute(
                "INSERT OR REPLACE INTO idempotency (tenant_id, idem_key, body_digest, first_seen_ms)"
                " VALUES (?, ?, ?, ?)",
                (tenant_id, key, body_digest, now_ms),
            )
            return IdempotencyClaim(first_seen_ms=now_ms, body_digest=body_digest)

        try:
            return self._db.transaction(run)
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"local idempotency store unavailable: {exc}") from exc

    def close(self) -> None:
        self._db.close()
