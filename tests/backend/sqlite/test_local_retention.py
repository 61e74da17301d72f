"""Issue 16 on the local stack, below the server: the retention sweep, space given back, the upgrade of
databases made by earlier versions, the purge (interrupted and resumed), the free-space threshold, backup."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from logpipe_backend.adapters.sqlite._sqlite import connect
from logpipe_backend.adapters.sqlite.backup import BackupError, backup
from logpipe_backend.adapters.sqlite.datadir import DataDir
from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore
from logpipe_backend.adapters.sqlite.purge import LocalPurge
from logpipe_backend.adapters.sqlite.queue import SqliteQueue
from logpipe_backend.adapters.sqlite.retention import (
    BATCH_ROWS,
    RetentionSweep,
    enable_incremental_vacuum,
    store_bytes,
)
from logpipe_backend.adapters.sqlite.store import SqliteStore
from logpipe_backend.core.envelope import pack
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.record import Record
from logpipe_backend.core.retention import cutoff_log_id, format_duration, parse_duration
from logpipe_backend.core.timefmt import format_ts
from logpipe_backend.runtime.diskspace import DiskGuard, MinFree

NOW_MS = 1_790_000_000_000
DAY_MS = 86_400_000


def rec(tenant: str, log_id: str, message: str = "m") -> Record:
    return {
        "tenant_id": tenant,
        "log_id": log_id,
        "timestamp": format_ts(NOW_MS),
        "received_at": format_ts(NOW_MS),
        "level": "info",
        "message": message,
        "attributes": {},
        "source": "text",
        "redactions": 0,
    }


def put(store: SqliteStore, tenant: str, age_ms: int, n: int, message: str = "m") -> list[str]:
    ids = new_log_ids(n, NOW_MS - age_ms)
    store.put_records([rec(tenant, i, message) for i in ids])
    return ids


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90s", "12h", "30d", "2w", "0", "15m", "45")] == [
        90,
        43_200,
        2_592_000,
        1_209_600,
        0,
        900,
        45,
    ]
    for bad in ("", "1y", "-1d", "3 days", "d"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)
    assert [format_duration(s) for s in (None, 0, 90, 43_200, 604_800)] == [
        "default",
        "forever",
        "90s",
        "12h",
        "7d",
    ]
    cut = cutoff_log_id(NOW_MS, 60)
    assert cut is not None and new_log_ids(1, NOW_MS - 60_001)[0] < cut <= new_log_ids(1, NOW_MS - 60_000)[0]
    assert cutoff_log_id(NOW_MS, 0) is None


def test_sweep_honours_default_and_each_tenants_retention(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "logs.db")
    keys = SqliteKeyStore(tmp_path / "tenants.db")
    for tenant in ("acme", "globex", "initech"):
        keys.create_tenant(tenant)
    keys.set_retention("globex", 0)  # forever
    keys.set_retention("initech", 3600)  # 1 h
    old = {t: put(store, t, 40 * DAY_MS, 3) for t in ("acme", "globex", "initech", "unknown")}
    hours = {t: put(store, t, 2 * 3600_000, 2) for t in ("acme", "globex", "initech")}
    fresh = {t: put(store, t, 1000, 1) for t in ("acme", "globex", "initech")}
    sweep = RetentionSweep(store, keys, 30 * 86_400, clock_ms=lambda: NOW_MS, pause_s=0)
    result = sweep.run_once()
    assert result.deleted == 3 + 3 + 3 + 2  # acme old, initech old + 2 h, unknown (default) old
    assert store.count("acme") == 3 and store.count("globex") == 6 and store.count("initech") == 1
    assert store.count("unknown") == 0
    assert sweep.run_once().deleted == 0  # nothing left to expire
    kept = {r["log_id"] for t in ("acme", "globex", "initech") for r in _all(store, t)}
    assert kept == set(
        hours["acme"] + fresh["acme"] + old["globex"] + hours["globex"] + fresh["globex"]
    ) | set(fresh["initech"])


def _all(store: SqliteStore, tenant: str) -> list[Record]:
    from logpipe_backend.core.query import LogQuery

    return store.query(LogQuery(tenant_id=tenant, limit=1000)).items


def test_sweep_deletes_in_small_batches_and_gives_space_back(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "logs.db")
    keys = SqliteKeyStore(tmp_path / "tenants.db")
    n = BATCH_ROWS * 4 + 7
    put(store, "acme", 2 * DAY_MS, n, message="x" * 2000)
    put(store, "acme", 0, 10)
    big = store_bytes(store.path)
    deletes: list[int] = []
    real = store.delete_range
    store.delete_range = lambda t, below, limit: deletes.append(limit) or real(t, below, limit)  # type: ignore[method-assign]
    result = RetentionSweep(store, keys, 86_400, clock_ms=lambda: NOW_MS, pause_s=0).run_once()
    assert result.deleted == n and store.count("acme") == 10
    assert len(deletes) == 5 and set(deletes) == {BATCH_ROWS}  # one transaction per batch, never more rows
    assert result.pages_freed > 0 and store.free_pages() == 0
    conn = connect(store.path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    assert store_bytes(store.path) < big / 4  # the file shrank: space went back to the file system


def test_an_older_logs_db_is_switched_to_incremental_vacuum_once(tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    conn = sqlite3.connect(path)  # as an earlier version made it: auto_vacuum NONE
    conn.execute(
        "CREATE TABLE records (tenant_id TEXT, log_id TEXT, doc TEXT, PRIMARY KEY (tenant_id, log_id))"
    )
    conn.execute("INSERT INTO records VALUES ('acme', ?, '{}')", (new_log_ids(1, NOW_MS)[0],))
    conn.commit()
    conn.close()
    assert enable_incremental_vacuum(path) is True
    assert enable_incremental_vacuum(path) is False  # once
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
    assert conn.execute("SELECT count(*) FROM records").fetchone()[0] == 1
    conn.close()
    assert enable_incremental_vacuum(tmp_path / "none.db") is False  # nothing to convert, nothing made
    assert not (tmp_path / "none.db").exists()


def test_an_older_tenants_db_gets_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "tenants.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL, revoked_ms INTEGER)"
    )
    conn.execute("INSERT INTO tenants VALUES ('acme', 1, NULL)")
    conn.commit()
    conn.close()
    keys = SqliteKeyStore(path)
    keys.set_retention("acme", 7 * 86_400)
    (acme,) = keys.list_tenants()
    assert acme.retention_s == 7 * 86_400 and acme.purge_started_ms is None
    with pytest.raises(Exception, match="no tenant"):
        keys.set_retention("ghost", 1)


def _stack(tmp_path: Path) -> tuple[DataDir, SqliteStore, SqliteQueue, SqliteKeyStore, dict[str, str]]:
    data = DataDir(tmp_path / "data")
    data.create()
    store, queue, keys = (
        SqliteStore(data.logs_db),
        SqliteQueue(data.queue_db, max_receives=1),
        SqliteKeyStore(data.tenants_db),
    )
    tokens = {t: keys.create_tenant(t) for t in ("acme", "globex")}
    for tenant in ("acme", "globex"):
        put(store, tenant, 0, BATCH_ROWS * 2 + 5)
        body = pack(tenant, [json.dumps(rec(tenant, new_log_ids(1, NOW_MS)[0])).encode()])[0]
        queue.send([body, body])
        # one of them to the DLQ: received once with max_receives=1, then received again
    leased = queue.receive(4, 0)
    assert len(leased) == 4
    assert queue.receive(4, 30) == []  # each was received once: now in the DLQ
    for tenant in ("acme", "globex"):
        body = pack(tenant, [json.dumps(rec(tenant, new_log_ids(1, NOW_MS)[0])).encode()])[0]
        queue.send([body])
    return data, store, queue, keys, tokens


def test_purge_interrupted_then_resumed_leaves_other_tenants_intact(tmp_path: Path) -> None:
    data, store, queue, keys, tokens = _stack(tmp_path)
    assert queue.depths() == (2, 4)
    purge = LocalPurge(data)
    plan = purge.plan("acme")
    assert (plan.records, plan.queued, plan.dead) == (BATCH_ROWS * 2 + 5, 1, 2)
    assert store.count("acme") == BATCH_ROWS * 2 + 5 and queue.depths() == (2, 4)  # the plan deleted nothing

    class Crash(Exception):
        pass

    def crash(kind: str, count: int) -> None:
        if kind == "records":
            raise Crash

    with pytest.raises(Crash):
        purge.purge("acme", crash)
    assert 0 < store.count("acme") < BATCH_ROWS * 2 + 5
    (acme,) = [t for t in keys.list_tenants() if t.tenant_id == "acme"]
    assert acme.purge_started_ms is not None and acme.active_keys == 0
    assert keys.tenant_for_key(tokens["acme"]) is None
    resumed = LocalPurge(data).purge("acme")
    assert resumed.records == BATCH_ROWS + 5  # what the first run left: its first batch had gone
    assert store.count("acme") == 0 and purge.plan("acme").queued == 0
    (acme,) = [t for t in keys.list_tenants() if t.tenant_id == "acme"]
    assert acme.purge_started_ms is None and acme.revoked_ms is not None
    # globex: untouched.
    assert store.count("globex") == BATCH_ROWS * 2 + 5 and queue.depths() == (1, 2)
    assert keys.tenant_for_key(tokens["globex"]) == "globex"
    assert {json.loads(d.body)["tenant_id"] for d in queue.dead_letters()} == {"globex"}
    purge.close()


def test_min_free_threshold_and_507(tmp_path: Path) -> None:
    assert MinFree().threshold(100 * 2**30) == 2**30  # 1 GiB is smaller than 5 GiB
    assert MinFree().threshold(10 * 2**30) == int(0.5 * 2**30)  # 5 % is smaller than 1 GiB
    assert MinFree.parse("0").threshold(2**40) == 0
    assert MinFree.parse("500MiB") == MinFree(bytes=500 * 2**20, percent=None)
    assert MinFree.parse("2%") == MinFree(bytes=None, percent=2.0)
    for bad in ("lots", "200%", "1x"):
        with pytest.raises(ValueError, match="--min-free"):
            MinFree.parse(bad)
    calls: list[dict[str, object]] = []

    def handler(event: dict[str, object]) -> dict[str, object]:
        calls.append(event)
        return {"statusCode": 202}

    post = {"requestContext": {"http": {"method": "POST"}}}
    full = DiskGuard(tmp_path, MinFree(bytes=2**62, percent=None)).guard(handler)
    refused = full(post)
    assert refused["statusCode"] == 507 and refused["headers"]["retry-after"] == "30"
    assert json.loads(str(refused["body"]))["error"]["code"] == "insufficient_storage" and calls == []
    assert DiskGuard(tmp_path, MinFree.parse("0")).guard(handler)(post)["statusCode"] == 202


def test_backup_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no logpipe data"):
        backup(DataDir(tmp_path / "empty"), tmp_path / "copy")
    data, store, *_ = _stack(tmp_path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        backup(data, tmp_path / "busy")
    with pytest.raises(BackupError, match="data dir itself"):
        backup(data, data.root)
    done = backup(data, tmp_path / "copy")
    assert done.databases == ("queue.db", "logs.db", "tenants.db")
    assert SqliteStore(tmp_path / "copy" / "logs.db").count() == store.count()


def test_a_stopped_stack_sweeps_no_further(tmp_path: Path) -> None:
    import threading

    store = SqliteStore(tmp_path / "logs.db")
    keys = SqliteKeyStore(tmp_path / "tenants.db")
    for tenant in ("acme", "globex"):
        put(store, tenant, 2 * DAY_MS, BATCH_ROWS * 3)
    stop = threading.Event()
    stop.set()
    result = RetentionSweep(store, keys, 86_400, clock_ms=lambda: NOW_MS, pause_s=0, stop=stop).run_once()
    assert result.deleted == 0 and store.count() == BATCH_ROWS * 6
    stop.clear()
    assert (
        RetentionSweep(store, keys, 86_400, clock_ms=lambda: NOW_MS, pause_s=0).run_once().deleted
        == BATCH_ROWS * 6
    )


def test_purging_an_unknown_tenant_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    from logpipe_backend.core.purge import UnknownTenant

    data, store, queue, keys, _ = _stack(tmp_path)
    before = (store.count(), queue.depths(), [t.tenant_id for t in keys.list_tenants()])
    with pytest.raises(UnknownTenant, match="no tenant 'acmee'"):
        LocalPurge(data).purge("acmee")
    assert (store.count(), queue.depths(), [t.tenant_id for t in keys.list_tenants()]) == before
