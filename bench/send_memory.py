#!/usr/bin/env python3
"""Peak memory of ``logpipe send`` for a small and a 10x larger input: it should stay flat.

    .venv/bin/python bench/send_memory.py            # 100 MB and 1 GB inputs
    .venv/bin/python bench/send_memory.py --small    # 5 MB and 50 MB (CI)

Inputs are generated in a temporary directory (mixed JSON and text lines, ~110 bytes each) and deleted
afterwards. ``logpipe send`` runs as a child process and its peak resident set size comes from the
kernel's accounting for exactly that child (``os.wait4`` → ``ru_maxrss``).

The receiving end is a tiny in-process sink that checks each request (gzip, NDJSON/text, Idempotency-Key)
and answers 202 with one log_id per record, not ``logpipe serve``: the point is the memory of *send*; a
real server at 1 GB would mostly measure SQLite and the workers, and its backpressure (429 when the
queue is deep) would make the run long without changing what send holds in memory (a 429 retry keeps
the same bounded set of batches in flight).
"""

from __future__ import annotations

import argparse
import gzip
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MB = 1000 * 1000
LOGPIPE = str(Path(sys.executable).parent / "logpipe")


class Sink(http.server.ThreadingHTTPServer):
    daemon_threads = True
    records = 0
    requests = 0
    lock = threading.Lock()


class SinkHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        ok = bool(self.headers.get("idempotency-key")) and self.path == "/ingest"
        count = sum(1 for line in body.split(b"\n") if line.strip())
        server = self.server
        assert isinstance(server, Sink)
        with server.lock:
            server.records += count
            server.requests += 1
        payload = json.dumps(
            {"accepted": count, "log_ids": ["0" * 26] * count, "request_id": "bench"} if ok else {"error": {}}
        ).encode()
        self.send_response(202 if ok else 400)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        return


def generate(path: Path, size: int) -> int:
    """Write ~``size`` bytes of mixed lines; returns the number of lines."""
    block_lines = []
    for i in range(10_000):
        if i % 2:
            block_lines.append(
                json.dumps(
                    {
                        "level": "info",
                        "message": f"request {i} served",
                        "path": f"/api/items/{i}",
                        "ms": i % 97,
                    }
                )
            )
        else:
            block_lines.append(
                f"2026-11-26T03:00:00Z WARN worker {i % 16} slow request id={i:08d} took {i % 900}ms"
            )
    block = ("\n".join(block_lines) + "\n").encode()
    lines = 0
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            fh.write(block)
            written += len(block)
            lines += len(block_lines)
    return lines


def run_send(path: Path, url: str) -> tuple[float, int, int, str]:
    """(seconds, peak RSS in KiB, exit code, summary line) of one ``logpipe send``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({"LOGPIPE_ENDPOINT": url, "LOGPIPE_API_KEY": "lp_bench", "XDG_CONFIG_HOME": str(path.parent)})
    started = time.monotonic()
    proc = subprocess.Popen(
        [LOGPIPE, "send", str(path), "--tenant", "bench", "--no-progress"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.monotonic() - started
    return elapsed, usage.ru_maxrss, proc.returncode, err.strip().splitlines()[-1] if err.strip() else ""


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", action="store_true", help="5 MB and 50 MB instead of 100 MB and 1 GB")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--max-ratio", type=float, default=None, help="exit 1 if peak(large)/peak(small) exceeds this"
    )
    args = parser.parse_args()
    sizes = [5 * MB, 50 * MB] if args.small else [100 * MB, 1000 * MB]

    sink = Sink(("127.0.0.1", 0), SinkHandler)
    threading.Thread(target=sink.serve_forever, name="sink", daemon=True).start()
    url = f"http://127.0.0.1:{sink.server_address[1]}"
    tmp = Path(tempfile.mkdtemp(prefix="logpipe-bench-"))
    results = []
    try:
        for size in sizes:
            path = tmp / f"input-{size // MB}MB.log"
            lines = generate(path, size)
            actual = path.stat().st_size
            before = sink.records
            seconds, peak_kib, code, summary = run_send(path, url)
            path.unlink()
            received = sink.records - before
            results.append(
                {
                    "input_mb": round(actual / MB, 1),
                    "lines": lines,
                    "seconds": round(seconds, 2),
                    "mb_per_s": round(actual / MB / seconds, 1),
                    "peak_rss_mb": round(peak_kib / 1024, 1),
                    "exit_code": code,
                    "records_received": received,
                    "summary": summary,
                }
            )
            if code != 0 or received != lines:
                print(f"send failed: exit {code}, {received}/{lines} records: {summary}", file=sys.stderr)
                return 1
    finally:
        sink.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = results[1]["peak_rss_mb"] / results[0]["peak_rss_mb"]  # type: ignore[operator]
    if args.json:
        print(json.dumps({"results": results, "peak_ratio": round(ratio, 3)}, indent=2))
    else:
        print(f"{'input':>10} {'lines':>12} {'time':>8} {'MB/s':>7} {'peak RSS':>10}")
        for r in results:
            size, rate, peak = r["input_mb"], r["mb_per_s"], r["peak_rss_mb"]
            print(f"{size:>8} MB {r['lines']:>12,} {r['seconds']:>7}s {rate:>7} {peak:>7} MB")
        print(f"peak RSS ratio (large/small input, 10x the data): {ratio:.2f}")
    if args.max_ratio is not None and ratio > args.max_ratio:
        print(f"peak memory grew by {ratio:.2f}x (limit {args.max_ratio})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
