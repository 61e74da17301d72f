"""The SDK against a real ``logpipe serve`` (``server_factory`` of tests/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Any

import logpipe
import pytest
from logpipe._batcher import Batcher

pytestmark = pytest.mark.slow


def test_send_query_and_idempotent_retry(server_factory: Callable[..., Any]) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("sdk")
    with logpipe.Client(server.url, key, tenant="sdk") as client:
        result = client.send([{"level": "error", "message": "disk full", "host": "db1"}, "WARN plain text"])
        assert result.accepted == 2 and len(result.log_ids) == 2
        # The same batch sent twice (a retry after a lost response) under its key: same ids, one copy.
        batcher = Batcher()
        batcher.add("text", b"retried line")
        [batch] = batcher.flush()
        first = client.send_batch(batch)
        second = client.send_batch(batch)
        assert first == second
        with pytest.raises(logpipe.AuthenticationError):
            logpipe.Client(server.url, "lp_wrong", tenant="sdk").send("x")
        with pytest.raises(logpipe.PermissionDeniedError):
            logpipe.Client(server.url, key, tenant="other").send("x")
    server.wait_drained()
    with logpipe.AdminClient(server.url, server.admin_token) as admin:
        records = list(admin.query("sdk"))
        assert sorted(r["message"] for r in records) == ["WARN plain text", "disk full", "retried line"]
        asc = list(admin.query("sdk", level="warn", order="asc"))
        assert sorted(r["message"] for r in asc) == ["WARN plain text", "disk full"]
        assert [r["log_id"] for r in asc] == sorted(r["log_id"] for r in asc)
        assert [r["log_id"] for r in admin.tail("sdk", n=2, follow=False)] == sorted(
            r["log_id"] for r in records
        )[1:]
        with pytest.raises(logpipe.AuthenticationError):
            list(logpipe.AdminClient(server.url, "lpadm_wrong").query("sdk"))


def test_async_client_against_server(server_factory: Callable[..., Any]) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("async")

    async def main() -> logpipe.SendResult:
        async with logpipe.AsyncClient(server.url, key, tenant="async") as client:
            await client.send({"message": "one"})
            return await client.send_lines([f"line {i}" for i in range(500)], max_in_flight=3)

    result = asyncio.run(main())
    assert result.ok and result.accepted == 500
    server.wait_drained()
    assert len(server.admin_query(tenant="async")) == 501


APP = textwrap.dedent(
    """
    import json, logging, os, sys, time
    import logpipe

    handler = logpipe.LogpipeHandler(endpoint=os.environ["EP"], api_key=os.environ["KEY"], flush_timeout=5)
    log = logging.getLogger("app")
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    count = int(sys.argv[1])
    pause = float(sys.argv[2])
    for i in range(count):
        log.info("record %d", i, extra={"seq": i})
        if pause:
            time.sleep(pause)
            if i == 20:
                print("ready", flush=True)
    stats = handler.stats
    print(json.dumps({"sent": stats.sent, "dropped": stats.dropped, "lost": stats.lost}), flush=True)
    # and exit at once: the atexit hook must flush what is still queued
    """
)


def run_app(server: Any, key: str, count: int, pause: float) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({"EP": server.url, "KEY": key, "XDG_CONFIG_HOME": "/nonexistent"})
    return subprocess.Popen(
        [sys.executable, "-c", APP, str(count), str(pause)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_app_that_exits_right_after_logging_loses_nothing(server_factory: Callable[..., Any]) -> None:
    server = server_factory(workers=2)
    key = server.create_tenant("app")
    app = run_app(server, key, 3000, 0)
    _, err = app.communicate(timeout=60)
    assert app.returncode == 0, err
    assert "not delivered" not in err
    server.wait_drained()
    records = server.admin_query(tenant="app")
    assert sorted(r["attributes"]["seq"] for r in records) == list(range(3000))


def test_app_survives_the_server_stopping_and_reports_the_loss(server_factory: Callable[..., Any]) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("app")
    app = run_app(server, key, 400, 0.01)  # ~4 s of logging
    assert app.stdout is not None
    assert app.stdout.readline().strip() == "ready"
    server.kill()  # mid-run, without warning
    started = time.monotonic()
    out, err = app.communicate(timeout=60)
    assert app.returncode == 0, err
    assert time.monotonic() - started < 20, "the app was held up by the dead server"
    assert "Traceback" not in err
    stats = json.loads(out.strip().splitlines()[-1])
    assert "log records not delivered" in err  # the loss is reported
    # everything the handler counts as sent was stored (restart on the same data dir to read it)
    server.restart()
    server.wait_drained()
    stored = {r["attributes"]["seq"] for r in server.admin_query(tenant="app")}
    assert len(stored) >= stats["sent"]
    assert len(stored) < 400
