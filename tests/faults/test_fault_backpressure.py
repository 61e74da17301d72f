"""Backpressure: a queue deeper than ``LOGPIPE_MAX_QUEUE_DEPTH`` makes ingest answer 429 + ``Retry-After``;
the SDK and ``logpipe send`` wait as told and resume, and nothing accepted is lost."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from faults_support import CanaryThread, assert_clean
from local_stack import REPO, LocalServer, logpipe_command
from logpipe_backend.handlers.ingest import QUEUE_FULL_RETRY_AFTER_S


def test_canary_through_backpressure(server_factory: Callable[..., LocalServer]) -> None:
    # One slow worker (~0.25 s a message) against 10 requests/s, and at most 3 messages queued.
    server = server_factory(
        workers=1,
        visibility_timeout=2.0,
        env={"LOGPIPE_MAX_QUEUE_DEPTH": "3", "LOGPIPE_SIMULATED_WORK_PER_CHAR": "0.002"},
    )
    key = server.create_tenant("acme")
    report = CanaryThread(server, key, duration_s=5.0, max_in_flight=4).start().result()
    assert_clean(report)
    assert report.throttled > 0, report.summary()  # the queue was full: 429s were answered ...
    assert report.failed == 0, report.summary()  # ... and the SDK waited and resumed every time
    assert report.statuses.get("202", 0) > 0


def test_429_carries_retry_after(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=0, env={"LOGPIPE_MAX_QUEUE_DEPTH": "1"})
    key = server.create_tenant("acme")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/plain"}
    first = httpx.post(f"{server.url}/ingest", content="one", headers=headers)
    assert first.status_code == 202
    second = httpx.post(f"{server.url}/ingest", content="two", headers=headers)
    assert second.status_code == 429
    assert second.headers["retry-after"] == str(QUEUE_FULL_RETRY_AFTER_S)
    assert second.json()["error"]["code"] == "queue_full"


def test_logpipe_send_waits_through_429(server_factory: Callable[..., LocalServer], tmp_path: Path) -> None:
    # 0.01 s a character: each of the 3 filler messages (~500 characters) keeps the one worker busy ~5 s,
    # so the queue is still full when `logpipe send` (a new process, slow to start on a loaded machine)
    # makes its first request: with ~1 s fillers it sometimes found room at once and never waited.
    server = server_factory(
        workers=1, env={"LOGPIPE_MAX_QUEUE_DEPTH": "2", "LOGPIPE_SIMULATED_WORK_PER_CHAR": "0.01"}
    )
    key = server.create_tenant("acme")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/plain"}
    for i in range(3):
        r = httpx.post(f"{server.url}/ingest", content=f"filler {i} " + "x" * 490, headers=headers)
        assert r.status_code in (202, 429)
    assert server.health()["queue_depth"] >= 2  # full: the next request is answered 429
    lines = [f"line {i}" for i in range(20)]
    source = tmp_path / "in.log"
    source.write_text("\n".join(lines) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGPIPE_", "AWS_"))}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "config"), "LOGPIPE_API_KEY": key})
    t0 = time.monotonic()
    done = subprocess.run(
        [*logpipe_command(), "send", str(source), "--tenant", "acme", "--endpoint", server.url],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )
    elapsed = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    assert "20 accepted" in done.stderr
    assert elapsed >= QUEUE_FULL_RETRY_AFTER_S * 0.9, elapsed  # it waited as Retry-After said
    server.wait_drained(timeout=60)  # the fillers' ~15 s of work, then the lines'
    stored = [r["message"] for r in server.admin_query(tenant="acme", contains="line ")]
    assert sorted(stored) == sorted(lines)
