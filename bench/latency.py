#!/usr/bin/env python3
"""Latency of the local stack under a steady load: ``POST /ingest`` of 1 and of 1,000 records, and the
time from the 202 to the record being queryable.

    .venv/bin/python bench/latency.py
    .venv/bin/python bench/latency.py --samples 500 --load-rps 4 --json

A fresh ``logpipe serve`` (2 workers) gets a steady background load: ``--load-rps`` requests a second of
``--load-batch`` records each (gzip NDJSON, as the SDK sends), from a thread of their own, for the whole
run. Meanwhile, one request at a time on a keep-alive connection:

- ``ingest_1``: a 1-record JSON body (uncompressed), timed from the request to the 202;
- ``ingest_1000``: a 1,000-record NDJSON body, gzip level 1 like the SDK (~250 KB before compression);
- ``to_queryable``: a 1-record request, timed from its 202 to the moment the record's key is in the store
  (a primary-key read of ``logs.db`` every 2 ms — the same rows the admin API reads; the HTTP round trip
  of a query is left out of the figure on purpose).

Figures are p50 / p99 / max (nearest rank) in milliseconds, with the number of samples beside them.

The stack runs with the per-tenant rate limit off, as in ``throughput.py``: the samples alone send ~300,000
records in a few seconds, past the default limit's burst (200,000, then 50,000 a second), and a 429 would
end the run; the limit is a policy, not a latency.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TENANT, Stack, iter_lines, machine, percentile

POLL_S = 0.002
QUERYABLE_TIMEOUT_S = 30.0


def _json_lines(n: int, offset: int) -> list[str]:
    lines = []
    for line in iter_lines(n * 2 + 10, seed=offset):
        if line.startswith("{"):
            lines.append(line)
            if len(lines) == n:
                break
    return lines


def _summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "samples": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2) if ms else float("nan"),
    }


class Load(threading.Thread):
    """``rps`` requests a second of ``batch`` records, paced on a fixed schedule (no catching up)."""

    def __init__(self, url: str, key: str, rps: float, batch: int) -> None:
        super().__init__(name="bench-load", daemon=True)
        body = "\n".join(_json_lines(batch, offset=99)).encode()
        self.body = gzip.compress(body, compresslevel=1)
        self.url, self.key, self.rps = url, key, rps
        self.stop = threading.Event()
        self.sent = 0
        self.refused = 0

    def run(self) -> None:
        if self.rps <= 0:
            return
        headers = {
            "authorization": f"Bearer {self.key}",
            "content-type": "application/x-ndjson",
            "content-encoding": "gzip",
        }
        interval = 1.0 / self.rps
        next_at = time.monotonic()
        with httpx.Client(timeout=30) as http:
            while not self.stop.is_set():
                r = http.post(f"{self.url}/ingest", content=self.body, headers=headers)
                self.sent += 1
                self.refused += r.status_code != 202
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    self.stop.wait(delay)
                else:
                    next_at = time.monotonic()  # behind schedule: do not burst to catch up


def run(
    samples: int, queryable_samples: int, load_rps: float, load_batch: int, workers: int
) -> dict[str, Any]:
    info = machine()
    with Stack(workers=workers, env={"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "0"}) as stack:
        key = stack.create_tenant()
        load = Load(stack.url, key, load_rps, load_batch)
        load.start()
        time.sleep(min(2.0, 2 / load_rps) if load_rps > 0 else 0)  # let the load settle in
        url = f"{stack.url}/ingest"
        auth = {"authorization": f"Bearer {key}"}
        one = json.dumps({"level": "info", "message": "latency probe", "service": "bench"}).encode()
        thousand = gzip.compress("\n".join(_json_lines(1000, offset=5)).encode(), compresslevel=1)
        ingest_1: list[float] = []
        ingest_1000: list[float] = []
        queryable: list[float] = []
        conn = sqlite3.connect(f"file:{stack.data_dir / 'logs.db'}?mode=ro", uri=True, timeout=30)
        try:
            with httpx.Client(timeout=30) as http:

                def post(body: bytes, headers: dict[str, str]) -> tuple[float, httpx.Response]:
                    started = time.perf_counter()
                    r = http.post(url, content=body, headers={**auth, **headers})
                    elapsed = time.perf_counter() - started
                    if r.status_code != 202:
                        raise RuntimeError(f"ingest answered {r.status_code}: {r.text}")
                    return elapsed, r

                for _ in range(samples):
                    ingest_1.append(post(one, {"content-type": "application/json"})[0])
                    ingest_1000.append(
                        post(thousand, {"content-type": "application/x-ndjson", "content-encoding": "gzip"})[
                            0
                        ]
                    )
                for _ in range(queryable_samples):
                    _, r = post(one, {"content-type": "application/json"})
                    accepted_at = time.perf_counter()
                    log_id = r.json()["log_ids"][0]
                    while True:
                        row = conn.execute(
                            "SELECT 1 FROM records WHERE tenant_id = ? AND log_id = ?", (TENANT, log_id)
                        ).fetchone()
                        if row is not None:
                            queryable.append(time.perf_counter() - accepted_at)
                            break
                        if time.perf_counter() - accepted_at > QUERYABLE_TIMEOUT_S:
                            raise TimeoutError(f"{log_id} not queryable in {QUERYABLE_TIMEOUT_S}s")
                        time.sleep(POLL_S)
        finally:
            conn.close()
            load.stop.set()
            load.join(timeout=30)
        health = stack.health()
    return {
        "machine": info,
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "workers": workers,
        "load": {
            "requests_per_s": load_rps,
            "records_per_request": load_batch,
            "requests_sent": load.sent,
            "requests_refused": load.refused,
        },
        "ingest_1": _summary(ingest_1),
        "ingest_1000": _summary(ingest_1000),
        "to_queryable": _summary(queryable),
        "dlq_depth": health["dlq_depth"],
    }


def report(r: dict[str, Any]) -> str:
    load = r["load"]
    lines = [
        f"machine: {r['machine']['cpus']} CPUs, load {r['machine']['load_avg_1m_at_start']}"
        f" → {r['load_avg_1m_at_end']}; {r['workers']} workers; background load"
        f" {load['requests_per_s']} req/s × {load['records_per_request']} records"
        f" ({load['requests_sent']} sent, {load['requests_refused']} refused)",
    ]
    names = {
        "ingest_1": "POST /ingest, 1 record",
        "ingest_1000": "POST /ingest, 1,000 records",
        "to_queryable": "202 → queryable",
    }
    for key, label in names.items():
        s = r[key]
        lines.append(
            f"{label:<30} p50 {s['p50_ms']:8.2f} ms   p99 {s['p99_ms']:8.2f} ms"
            f"   max {s['max_ms']:8.2f} ms   (n={s['samples']})"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=300, help="requests of each size")
    p.add_argument("--queryable-samples", type=int, default=100)
    p.add_argument("--load-rps", type=float, default=2.0, help="background requests a second (0: none)")
    p.add_argument("--load-batch", type=int, default=1000, help="records per background request")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = p.parse_args(argv)
    result = run(args.samples, args.queryable_samples, args.load_rps, args.load_batch, args.workers)
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
