#!/usr/bin/env python3
"""End-to-end throughput of the local pipeline, against the machine's floor measured in the same run.

    .venv/bin/python bench/throughput.py                    # 1,000,000 records
    .venv/bin/python bench/throughput.py --records 200000 --json

Pipeline: N records (``bench/_common.py``: ~250 bytes, 70 % JSON / 30 % text) are read from a file and sent
with the SDK (``Client.send_lines``, its default batching, gzip and 4 requests in flight) to a fresh
``logpipe serve`` (default 2 worker processes), and the clock stops when every record is queryable: the
queue is empty (``/healthz`` ``queue_depth`` 0, nothing waiting or leased) *and* a count of the store's
rows for the tenant equals N.

Floor: one core doing the least a store of these records must do — ``json.loads`` of every JSON line (text
lines are kept as they are) and an insert of each record into SQLite in transactions of 1,000 rows, with the
store's durability settings (WAL, ``synchronous=FULL``), page size and table shape (``WITHOUT ROWID``, keyed
by tenant and id), holding the line itself as the document. It runs in this process before and after the
pipeline on the same records, and the ratio uses their mean, because the machine is shared and noisy.

OTLP (``bench/_otlp.py``): the same records, as OTLP LogRecords, sent as protobuf to POST /v1/logs of
another fresh ``logpipe serve``, until all are stored; ``otlp_vs_ingest`` = its records/s ÷ the pipeline's.
Issue 14 asks for at least 0.8. ``--otlp-batch`` sets the records per request (default 8,192, the
Collector's batch size); its client compresses with the SDK's gzip (``--otlp-gzip sdk``, the default: isal
when installed, level 1), as the /ingest run's client does, so that the ratio compares the doors and not
the clients' compressors (the client shares the two cores with the server); ``--otlp-gzip stdlib`` uses the
standard library's at level 1 instead (the two compared: docs/shippers.md).
``--no-otlp`` skips it.

Printed: records/s and MB/s (input bytes) of both, and ratio = pipeline records/s ÷ floor records/s; the
CPU of the client, the server and the workers during each run, in seconds and in µs a record.

``--phases`` adds where the server's CPU goes, in this process on the run's records (no HTTP, no queue): the
steps of each door on one request of ``--otlp-batch`` records (the SDK's two bodies, NDJSON and text, for
/ingest), CPU time a record, the median of alternating rounds. For OTLP it also times a bare loop that
only reads every attribute's key and value off the messages, which no translation can go below.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TENANT, Stack, machine, read_lines, write_records
from _otlp import BATCH as OTLP_BATCH
from _otlp import GZIPS as OTLP_GZIPS
from _otlp import otlp_pipeline
from logpipe_backend.adapters.sqlite.store import PAGE_SIZE as STORE_PAGE_SIZE
from logpipe_backend.core import otlp as otlp_door
from logpipe_backend.core.body import NDJSON, TEXT, decode_body, parse_records
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.ingest import prepare, prepare_normalized
from logpipe_backend.core.limits import Limits

FLOOR_TRANSACTION_ROWS = 1000
MB = 1_000_000
PHASE_ROUNDS = 15
US = 1_000_000
OTLP_BUILD_STEP = "translate + serialize by the chunk (otlp.stored_chunks → ingest.prepare_normalized)"


def floor(path: Path, workdir: Path, name: str) -> dict[str, float]:
    """One core: parse each record once and insert it, 1,000 rows per transaction (see the docstring)."""
    db_path = workdir / f"floor-{name}.db"
    conn = sqlite3.connect(str(db_path), isolation_level=None)
    conn.execute(f"PRAGMA page_size={STORE_PAGE_SIZE}")  # what logs.db is made with: the same insert cost
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE records (tenant_id TEXT NOT NULL, log_id TEXT NOT NULL, doc TEXT NOT NULL,"
        " PRIMARY KEY (tenant_id, log_id)) WITHOUT ROWID"
    )
    loads = json.loads
    started = time.perf_counter()
    n = 0
    size = 0
    rows: list[tuple[str, str, str]] = []
    for line in read_lines(path):
        size += len(line)
        line = line.rstrip("\n")
        if line.startswith("{"):
            loads(line)  # the parse a pipeline cannot avoid
        rows.append((TENANT, f"{n:026d}", line))
        n += 1
        if len(rows) == FLOOR_TRANSACTION_ROWS:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO records VALUES (?, ?, ?)", rows)
            conn.execute("COMMIT")
            rows = []
    if rows:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO records VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    stored = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    assert stored == n, (stored, n)
    return {"seconds": elapsed, "records_per_s": n / elapsed, "mb_per_s": size / MB / elapsed}


def pipeline(path: Path, n: int, input_bytes: int, workers: int, timeout_s: float) -> dict[str, Any]:
    import logpipe

    # The per-tenant rate limit (default 50,000 records/s after a burst of 200,000) is a policy, not a cost:
    # one tenant sending as fast as it can would measure the limit, so the benchmark's stack has it off.
    with Stack(workers=workers, env={"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "0"}) as stack:
        key = stack.create_tenant()
        client = logpipe.Client(endpoint=stack.url, api_key=key, tenant=TENANT)
        peak_depth = [0]
        done = threading.Event()

        def watch() -> None:  # queue depth while sending: how far the workers fall behind
            while not done.wait(0.5):
                with contextlib.suppress(Exception):  # a slow /healthz must not end the run
                    peak_depth[0] = max(peak_depth[0], int(stack.health()["queue_depth"]))

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        cpu_before = stack.cpu_seconds()
        self_before = time.process_time()
        started = time.perf_counter()
        stats = logpipe.SendStats()
        result = client.send_lines(read_lines(path), format="auto", stats=stats)
        sent = time.perf_counter()
        if not result.ok or result.accepted != n:
            raise RuntimeError(f"send failed: {result}\n{stack.log_tail()}")
        stored = stack.wait_all_stored(n, timeout_s)
        elapsed = time.perf_counter() - started
        client_cpu = time.process_time() - self_before
        cpu_after = stack.cpu_seconds()
        done.set()
        client.close()
        health = stack.health()
    return {
        "seconds": elapsed,
        "send_seconds": sent - started,
        "records_per_s": n / elapsed,
        "mb_per_s": input_bytes / MB / elapsed,
        "accepted": result.accepted,
        "requests": stats.requests,
        "retries": stats.retries,  # a retried request (429, 5xx, network) is waiting, not pipeline work
        "stored": stored,
        "dlq_depth": health["dlq_depth"],
        "peak_queue_depth_messages": peak_depth[0],
        "workers": workers,
        # CPU seconds per process kind while the run lasted: where the machine's time went.
        "cpu_seconds": {
            "client (SDK, this process)": round(client_cpu, 2),
            "server": round(cpu_after["server"] - cpu_before["server"], 2),
            "workers": round(cpu_after["workers"] - cpu_before["workers"], 2),
        },
    }


def server_phases(path: Path, batch: int) -> dict[str, dict[str, float]]:
    """CPU µs a record of each door's server-side steps on the first ``batch`` records (see the docstring)."""
    import gzip

    from _otlp import requests as otlp_requests

    lines = [line.rstrip("\n") for line, _ in zip(read_lines(path), range(batch), strict=False)]
    n = len(lines)
    limits = Limits()
    received_ms = 1_764_128_700_000
    log_ids = new_log_ids(n, received_ms)
    request = next(otlp_requests(lines, n))
    otlp_body = gzip.compress(request.SerializeToString(), compresslevel=1)
    json_lines = [line for line in lines if line.startswith("{")]
    bodies = [  # what the SDK sends for these lines: one NDJSON body and one text body
        (NDJSON, gzip.compress("".join(f"{line}\n" for line in json_lines).encode(), compresslevel=1)),
        (TEXT, gzip.compress("".join(f"{line}\n" for line in lines if not line.startswith("{")).encode(), 1)),
    ]

    common = {"tenant_id": TENANT, "received_ms": received_ms, "limits": limits, "finite_floats": True}

    def otlp_steps() -> dict[str, float]:
        out: dict[str, float] = {}
        data, out["gunzip"] = _timed(decode_body, otlp_body, "gzip", limits)
        decoded, out["decode (upb)"] = _timed(otlp_door.decode, data, otlp_door.PROTOBUF)
        _, out[OTLP_BUILD_STEP] = _timed(
            prepare_normalized,
            lambda: otlp_door.stored_chunks(
                decoded, limits, tenant_id=TENANT, received_ms=received_ms, log_ids=log_ids
            ),
            limits=limits,
            finite_floats=True,
        )
        # On a message decoded afresh, as the translation's was: upb makes a message's wrappers on first
        # reading, and a second reading of the same message would cost less.
        fresh = otlp_door.decode(data, otlp_door.PROTOBUF)
        _, out["  of which: bare reads of every attribute"] = _timed(_read_attributes, fresh)
        return out

    def ingest_steps() -> dict[str, float]:
        out = dict.fromkeys(("gunzip", "parse (core/body.parse_records)", "normalize + serialize"), 0.0)
        start = 0
        for kind, body in bodies:
            data, seconds = _timed(decode_body, body, "gzip", limits)
            out["gunzip"] += seconds
            raws, seconds = _timed(parse_records, data, kind, limits)
            out["parse (core/body.parse_records)"] += seconds
            ids = log_ids[start : start + len(raws)]
            start += len(raws)
            _, seconds = _timed(prepare, raws, log_ids=ids, **common)
            out["normalize + serialize"] += seconds
        return out

    rounds: dict[str, list[dict[str, float]]] = {"ingest": [], "otlp": []}
    for _ in range(PHASE_ROUNDS):  # alternating, so both doors see the same machine
        rounds["ingest"].append(ingest_steps())
        rounds["otlp"].append(otlp_steps())
    return {
        door: {step: round(statistics.median(r[step] for r in runs) * US / n, 2) for step in runs[0]}
        for door, runs in rounds.items()
    }


def _timed(step: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    started = time.process_time()
    result = step(*args, **kwargs)
    return result, time.process_time() - started


def _read_attributes(request: Any) -> None:
    """Every log record's attributes read off the messages (key, value, the value's kind and field), nothing
    built: what any translation in Python pays for them (a wrapper object per KeyValue and per AnyValue)."""
    for resource_logs in request.resource_logs:
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                for pair in record.attributes:
                    _key, value = pair.key, pair.value
                    if not value.string_value:
                        getattr(value, value.WhichOneof("value") or "string_value")


def run(
    n: int,
    workers: int,
    timeout_s: float,
    otlp: bool = True,
    otlp_batch: int = OTLP_BATCH,
    phases: bool = False,
    otlp_gzip: str = "sdk",
) -> dict[str, Any]:
    info = machine()
    with tempfile.TemporaryDirectory(prefix="logpipe-throughput-") as tmp:
        workdir = Path(tmp)
        path = workdir / "records.txt"
        input_bytes = write_records(path, n)
        before = floor(path, workdir, "before")
        pipe = pipeline(path, n, input_bytes, workers, timeout_s)
        after = floor(path, workdir, "after")
        over_otlp = (
            otlp_pipeline(path, n, input_bytes, workers, timeout_s, otlp_batch, otlp_gzip) if otlp else None
        )
        per_phase = server_phases(path, otlp_batch) if phases else None
    floor_rps = (before["records_per_s"] + after["records_per_s"]) / 2
    extra: dict[str, Any] = {}
    if over_otlp is not None:
        extra = {"otlp": over_otlp, "otlp_vs_ingest": over_otlp["records_per_s"] / pipe["records_per_s"]}
    for result in (pipe, over_otlp):
        if result is not None:
            result["cpu_us_per_record"] = {k: round(v * US / n, 2) for k, v in result["cpu_seconds"].items()}
    if per_phase is not None:
        extra["server_phases_us_per_record"] = per_phase
    return {
        "records": n,
        "input_bytes": input_bytes,
        "mean_record_bytes": round(input_bytes / n, 1),
        "machine": info,
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "pipeline": pipe,
        "floor_before": before,
        "floor_after": after,
        "floor_records_per_s": floor_rps,
        "ratio": pipe["records_per_s"] / floor_rps,
        **extra,
    }


def report(r: dict[str, Any]) -> str:
    p, b, a = r["pipeline"], r["floor_before"], r["floor_after"]
    return "\n".join(
        [
            f"records: {r['records']:,} ({r['input_bytes'] / MB:.1f} MB, {r['mean_record_bytes']} B mean);"
            f" machine: {r['machine']['cpus']} CPUs, load {r['machine']['load_avg_1m_at_start']}"
            f" → {r['load_avg_1m_at_end']}",
            f"pipeline (SDK → logpipe serve, {p['workers']} workers → all queryable):"
            f" {p['records_per_s']:,.0f} records/s, {p['mb_per_s']:.2f} MB/s"
            f" ({p['seconds']:.1f} s; sending took {p['send_seconds']:.1f} s in {p['requests']:,} requests,"
            f" {p['retries']} retried; stored {p['stored']:,};"
            f" peak queue depth {p['peak_queue_depth_messages']} messages)",
            _cpu_line(p),
            f"floor (1 core: json.loads + SQLite WAL/FULL, 1,000-row transactions):"
            f" before {b['records_per_s']:,.0f}/s, after {a['records_per_s']:,.0f}/s,"
            f" mean {r['floor_records_per_s']:,.0f} records/s",
            f"ratio pipeline / floor: {r['ratio']:.3f}",
            *_otlp_report(r),
            *_phases_report(r),
        ]
    )


def _otlp_report(r: dict[str, Any]) -> list[str]:
    if "otlp" not in r:
        return []
    o = r["otlp"]
    return [
        f"OTLP (protobuf, gzip by {o['gzip']}, {o['requests']:,} requests of {o['batch']:,}"
        f" → POST /v1/logs → all stored): {o['records_per_s']:,.0f} records/s"
        f" ({o['seconds']:.1f} s; stored {o['stored']:,})",
        _cpu_line(o),
        f"ratio OTLP / /ingest pipeline: {r['otlp_vs_ingest']:.3f} (issue 14 asks for >= 0.8)",
    ]


def _cpu_line(run: dict[str, Any]) -> str:
    return "  CPU during the run, seconds (µs a record): " + ", ".join(
        f"{k} {v} ({run['cpu_us_per_record'][k]})" for k, v in run["cpu_seconds"].items()
    )


def _phases_report(r: dict[str, Any]) -> list[str]:
    if "server_phases_us_per_record" not in r:
        return []
    out = ["server-side steps in this process, CPU µs a record (median of alternating rounds):"]
    for door, steps in r["server_phases_us_per_record"].items():
        listed = ", ".join(f"{step} {us}" for step, us in steps.items())
        total = sum(us for step, us in steps.items() if not step.startswith(" "))
        out.append(f"  {door}: {listed}; total {total:.2f}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=2, help="worker processes of logpipe serve")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for all to be stored")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--no-otlp", action="store_true", help="skip the OTLP run")
    p.add_argument(
        "--otlp-batch",
        type=int,
        default=OTLP_BATCH,
        help="log records per OTLP request (default: the Collector's 8192; the OTel SDKs send 512)",
    )
    p.add_argument(
        "--otlp-gzip",
        choices=sorted(OTLP_GZIPS),
        default="sdk",
        help="the OTLP client's gzip: the SDK's (default, as the /ingest run's) or the standard library's",
    )
    p.add_argument(
        "--phases",
        action="store_true",
        help="also time each door's server-side steps in this process (CPU µs a record)",
    )
    args = p.parse_args(argv)
    result = run(
        args.records,
        args.workers,
        args.timeout,
        otlp=not args.no_otlp,
        otlp_batch=args.otlp_batch,
        phases=args.phases,
        otlp_gzip=args.otlp_gzip,
    )
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
