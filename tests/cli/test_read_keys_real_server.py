"""A tenant reads its own logs with a read key: ``tenants create-key``, then ``query`` and ``tail`` through
``GET /logs``, against a real ``logpipe serve`` (issue 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import logpipe
import pytest

pytestmark = pytest.mark.slow

LOGPIPE = str(Path(sys.executable).parent / "logpipe")


def _env(server: Any, **extra: str) -> dict[str, str]:
    """No admin token: only what ``extra`` gives."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({"LOGPIPE_ENDPOINT": server.url, "LOGPIPE_CONFIG": "/nonexistent/logpipe.toml", **extra})
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LOGPIPE, *args], env=env, capture_output=True, text=True, timeout=60)


def test_a_read_key_queries_and_tails_its_own_tenant_only(
    server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    server = server_factory(workers=1)
    for tenant in ("acme", "globex"):
        key = server.create_tenant(tenant)
        with logpipe.Client(server.url, key, tenant=tenant) as client:
            client.send(
                [{"message": f"{tenant} says {i}", "level": "warn" if i % 2 else "info"} for i in range(5)]
            )
    server.wait_drained()

    made = _run(
        ["tenants", "create-key", "acme", "--read-only", "--data-dir", str(server.data_dir)], _env(server)
    )
    assert made.returncode == 0, made.stderr
    read_key = made.stdout.strip()
    assert made.stdout == read_key + "\n" and read_key.startswith("lp_")  # the key alone on stdout

    env = _env(server, LOGPIPE_API_KEY=read_key)
    queried = _run(["query", "-o", "json", "--order", "asc"], env)  # no --tenant: the key's own
    assert queried.returncode == 0, queried.stderr
    records = [json.loads(line) for line in queried.stdout.splitlines()]
    assert [r["message"] for r in records] == [f"acme says {i}" for i in range(5)]

    flag = _run(
        ["query", "--api-key", read_key, "--tenant", "acme", "--level", "warn", "-o", "json"], _env(server)
    )
    assert flag.returncode == 0, flag.stderr
    assert sorted(json.loads(line)["message"] for line in flag.stdout.splitlines()) == [
        "acme says 1",
        "acme says 3",
    ]

    tailed = _run(["tail", "-n", "2", "-o", "json"], env)
    assert tailed.returncode == 0, tailed.stderr
    assert [json.loads(line)["message"] for line in tailed.stdout.splitlines()] == [
        "acme says 3",
        "acme says 4",
    ]

    for args in (["query", "--tenant", "globex"], ["tail", "--tenant", "globex"]):
        refused = _run(args, env)
        assert refused.returncode != 0 and refused.stdout == ""
        assert "tenant does not match the key's tenant" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr

    # The read key cannot send; the tenant's ingest key cannot read.
    source = tmp_path / "one.log"
    source.write_text("hello\n")
    sent = _run(["send", str(source), "--tenant", "acme", "--no-progress"], env)
    assert sent.returncode != 0 and "only read" in sent.stderr, sent.stderr
    ingest_only = _run(["query"], _env(server, LOGPIPE_API_KEY=server.create_tenant("third")))
    assert ingest_only.returncode != 0 and "cannot read" in ingest_only.stderr, ingest_only.stderr


def test_create_key_scopes_and_usage_errors(server_factory: Callable[..., Any]) -> None:
    server = server_factory(workers=1)
    server.create_tenant("acme")
    data = ["--data-dir", str(server.data_dir)]
    both = _run(["tenants", "create-key", "acme", "--scopes", "ingest,read", *data], _env(server))
    assert both.returncode == 0, both.stderr
    key = both.stdout.strip()
    with logpipe.Client(server.url, key, tenant="acme") as client:
        client.send({"message": "sent and read with one key"})
    server.wait_drained()
    read = _run(["query", "-o", "json"], _env(server, LOGPIPE_API_KEY=key))
    assert read.returncode == 0 and "sent and read with one key" in read.stdout, read.stderr

    for args, message in (
        (["--read-only", "--scopes", "read"], "cannot be combined"),
        (["--scopes", "write"], "unknown scope 'write'"),
    ):
        bad = _run(["tenants", "create-key", "acme", *args, *data], _env(server))
        assert bad.returncode == 2 and message in bad.stderr and bad.stdout == "", bad.stderr
    missing = _run(["tenants", "create-key", "nobody", "--read-only", *data], _env(server))
    assert missing.returncode == 1 and "no active tenant 'nobody'" in missing.stderr
