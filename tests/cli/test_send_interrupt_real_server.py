"""Ctrl-C in ``logpipe send`` against a real ``logpipe serve`` (issue 15): the first stops reading and sends
what was read, names the line to resume from; resuming there stores the whole file exactly once."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

LOGPIPE = str(Path(sys.executable).parent / "logpipe")
LINES = 400_000


def _env(server: Any, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({"LOGPIPE_ENDPOINT": server.url, "LOGPIPE_API_KEY": key, "LOGPIPE_TENANT": "resume"})
    return env


def _stored(server: Any) -> Counter[str]:
    """Every stored message of the tenant, with how often it is stored (read from logs.db directly)."""
    uri = f"file:{Path(server.data_dir) / 'logs.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=30)) as conn:
        rows = conn.execute(
            "SELECT json_extract(doc, '$.message') FROM records WHERE tenant_id = 'resume'"
        ).fetchall()
    return Counter(str(r[0]) for r in rows)


def test_first_ctrl_c_sends_what_was_read_and_resume_completes_exactly_once(
    server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    server = server_factory(workers=2)
    key = server.create_tenant("resume")
    source = tmp_path / "app.log"
    expected = [f"line {i:07d} of the big file" for i in range(LINES)]
    source.write_text("".join(m + "\n" for m in expected), encoding="utf-8")

    # Small batches, one at a time: slow enough to be interrupted mid-way on any machine.
    args = [LOGPIPE, "send", str(source), "--no-progress", "--batch-records", "500", "--in-flight", "1"]
    proc = subprocess.Popen(args, env=_env(server, key), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while sum(_stored(server).values()) < 2000 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    found = re.search(r"interrupted at (\S+) line (\d+): .*resume with: (logpipe send .*)$", err, re.M)
    assert found, err
    resume_line = int(found.group(2))
    done = resume_line - 1
    assert found.group(1) == str(source)
    assert found.group(3) == f"logpipe send {source} --skip-lines {done}"
    assert 2000 <= done < LINES, f"not interrupted mid-way: {err}"
    assert f"{done:,} accepted" in err and "not accepted" not in err, err
    assert "Traceback" not in err

    server.wait_drained()
    stored = _stored(server)
    assert stored == Counter(expected[:done]), "the lines before the resume point, each exactly once"

    resumed = subprocess.run(
        [LOGPIPE, *found.group(3).split()[1:], "--no-progress"],
        env=_env(server, key),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{LINES - done:,} accepted" in resumed.stderr, resumed.stderr
    server.wait_drained(timeout=60)
    assert _stored(server) == Counter(expected), "the whole file, each line exactly once"


def test_second_ctrl_c_aborts_at_once(server_factory: Callable[..., Any]) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("resume")
    proc = subprocess.Popen(
        [LOGPIPE, "send", "-", "--no-progress"],
        env=_env(server, key),
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stderr is not None
    os.kill(server.process.pid, signal.SIGSTOP)  # the server stops answering: a request hangs in flight
    try:
        proc.stdin.write("one line\n")
        proc.stdin.flush()
        time.sleep(1.5)  # the batch's age limit (1 s) sends it; the request waits for the frozen server
        proc.send_signal(signal.SIGINT)
        assert "stopping" in proc.stderr.readline()
        time.sleep(1.0)
        assert proc.poll() is None, "the first Ctrl-C waits for what is in flight"
        proc.send_signal(signal.SIGINT)
        started = time.monotonic()
        rc = proc.wait(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        proc.stdin.close()
    err = proc.stderr.read()
    assert rc == 130 and "aborted" in err, err
