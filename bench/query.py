#!/usr/bin/env python3
"""Reading one large tenant on the local stack: a common filter, a needle, and stats.

    .venv/bin/python bench/query.py                   # 1,000,000 records
    .venv/bin/python bench/query.py --records 200000 --json

N records of one tenant (web requests as JSON, ~250 bytes: ``status`` 5xx in about 2 %, a ``host``, a
nested ``db.host``; one record alone holds the needle) are sent with the SDK to a fresh ``logpipe serve`` and
stored. Then, each figure the median of several runs, interleaved with its baseline:

- **filter**: the first page of 100 for ``where=status>=500`` through ``GET /admin/logs`` (HTTP, the admin
  handler, the store), against the same page read straight from ``logs.db`` by the one SQL statement a
  person would write for it (``json_extract(doc, '$.attributes.status') >= 500 ... ORDER BY log_id DESC
  LIMIT 100``, docs decoded with ``json.loads``), in this process. Ratio target: at most 2.
- **needle**: ``logpipe query --contains <needle> -o json`` as a person runs it (a new process, following
  cursors to the end of the tenant): wall time, and the pages it took (the same query through the SDK).
  Target: under 1 s.
- **stats**: ``GET /admin/stats`` over the whole tenant (``since`` a day, by level), wall time.
- **the needle on AWS** (``--aws-records``, default the same N): the same records in the chunked DynamoDB
  store on moto, and the needle found by following the store's pages as the admin function does: the
  admin requests, ``Query`` calls, bytes read, read request units and dollars (``bench/_aws_search.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import logpipe
from _aws_search import needle_cost
from _common import TENANT, Stack, machine

NEEDLE = "zq-needle-4711"
LOGPIPE = str(Path(sys.executable).parent / "logpipe")


def lines(n: int, seed: int = 11) -> Iterator[str]:
    rng = random.Random(seed)
    for i in range(n):
        status = rng.choice((500, 502, 503)) if rng.random() < 0.02 else rng.choice((200, 200, 201, 204, 404))
        record = {
            "level": "error" if status >= 500 else "info",
            "msg": f"GET /api/v1/orders/{rng.randrange(10**6)} {status}"
            + (f" {NEEDLE}" if i == n // 3 else "")
            + " upstream responded slowly, cache miss for key",
            "status": status,
            "host": f"web-{rng.randrange(40)}",
            "db": {"host": f"db-{rng.randrange(4)}", "pool": rng.randrange(50)},
            "request_id": f"{rng.getrandbits(64):016x}",
            "duration_ms": round(rng.random() * 300, 2),
        }
        yield json.dumps(record, separators=(",", ":"))


def median_ms(run: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def direct_page(db: Path) -> list[dict[str, Any]]:
    """The baseline: the page as one hand-written SQL statement reads it, docs decoded."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT doc FROM records WHERE tenant_id = ? AND json_extract(doc, '$.attributes.status') >= 500"
            " ORDER BY log_id DESC LIMIT 100",
            (TENANT,),
        ).fetchall()
        return [json.loads(doc) for (doc,) in rows]
    finally:
        conn.close()


def run(records: int, repeat: int, aws_records: int) -> dict[str, Any]:
    env = {"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "0"}
    with Stack(workers=2, env=env) as stack:
        key = stack.create_tenant(TENANT)
        client = logpipe.Client(endpoint=stack.url, api_key=key, tenant=TENANT)
        sent = client.send_lines(lines(records), format="json")
        client.close()
        assert sent.accepted == records, sent
        stack.wait_all_stored(records, timeout_s=600)
        db = stack.data_dir / "logs.db"
        admin = logpipe.AdminClient(endpoint=stack.url, admin_token=stack.admin_token)
        http = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.admin_token}"})

        def api_page() -> list[dict[str, Any]]:
            response = http.get(
                "/admin/logs", params={"tenant": TENANT, "where": "status>=500", "limit": 100}
            )
            response.raise_for_status()
            items: list[dict[str, Any]] = response.json()["items"]
            return items

        assert [r["log_id"] for r in api_page()] == [r["log_id"] for r in direct_page(db)]  # the same rows
        api_ms, direct_ms = [], []
        for _ in range(repeat):  # interleaved: the machine is shared
            api_ms.append(median_ms(api_page, 3))
            direct_ms.append(median_ms(lambda: direct_page(db), 3))

        env_cli = {**os.environ, "LOGPIPE_ENDPOINT": stack.url, "LOGPIPE_ADMIN_TOKEN": stack.admin_token}
        needle_ms = []
        for _ in range(repeat):
            started = time.perf_counter()
            out = subprocess.run(
                [LOGPIPE, "query", "--tenant", TENANT, "--contains", NEEDLE, "--limit", "0", "-o", "json"],
                env=env_cli,
                capture_output=True,
                text=True,
                timeout=300,
            )
            needle_ms.append((time.perf_counter() - started) * 1000)
            assert out.returncode == 0, out.stderr
            assert len(out.stdout.splitlines()) == 1 and NEEDLE in out.stdout
        pages = 0
        cursor = None
        while True:
            page = admin.query_page(TENANT, contains=NEEDLE, limit=1000, cursor=cursor)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        cli_start_ms = median_ms(
            lambda: subprocess.run([LOGPIPE, "--version"], capture_output=True, check=True), repeat
        )

        stats_ms = []
        for _ in range(max(1, repeat // 2)):
            started = time.perf_counter()
            stats = admin.stats(TENANT, since="1d")
            stats_ms.append((time.perf_counter() - started) * 1000)
            assert stats["records"] == records and not stats["partial"], stats
        http.close()
        admin.close()
        db_bytes = sum(f.stat().st_size for f in db.parent.glob("logs.db*"))  # the WAL holds recent pages
    # Rounded first, so that the printed ratio is the ratio of the printed figures.
    filter_api, filter_direct = round(statistics.median(api_ms), 2), round(statistics.median(direct_ms), 2)
    return {
        "records": records,
        "logs_db_bytes": db_bytes,
        "filter_first_page": {
            "api_ms": filter_api,
            "direct_sql_ms": filter_direct,
            "ratio": round(filter_api / filter_direct, 2),
        },
        "needle": {
            "cli_ms": round(statistics.median(needle_ms), 1),
            "cli_start_ms": round(cli_start_ms, 1),
            "pages": pages,
        },
        "stats_ms": round(statistics.median(stats_ms), 1),
        "aws_needle": needle_cost(lines(aws_records), NEEDLE) if aws_records else None,
        "machine": machine(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7, help="runs per figure (the median is reported)")
    parser.add_argument("--aws-records", type=int, default=None, help="records for the AWS needle (0: skip)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    aws_records = args.records if args.aws_records is None else args.aws_records
    with tempfile.TemporaryDirectory():
        result = run(args.records, args.repeat, aws_records)
    if args.json:
        print(json.dumps(result))
        return
    f, n = result["filter_first_page"], result["needle"]
    print(f"{result['records']:,} records of one tenant, logs.db {result['logs_db_bytes'] / 1e6:,.0f} MB")
    print(f"filter  first page of 100, where status>=500: API {f['api_ms']} ms,")
    print(f"        direct SQL {f['direct_sql_ms']} ms,")
    print(f"        ratio {f['ratio']} (target <= 2)")
    print(f"needle  logpipe query --contains: {n['cli_ms']} ms in {n['pages']} page(s) (target < 1000 ms;")
    print(f"        the CLI's own start-up is {n['cli_start_ms']} ms of it)")
    print(f"stats   whole tenant by level: {result['stats_ms']} ms")
    aws = result["aws_needle"]
    if aws:
        read_mb = aws["bytes_read"] / 1e6
        print(f"AWS     the needle in {aws['records']:,} records ({aws['items']:,} chunks):")
        print(f"        {aws['admin_requests']} admin request(s), {aws['query_calls']} Query call(s),")
        print(f"        {read_mb:,.1f} MB read, {aws['rru']:,} read units, ${aws['dollars']}")


if __name__ == "__main__":
    main()
