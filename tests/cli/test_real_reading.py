"""Reading with the CLI against a real ``logpipe serve``: server-side filters, stats, fields, formats."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cli.test_real_server import LOGPIPE, cli_env

pytestmark = pytest.mark.slow


def run(server: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LOGPIPE, *args], env=cli_env(server), capture_output=True, text=True, timeout=60)


def test_filters_stats_and_fields_through_a_real_server(
    server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("shop")
    other = server.create_tenant("spy")
    source = tmp_path / "in.ndjson"
    with source.open("w") as fh:
        for i in range(600):
            status = 500 + i % 4 if i % 15 == 0 else 200
            record = {"level": "error" if status >= 500 else "info", "msg": f"GET /cart/{i} {status}",
                      "status": status, "host": f"web-{i % 4}", "db": {"host": "db1"}}  # fmt: skip
            fh.write(json.dumps(record) + "\n")
        fh.write(json.dumps({"msg": "NEEDLE-7 in a haystack", "status": 200}) + "\n")
    for tenant, api_key, path in (("shop", key, source), ("spy", other, source)):
        sent = subprocess.run(
            [LOGPIPE, "send", str(path), "--tenant", tenant, "--no-progress"],
            env=cli_env(server, api_key),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
    server.wait_drained(timeout=60)

    errors = run(
        server,
        "query",
        "-t",
        "shop",
        "--where",
        "status>=500",
        "--where",
        "host=web-0",
        "-o",
        "json",
        "--limit",
        "0",
    )
    assert errors.returncode == 0, errors.stderr
    found = [json.loads(line) for line in errors.stdout.splitlines()]
    assert sorted(r["attributes"]["status"] for r in found) == [500] * 10
    assert {r["tenant_id"] for r in found} == {"shop"}

    needle = run(server, "query", "-t", "shop", "--contains", "needle-7", "-o", "raw")
    assert needle.stdout == "NEEDLE-7 in a haystack\n"
    none = run(server, "query", "-t", "shop", "--contains", "needle-7", "--not-contains", "haystack")
    assert none.returncode == 0 and none.stdout == "" and "no records match" in none.stderr
    regex = run(
        server,
        "query",
        "-t",
        "shop",
        "--regex",
        r"^GET /cart/5\d\d 50[13]$",
        "--levels",
        "error",
        "-o",
        "raw",
    )
    assert regex.returncode == 0, regex.stderr
    expected = sorted(
        f"GET /cart/{i} {500 + i % 4}" for i in range(500, 600) if i % 15 == 0 and (500 + i % 4) in (501, 503)
    )
    assert len(expected) == 3 and sorted(regex.stdout.splitlines()) == expected

    stats = run(
        server, "stats", "-t", "shop", "--since", "1h", "--by", "host", "--where", "status>=500", "-o", "json"
    )
    assert stats.returncode == 0, stats.stderr
    body = json.loads(stats.stdout)
    assert body["totals"] == {"web-0": 10, "web-1": 10, "web-2": 10, "web-3": 10} and body["records"] == 40
    chart = run(server, "stats", "-t", "shop", "--since", "10m", "--bucket", "1m")
    assert (
        chart.returncode == 0
        and "█" in chart.stdout
        and "info 561" in chart.stdout
        and "error 40" in chart.stdout
    )

    fields = run(server, "fields", "-t", "shop", "-o", "json")
    names = {f["name"] for f in json.loads(fields.stdout)["fields"]}
    assert names == {"status", "host", "db.host"}
    table = run(server, "fields", "-t", "shop")
    assert "db.host" in table.stdout and "sampled the newest 601 records" in table.stdout

    bad = run(server, "query", "-t", "shop", "--where", "status>=lots")
    assert bad.returncode == 1 and "status>=lots" in bad.stderr
    bad_time = run(server, "stats", "-t", "shop", "--since", "last tuesday")
    assert bad_time.returncode == 2 and "--since" in bad_time.stderr
