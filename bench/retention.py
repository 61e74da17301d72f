#!/usr/bin/env python3
"""Retention on the local stack: the store's size levels off, and sweeping costs ingest little.

    .venv/bin/python bench/retention.py                 # defaults below
    .venv/bin/python bench/retention.py --json --cycles 10 --retention 3 --rate 2000

Part 1, size: a fresh ``logpipe serve --retention R --retention-sweep S`` (the real sweep thread), and a
constant ingest of ``--rate`` records/s (``bench/_common.py``'s ~250-byte records, in requests of 100). At
the end of each cycle of R seconds the store's size on disk (``/healthz`` ``store_bytes``: logs.db and its
WAL) is read. Passed when, over the ``--cycles`` cycles after the first, it stays within 1.5 x its size after
the first cycle (``max_ratio``) - the store keeps about R + S seconds of records however long it runs.
The WAL is the one part that does not follow the records: SQLite checkpoints it every 1,000 pages (16 MiB at
logs.db's page size) and reuses the file at its largest, so it grows to ~16 MiB in the first seconds and
stays there; the defaults ingest enough for it to have been checkpointed a few times by the end of the first
cycle (before that, the records are in the WAL only and logs.db itself is nearly empty). ``wal_bytes`` and
``db_file_max_ratio`` (logs.db without its WAL) show the two parts apart.

Part 2, rate: another fresh stack whose own sweep is off (``--retention-sweep`` of a day), sent to as fast as
``--senders`` threads go (closed loop), in alternating windows of ``--window`` seconds: without sweeps, then
with a sweeper process running ``RetentionSweep.run_once`` every S seconds on the same data dir (the code the
supervisor's thread runs; its SQLite calls release the GIL, so a thread of its own or a process of its own
contend the same way, through logs.db's write lock and the CPU). Records expire after R seconds, so each
sweep really deletes. ``rate_ratio`` = accepted records/s during sweeps / without; passed when >= 0.9.
Windows alternate in one run, so both sides see the same machine (shared and noisy).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TENANT, Stack, machine, make_line, percentile
from logpipe_backend.adapters.sqlite import _sqlite as sqlite_plumbing
from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore
from logpipe_backend.adapters.sqlite.retention import RetentionSweep
from logpipe_backend.adapters.sqlite.store import SqliteStore

REQUEST_RECORDS = 100
MAX_SIZE_RATIO = 1.5
MIN_RATE_RATIO = 0.9


def _body(n: int, seed: int) -> bytes:
    rng = random.Random(seed)
    return "\n".join(make_line(i, rng) for i in range(n)).encode()


class Sender(threading.Thread):
    """Posts request bodies; paced at ``rate`` records/s, or as fast as it can when ``rate`` is None."""

    def __init__(self, url: str, key: str, rate: float | None, seed: int) -> None:
        super().__init__(daemon=True)
        import httpx

        self._http = httpx.Client(base_url=url, timeout=30)
        self._headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/plain"}
        self._body = _body(REQUEST_RECORDS, seed)
        self._rate = rate
        self.accepted = 0
        self.refused = 0
        self.stop = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        sent = 0
        while not self.stop.is_set():
            if self._rate is not None:
                due = started + sent / self._rate
                if self.stop.wait(max(0.0, due - time.monotonic())):
                    break
            r = self._http.post("/ingest", content=self._body, headers=self._headers)
            sent += REQUEST_RECORDS
            if r.status_code == 202:
                self.accepted += REQUEST_RECORDS
            else:
                self.refused += REQUEST_RECORDS
        self._http.close()


def size_part(retention_s: int, sweep_s: int, rate: float, cycles: int) -> dict[str, Any]:
    env = {"LOGPIPE_LOG_RETENTION": f"{retention_s}s", "LOGPIPE_RETENTION_SWEEP": f"{sweep_s}s"}
    with Stack(env=env) as stack:
        sender = Sender(stack.url, stack.create_tenant(), rate, seed=1)
        started = time.monotonic()
        sender.start()
        sizes: list[int] = []
        wal: list[int] = []
        stored: list[int] = []
        logs_db = stack.data_dir / "logs.db"
        for cycle in range(1, cycles + 2):
            time.sleep(max(0.0, started + cycle * retention_s - time.monotonic()))
            sizes.append(int(stack.health()["store_bytes"]))
            wal.append(logs_db.with_name("logs.db-wal").stat().st_size)
            stored.append(stack.stored())
        sender.stop.set()
        sender.join(30)
        elapsed = time.monotonic() - started
    first, later = sizes[0], sizes[1:]
    files = [total - w for total, w in zip(sizes, wal, strict=True)]
    return {
        "retention_s": retention_s,
        "sweep_s": sweep_s,
        "rate": rate,
        "accepted": sender.accepted,
        "refused": sender.refused,
        "accepted_per_s": sender.accepted / elapsed,
        "cycles": cycles,
        "store_bytes": sizes,
        "wal_bytes": wal,
        "stored_records": stored,
        "first_cycle_bytes": first,
        "max_ratio": max(later) / first,
        "db_file_max_ratio": max(files[1:]) / files[0],  # logs.db alone, without its WAL
        "passed": max(later) <= MAX_SIZE_RATIO * first,
    }


def _sweeper(
    data_dir: str, retention_s: int, sweep_s: float, on: Any, done: Any, deleted: Any, out: Any
) -> None:
    store = SqliteStore(Path(data_dir) / "logs.db")
    keys = SqliteKeyStore(Path(data_dir) / "tenants.db")
    # Seconds each write transaction of the sweep (deletes, vacuum steps) held logs.db's write lock: from
    # the moment BEGIN IMMEDIATE got it to the end of COMMIT. What a worker's write can wait on a sweep.
    held: list[float] = []
    acquired = [0.0]
    begin = sqlite_plumbing._begin_immediate

    def timed_begin(conn: Any) -> None:
        begin(conn)
        acquired[0] = time.perf_counter()

    sqlite_plumbing._begin_immediate = timed_begin
    for name in ("delete_range", "give_back"):
        real = getattr(store, name)

        def timed(*args: Any, _real: Any = real) -> Any:
            try:
                return _real(*args)
            finally:
                held.append(time.perf_counter() - acquired[0])

        setattr(store, name, timed)
    sweep = RetentionSweep(store, keys, retention_s)
    while not done.is_set():
        if on.wait(0.05):
            result = sweep.run_once()
            with deleted.get_lock():
                deleted.value += result.deleted
            time.sleep(sweep_s)
    out.put(held)


def rate_part(retention_s: int, sweep_s: int, window_s: float, windows: int, senders: int) -> dict[str, Any]:
    env = {"LOGPIPE_LOG_RETENTION": f"{retention_s}s", "LOGPIPE_RETENTION_SWEEP": "1d"}
    ctx = multiprocessing.get_context("spawn")
    on, done, deleted, out = ctx.Event(), ctx.Event(), ctx.Value("q", 0), ctx.Queue()
    with Stack(env=env) as stack:
        key = stack.create_tenant()
        sweeper = ctx.Process(
            target=_sweeper,
            args=(str(stack.data_dir), retention_s, sweep_s, on, done, deleted, out),
            daemon=True,
        )
        sweeper.start()
        threads = [Sender(stack.url, key, None, seed=i) for i in range(senders)]
        for t in threads:
            t.start()
        time.sleep(retention_s + 1)  # warm up until records start to expire
        totals = {"off": [0, 0.0], "on": [0, 0.0]}  # accepted, seconds
        sweep_deleted = 0
        for window in range(2 * windows):
            phase = "on" if window % 2 else "off"
            (on.set if phase == "on" else on.clear)()
            before, began = sum(t.accepted for t in threads), time.monotonic()
            time.sleep(window_s)
            totals[phase][0] += sum(t.accepted for t in threads) - before
            totals[phase][1] += time.monotonic() - began
        on.clear()
        with deleted.get_lock():
            sweep_deleted = deleted.value
        done.set()
        for t in threads:
            t.stop.set()
        for t in threads:
            t.join(30)
        held = sorted(out.get(timeout=30))
        sweeper.join(30)
        refused = sum(t.refused for t in threads)
    off_rate = totals["off"][0] / totals["off"][1]
    on_rate = totals["on"][0] / totals["on"][1]
    return {
        "retention_s": retention_s,
        "sweep_s": sweep_s,
        "window_s": window_s,
        "windows_each": windows,
        "senders": senders,
        "accepted_without_sweeps": totals["off"][0],
        "accepted_with_sweeps": totals["on"][0],
        "seconds_without_sweeps": totals["off"][1],
        "seconds_with_sweeps": totals["on"][1],
        "rate_without_sweeps": off_rate,
        "rate_with_sweeps": on_rate,
        "rate_ratio": on_rate / off_rate,
        "records_deleted_by_sweeps": sweep_deleted,
        # How long each write transaction of the sweeps held logs.db's write lock (see _sweeper).
        "sweep_transactions": len(held),
        "sweep_transaction_p50_ms": percentile(held, 50) * 1000,
        "sweep_transaction_p99_ms": percentile(held, 99) * 1000,
        "sweep_transaction_max_ms": held[-1] * 1000 if held else 0.0,
        "refused": refused,
        "passed": on_rate >= MIN_RATE_RATIO * off_rate,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--retention", type=int, default=10, help="seconds (part 1 and 2)")
    parser.add_argument("--sweep", type=int, default=1, help="seconds between sweeps")
    parser.add_argument("--rate", type=float, default=3000.0, help="part 1: records/s, constant")
    parser.add_argument("--cycles", type=int, default=10, help="part 1: cycles after the first")
    parser.add_argument("--window", type=float, default=3.0, help="part 2: seconds per window")
    parser.add_argument("--windows", type=int, default=6, help="part 2: windows of each kind")
    parser.add_argument("--senders", type=int, default=2, help="part 2: closed-loop sender threads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = {
        "size": size_part(args.retention, args.sweep, args.rate, args.cycles),
        "rate": rate_part(args.retention, args.sweep, args.window, args.windows, args.senders),
        "machine": machine(),
        "tenant": TENANT,
    }
    if args.json:
        print(json.dumps(result))
    else:
        size, rate = result["size"], result["rate"]
        print(f"size: store_bytes per cycle {size['store_bytes']}")
        print(f"      max / first cycle = {size['max_ratio']:.2f} (limit {MAX_SIZE_RATIO}): "
              f"{'ok' if size['passed'] else 'FAILED'}")  # fmt: skip
        print(f"rate: {rate['rate_without_sweeps']:.0f} records/s without sweeps, "
              f"{rate['rate_with_sweeps']:.0f} with ({rate['records_deleted_by_sweeps']} deleted): "
              f"ratio {rate['rate_ratio']:.3f} (limit {MIN_RATE_RATIO}): "
              f"{'ok' if rate['passed'] else 'FAILED'}")  # fmt: skip
        print(f"      sweep write transactions: {rate['sweep_transactions']}, p50 "
              f"{rate['sweep_transaction_p50_ms']:.1f} ms, p99 {rate['sweep_transaction_p99_ms']:.1f} ms, "
              f"max {rate['sweep_transaction_max_ms']:.1f} ms")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
