"""The SQLite queue keeps SQS's semantics: leases, receive counts, DLQ after max receives, durable sends."""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
import zlib
from pathlib import Path

import pytest
from logpipe_backend.adapters.sqlite import _sqlite as sqlite_module
from logpipe_backend.adapters.sqlite import queue as queue_module
from logpipe_backend.adapters.sqlite.queue import SqliteIdempotencyStore, SqliteQueue, read_body
from logpipe_backend.core import codec
from logpipe_backend.ports import QueueUnavailable


@pytest.fixture
def queue(tmp_path: Path) -> SqliteQueue:
    return SqliteQueue(tmp_path / "queue.db", max_receives=3)


def test_send_receive_delete(queue: SqliteQueue) -> None:
    queue.send(["a", "b", "c"])
    assert queue.approximate_depth() == 3
    got = queue.receive(2, 30)
    assert [m.body for m in got] == ["a", "b"]
    assert all(m.receive_count == 1 for m in got)
    assert len({m.receipt_handle for m in got}) == 2
    # Leased messages are invisible but still counted: depth 0 must mean "all stored".
    assert [m.body for m in queue.receive(10, 30)] == ["c"]
    assert queue.receive(10, 30) == []
    assert queue.approximate_depth() == 3
    for m in got:
        assert queue.delete(m.receipt_handle)
    assert queue.approximate_depth() == 1


def test_lease_expires_and_message_comes_back_with_higher_count(queue: SqliteQueue) -> None:
    queue.send(["x"])
    first = queue.receive(1, 0.05)[0]
    time.sleep(0.1)
    second = queue.receive(1, 30)[0]
    assert second.message_id == first.message_id
    assert second.receive_count == 2
    assert second.first_receive_ms == first.first_receive_ms
    # The stale receipt no longer acknowledges: only the current holder can.
    assert not queue.delete(first.receipt_handle)
    assert queue.delete(second.receipt_handle)
    assert queue.depths() == (0, 0)


def test_delete_batch_acknowledges_current_receipts_only(queue: SqliteQueue) -> None:
    queue.send(["a", "b", "c"])
    stale = queue.receive(1, 0.05)[0]
    time.sleep(0.1)
    got = queue.receive(3, 30)
    assert len(got) == 3
    current = {m.message_id: m.receipt_handle for m in got}
    receipts = [stale.receipt_handle, *current.values(), "no-such-receipt"]
    # The stale receipt deletes nothing (its message is held by the newer lease), the others one each.
    assert queue.delete_batch(receipts) == set(current.values())
    assert queue.depths() == (0, 0)
    assert queue.delete_batch(list(current.values())) == set()  # a second time: nothing left
    assert queue.delete_batch([]) == set()


def test_dlq_after_max_receives_keeps_last_error(queue: SqliteQueue) -> None:
    queue.send(["poison"])
    for _ in range(3):
        m = queue.receive(1, 30)[0]
        assert queue.change_visibility(m.receipt_handle, 0, error="boom")
    assert queue.receive(1, 30) == []  # the 4th receive moves it to the DLQ instead
    assert queue.depths() == (0, 1)
    [dead] = queue.dead_letters()
    assert dead.body == "poison" and dead.receive_count == 3 and dead.last_error == "boom"
    assert queue.redrive() == 1
    assert queue.depths() == (1, 0)
    again = queue.receive(1, 30)[0]
    assert again.receive_count == 1 and again.body == "poison"


def test_change_visibility_delays(queue: SqliteQueue) -> None:
    queue.send(["x"])
    m = queue.receive(1, 30)[0]
    queue.change_visibility(m.receipt_handle, 10)
    assert queue.receive(1, 30) == []
    queue.change_visibility(m.receipt_handle, 0)  # the same lease may be shortened
    assert queue.receive(1, 30)[0].message_id == m.message_id


def test_send_is_durable_across_connections(tmp_path: Path) -> None:
    q1 = SqliteQueue(tmp_path / "queue.db")
    q1.send(["one"])
    # A fresh process would see it: WAL + synchronous=FULL, committed before send returns.
    conn = sqlite3.connect(tmp_path / "queue.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    [(stored,)] = conn.execute("SELECT body FROM messages").fetchall()
    assert read_body(stored) == "one"
    conn.close()


def test_send_failure_is_queue_unavailable_and_all_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Short busy waits, so a database locked by someone else fails fast instead of after 10 s.
    monkeypatch.setattr(sqlite_module, "BUSY_TIMEOUT_S", 0.05)
    monkeypatch.setattr(sqlite_module, "BUSY_RETRIES", 0)
    q = SqliteQueue(tmp_path / "queue.db")
    q.send(["before"])
    blocker = sqlite3.connect(tmp_path / "queue.db", timeout=0, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(QueueUnavailable):
            q.send(["x", "y"])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert q.approximate_depth() == 1  # neither x nor y


def test_concurrent_receivers_never_share_a_message(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    SqliteQueue(path).send([str(i) for i in range(200)])
    seen: list[str] = []
    lock = threading.Lock()

    def consume() -> None:
        q = SqliteQueue(path)
        while True:
            got = q.receive(7, 30)
            if not got:
                return
            with lock:
                seen.extend(m.body for m in got)
            for m in got:
                q.delete(m.receipt_handle)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(seen, key=int) == [str(i) for i in range(200)]
    assert SqliteQueue(path).approximate_depth() == 0


def test_idempotency_claim(tmp_path: Path) -> None:
    store = SqliteIdempotencyStore(tmp_path / "queue.db", ttl_ms=1000)
    first = store.claim("acme", "k1", "d1", 5_000)
    assert (first.first_seen_ms, first.body_digest) == (5_000, "d1")
    again = store.claim("acme", "k1", "d2", 5_500)
    assert (again.first_seen_ms, again.body_digest) == (5_000, "d1")  # the first claim stands
    other_tenant = store.claim("beta", "k1", "d2", 5_500)
    assert other_tenant.first_seen_ms == 5_500  # keys are per tenant
    expired = store.claim("acme", "k1", "d2", 7_000)
    assert (expired.first_seen_ms, expired.body_digest) == (7_000, "d2")


# The schema of earlier versions kept bodies and lease columns in one table named messages.
_OLD_SCHEMA = """
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL UNIQUE, body TEXT NOT NULL,
    sent_ms INTEGER NOT NULL, visible_at_ms INTEGER NOT NULL, receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER, receipt_handle TEXT UNIQUE, last_error TEXT
);
CREATE INDEX messages_visible ON messages (visible_at_ms, seq);
"""


def test_a_queue_db_of_an_earlier_version_is_converted_keeping_its_messages(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    conn = sqlite3.connect(path)
    conn.executescript(_OLD_SCHEMA)
    conn.execute(
        "INSERT INTO messages (message_id, body, sent_ms, visible_at_ms, receive_count, last_error)"
        " VALUES ('m1', 'first', 1, 0, 2, 'boom'), ('m2', 'second', 2, 0, 0, NULL)"
    )
    conn.commit()
    conn.close()
    queue = SqliteQueue(path, max_receives=5)
    SqliteQueue(path)  # a second opener (another process) finds it converted already
    assert queue.approximate_depth() == 2
    got = queue.receive(10, 30)
    assert [(m.message_id, m.body, m.receive_count) for m in got] == [("m1", "first", 3), ("m2", "second", 1)]
    queue.send(["third"])
    assert queue.delete(got[0].receipt_handle)
    conn = sqlite3.connect(path)
    kinds = dict(conn.execute("SELECT name, type FROM sqlite_master WHERE name LIKE 'message%'").fetchall())
    assert kinds["messages"] == "view" and kinds["message_state"] == kinds["message_bodies"] == "table"
    rows = conn.execute("SELECT message_id, body, last_error FROM messages ORDER BY seq").fetchall()
    assert [(mid, read_body(body), error) for mid, body, error in rows] == [
        ("m2", "second", None),  # kept as the earlier version's TEXT
        (queue.receive(1, 30)[0].message_id, "third", None),  # deflated, as sent now
    ]
    assert isinstance(rows[0][1], str) and isinstance(rows[1][1], bytes)
    conn.close()


def test_a_lease_does_not_rewrite_the_body(queue: SqliteQueue, tmp_path: Path) -> None:
    # Bodies live in a table of their own: leasing, extending and deleting touch small rows, and a delete
    # leaves no body behind.
    queue.send(["x" * 200_000, "y"])
    got = queue.receive(2, 30)
    assert [len(m.body) for m in got] == [200_000, 1]
    assert queue.change_visibility(got[0].receipt_handle, 30)
    assert queue.delete(got[0].receipt_handle) and not queue.delete(got[0].receipt_handle)
    conn = sqlite3.connect(tmp_path / "queue.db")
    assert conn.execute("SELECT count(*) FROM message_bodies").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM message_state").fetchone()[0] == 1
    conn.close()


def test_a_new_queue_takes_its_page_size(tmp_path: Path) -> None:
    SqliteQueue(tmp_path / "queue.db").close()
    with contextlib.closing(sqlite3.connect(tmp_path / "queue.db")) as conn:
        assert conn.execute("PRAGMA page_size").fetchone()[0] == queue_module.PAGE_SIZE


# --- bodies kept deflated ----------------------------------------------------------------------------------


def _stored_bodies(path: Path) -> list[str | bytes]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return [row[0] for row in conn.execute("SELECT body FROM message_bodies ORDER BY seq")]


@pytest.mark.parametrize("reader", ["installed", "zlib"])
def test_bodies_are_stored_deflated_and_read_back_exactly(
    queue: SqliteQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    rng = random.Random(7)
    bodies = [
        '{"v":1,"tenant_id":"t","records":[' + ",".join(['{"m":"hello world"}'] * 20_000) + "]}",
        "".join(
            chr(rng.choice([rng.randrange(0x20, 0xD800), rng.randrange(0xE000, 0x110000)]))
            for _ in range(5000)
        ),
        "",
        "é\u0000\n\t 💥",
    ]
    queue.send(bodies)
    stored = _stored_bodies(tmp_path / "queue.db")
    assert all(isinstance(s, bytes) for s in stored)
    assert len(stored[0]) < len(bodies[0]) // 20  # what pays: fewer pages to write, and to zero when deleted
    if reader == "zlib":  # a queue.db written with isal is read without it (the same raw deflate)
        monkeypatch.setattr(codec, "ZLIB", zlib)
    assert [m.body for m in queue.receive(10, 30)] == bodies


def test_without_isal_bodies_are_stored_as_text(
    queue: SqliteQueue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(codec, "deflate_is_cheap", lambda: False)
    queue.send(["plain", "é"])
    assert _stored_bodies(tmp_path / "queue.db") == ["plain", "é"]
    assert [m.body for m in queue.receive(10, 30)] == ["plain", "é"]


def test_a_text_body_of_an_earlier_version_is_read_as_it_is(queue: SqliteQueue, tmp_path: Path) -> None:
    queue.send(["new"])
    with contextlib.closing(sqlite3.connect(tmp_path / "queue.db")) as conn:
        conn.execute("INSERT INTO message_state (message_id, sent_ms, visible_at_ms) VALUES ('old', 1, 0)")
        conn.execute("INSERT INTO message_bodies (seq, body) VALUES (last_insert_rowid(), 'as text')")
        conn.commit()
    assert sorted(m.body for m in queue.receive(10, 30)) == ["as text", "new"]


def test_a_body_over_the_limit_is_refused_and_nothing_is_queued(queue: SqliteQueue) -> None:
    with pytest.raises(ValueError, match="over the queue's"):
        queue.send(["ok", "x" * (queue_module.MAX_BODY_BYTES + 1)])
    assert queue.approximate_depth() == 0
    queue.send(["é" * (queue_module.MAX_BODY_BYTES // 2)])  # the limit is on UTF-8 bytes: exactly at it
    assert queue.receive(1, 30)[0].body == "é" * (queue_module.MAX_BODY_BYTES // 2)


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"\xff\x00garbage", id="not deflate"),
        pytest.param(zlib.compress(b"cut short", 1, wbits=-15)[:-2], id="truncated"),
        pytest.param(zlib.compress(b"x", 1, wbits=-15) + b"tail", id="followed by data"),
        pytest.param(zlib.compress(b"\xff\xfe", 1, wbits=-15), id="not UTF-8"),
        pytest.param(
            zlib.compress(b"0" * (queue_module.MAX_BODY_BYTES + 1), 9, wbits=-15),
            id="inflates past the limit",
        ),
    ],
)
def test_an_unreadable_body_goes_to_the_dlq_and_the_batch_goes_on(
    queue: SqliteQueue, tmp_path: Path, blob: bytes
) -> None:
    queue.send(["before"])
    with contextlib.closing(sqlite3.connect(tmp_path / "queue.db")) as conn:
        conn.execute("INSERT INTO message_state (message_id, sent_ms, visible_at_ms) VALUES ('bad', 1, 0)")
        conn.execute("INSERT INTO message_bodies (seq, body) VALUES (last_insert_rowid(), ?)", (blob,))
        conn.commit()
    queue.send(["after"])
    assert [m.body for m in queue.receive(10, 30)] == ["before", "after"]
    assert queue.depths() == (2, 1)
    [dead] = queue.dead_letters()
    assert dead.message_id == "bad" and dead.body == "" and "corrupt" in (dead.last_error or "")
    assert dead.receive_count == 1


def test_dead_letters_are_listed_and_redriven_with_their_bodies(queue: SqliteQueue) -> None:
    body = '{"v":1,"tenant_id":"t","records":[' + ",".join(['{"m":"x"}'] * 1000) + "]}"
    queue.send([body])
    for _ in range(3):  # max_receives=3: the fourth receive moves it to the DLQ
        assert len(queue.receive(1, 0)) == 1
    assert queue.receive(1, 30) == []
    assert [d.body for d in queue.dead_letters()] == [body]
    assert queue.redrive() == 1
    assert [m.body for m in queue.receive(1, 30)] == [body]


def test_deleted_bodies_are_zeroed_in_the_file(tmp_path: Path) -> None:
    # secure_delete is set by us, not left to the SQLite build: a stored message's body (records before
    # redaction, deflated or not) must not stay in queue.db's free pages once it is deleted.
    secret = "".join(f"password=s3cr3t-{random.random()} " for _ in range(3000))  # overflow pages
    queue = SqliteQueue(tmp_path / "queue.db")
    queue.send([secret])
    with sqlite3.connect(tmp_path / "queue.db") as conn:
        [(stored,)] = conn.execute("SELECT body FROM message_bodies").fetchall()
    stored = stored.encode() if isinstance(stored, str) else stored
    [message] = queue.receive(1, 30)
    queue.delete(message.receipt_handle)
    queue.close()
    with sqlite3.connect(tmp_path / "queue.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = (tmp_path / "queue.db").read_bytes()
    assert len(stored) > 20_000  # random text: it stays big deflated
    assert not any(stored[i : i + 64] in data for i in range(0, len(stored) - 64, 997))
