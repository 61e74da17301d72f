"""The SQLite store: upsert on (tenant_id, log_id), one tenant's key range per query, shared filters."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from logpipe_backend.adapters.sqlite import store as store_module
from logpipe_backend.adapters.sqlite import store_scan
from logpipe_backend.adapters.sqlite.store import SqliteStore
from logpipe_backend.core.filters import RecordFilter, parse_filter
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.query import LogQuery
from logpipe_backend.core.record import Record
from logpipe_backend.core.timefmt import format_ts

T0 = 1_764_000_000_000


def rec(
    tenant: str, log_id: str, message: str = "m", level: str = "info", ts: int = T0, **extra: Any
) -> Record:
    r: Record = {
        "tenant_id": tenant,
        "log_id": log_id,
        "timestamp": format_ts(ts),
        "received_at": format_ts(T0),
        "level": level,
        "message": message,
        "attributes": dict(extra),
        "source": "json",
        "redactions": 0,
    }
    return r


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "logs.db")


def test_upsert_keeps_one_copy(store: SqliteStore) -> None:
    [lid] = new_log_ids(1, T0)
    store.put_records([rec("acme", lid, "first")])
    store.put_records([rec("acme", lid, "first")])
    assert store.count() == 1
    page = store.query(LogQuery(tenant_id="acme"))
    assert [r["message"] for r in page.items] == ["first"]
    assert page.last_log_id is None


def test_tenant_isolation(store: SqliteStore) -> None:
    ids = new_log_ids(4, T0)
    store.put_records([rec("acme", ids[0]), rec("beta", ids[1]), rec("acme", ids[2]), rec("beta", ids[3])])
    acme = store.query(LogQuery(tenant_id="acme", limit=1000)).items
    assert {r["tenant_id"] for r in acme} == {"acme"} and len(acme) == 2
    # The same log_id under two tenants are two records; neither query sees the other's.
    store.put_records([rec("beta", ids[0], "beta's")])
    assert [r["message"] for r in store.query(LogQuery(tenant_id="acme", limit=1000)).items] == ["m", "m"]
    assert store.count("beta") == 3


def test_order_pagination_and_after(store: SqliteStore) -> None:
    ids = new_log_ids(7, T0)
    store.put_records([rec("acme", lid, str(i)) for i, lid in enumerate(ids)])
    pages: list[list[str]] = []
    start: str | None = None
    for _ in range(10):
        page = store.query(LogQuery(tenant_id="acme", limit=3, start_after=start))
        pages.append([r["message"] for r in page.items])
        if page.last_log_id is None:
            break
        start = page.last_log_id
    assert pages == [["6", "5", "4"], ["3", "2", "1"], ["0"]]
    asc = store.query(LogQuery(tenant_id="acme", order="asc", after=ids[2], limit=2))
    assert [r["message"] for r in asc.items] == ["3", "4"]
    assert asc.last_log_id == ids[4]
    rest = store.query(LogQuery(tenant_id="acme", order="asc", after=ids[2], start_after=ids[4], limit=10))
    assert [r["message"] for r in rest.items] == ["5", "6"] and rest.last_log_id is None
    # Exactly `limit` left: no cursor pointing at an empty page.
    exact = store.query(LogQuery(tenant_id="acme", order="asc", after=ids[4], limit=2))
    assert len(exact.items) == 2 and exact.last_log_id is None


def test_filters(store: SqliteStore) -> None:
    ids = new_log_ids(4, T0)
    store.put_records(
        [
            rec("acme", ids[0], "Disk FULL", "error", T0),
            rec("acme", ids[1], "ok", "info", T0 + 1000),
            rec("acme", ids[2], "disk warn", "warn", T0 + 2000),
            rec("acme", ids[3], "later", "fatal", T0 + 3000),
        ]
    )
    q = LogQuery(tenant_id="acme", min_level="warn", filter=RecordFilter(contains=("disk",)))
    assert [r["message"] for r in store.query(q).items] == ["disk warn", "Disk FULL"]
    q = LogQuery(tenant_id="acme", since=format_ts(T0 + 1000), until=format_ts(T0 + 3000), order="asc")
    assert [r["message"] for r in store.query(q).items] == ["ok", "disk warn"]


def _follow(store: SqliteStore, query: LogQuery, start: str | None) -> list[Record]:
    found: list[Record] = []
    for _ in range(10):
        page = store.query(LogQuery(**{**query.__dict__, "start_after": start}))
        found += page.items
        if page.last_log_id is None:
            return found
        start = page.last_log_id
    raise AssertionError("more pages than expected")


@pytest.mark.parametrize(
    "search",
    [RecordFilter(contains=("needle",)), RecordFilter(regex=parse_filter({"regex": ["^needle$"]}).regex)],
)
def test_selective_filter_stops_at_decode_budget(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch, search: RecordFilter
) -> None:
    """A filter Python decides (regex) stops after SCAN_MAX_ROWS decoded rows; one SQLite decides (contains)
    never decodes the rows it rejects."""
    monkeypatch.setattr(store_scan, "SCAN_MAX_ROWS", 10)
    monkeypatch.setattr(store_scan, "SCAN_CHUNK", 4)
    ids = new_log_ids(25, T0)
    store.put_records([rec("acme", lid, "needle" if i == 0 else "hay") for i, lid in enumerate(ids)])
    q = LogQuery(tenant_id="acme", filter=search, order="desc")
    page = store.query(q)
    if search.regex is not None:
        assert page.items == [] and page.last_log_id == ids[15]  # 10 rows read, a cursor to go on
        assert [r["log_id"] for r in _follow(store, q, page.last_log_id)] == [ids[0]]
    else:
        assert [r["log_id"] for r in page.items] == [ids[0]] and page.last_log_id is None


def test_sqlite_filters_stop_after_a_bounded_number_of_keys(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page whose filter SQLite decides examines about SQL_MAX_MARKERS x 1,024 keys, known by the keys
    ending in 00 (one in 1,024 of a request's counting-up ids; here one in four, made so)."""
    monkeypatch.setattr(store_scan, "SQL_MAX_MARKERS", 2)
    ids = [f"01M8AZV7KN0RGZYX4XKYNP{i:02d}{'00' if i % 4 == 3 else '11'}" for i in range(25)]
    store.put_records([rec("acme", lid, "needle" if i in (0, 19) else "hay") for i, lid in enumerate(ids)])
    q = LogQuery(tenant_id="acme", filter=RecordFilter(contains=("NEEDLE",)), order="desc")
    page = store.query(q)
    # From the top: 24..19 holds a match (19) and a marker (23); the second marker (15) ends the page.
    assert [r["log_id"] for r in page.items] == [ids[19]] and page.last_log_id == ids[15]
    assert [r["log_id"] for r in _follow(store, q, page.last_log_id)] == [ids[0]]
    asc = LogQuery(tenant_id="acme", filter=RecordFilter(contains=("needle",)), order="asc")
    assert [r["log_id"] for r in _follow(store, asc, None)] == [ids[0], ids[19]]
    every = LogQuery(tenant_id="acme", filter=RecordFilter(contains=("a",)), order="asc", limit=1000)
    assert len(_follow(store, every, None)) == 23  # "hay" rows: markers that match are records, not skipped


def test_a_record_given_with_its_json_is_stored_as_that_json(store: SqliteStore) -> None:
    a, b = new_log_ids(2, T0)
    first, second = rec("acme", a, "as sent", k=1), rec("acme", b, "encoded here")
    # Spaced JSON: not what the store's encoder writes, so reading it back shows it was stored as given.
    doc = json.dumps(first, ensure_ascii=False)
    store.put_records([first, second], [doc, None])
    raw = store._db.read(lambda c: c.execute("SELECT doc FROM records ORDER BY log_id").fetchall())
    assert raw[0][0] is not None and raw[0][0] == doc  # written as it came, not encoded again
    items = store.query(LogQuery(tenant_id="acme", order="asc")).items
    assert items == [first, second]
    with pytest.raises(ValueError):
        store.put_records([first], [doc, None])  # one doc per record


def test_a_new_store_takes_its_page_size_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    def page_size(path: Path) -> int:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return int(conn.execute("PRAGMA page_size").fetchone()[0])

    SqliteStore(tmp_path / "new.db").close()
    assert page_size(tmp_path / "new.db") == store_module.PAGE_SIZE
    with contextlib.closing(sqlite3.connect(tmp_path / "old.db")) as conn:
        conn.execute("PRAGMA journal_mode=WAL")  # as an earlier version created it: 4 KiB pages
    old = SqliteStore(tmp_path / "old.db")
    [a] = new_log_ids(1, T0)
    old.put_records([rec("acme", a, "one")])
    assert page_size(tmp_path / "old.db") == 4096
    assert [r["message"] for r in old.query(LogQuery(tenant_id="acme")).items] == ["one"]
    old.close()
