"""The CLI against a real ``logpipe serve`` (the ``server_factory`` fixture of tests/conftest.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import logpipe
import pytest

pytestmark = pytest.mark.slow

LOGPIPE = str(Path(sys.executable).parent / "logpipe")


def cli_env(server: Any, key: str | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({"LOGPIPE_ENDPOINT": server.url, "LOGPIPE_ADMIN_TOKEN": server.admin_token, **extra})
    if key:
        env["LOGPIPE_API_KEY"] = key
    return env


def make_input(path: Path, count: int, seed: int = 4) -> list[str]:
    """A mixed file: JSON objects, text lines, and a few awkward ones; returns the expected messages."""
    rng = random.Random(seed)
    expected: list[str] = []
    with open(path, "w", encoding="utf-8", newline="") as fh:
        for i in range(count):
            kind = i % 10
            if kind < 5:
                message = f"json record {i} user u{rng.randrange(1000)}"
                fh.write(
                    json.dumps({"level": "warn", "msg": message, "seq": i, "shard": rng.randrange(8)}) + "\n"
                )
            elif kind < 9:
                message = f"2026-11-26T03:00:00Z ERROR text record {i} took {rng.randrange(900)}ms"
                fh.write(message + ("\r\n" if i % 7 == 0 else "\n"))
            elif i % 3 == 0:
                message = f"ctl \x1b[31m red \u2028 sep ünï {i}"
                fh.write(json.dumps({"message": message}, ensure_ascii=False) + "\n")
            elif i % 3 == 1:
                message = f"[1, 2] array line {i} is text"
                fh.write(message + "\n")
            else:
                message = f'{{"not": json {i}'
                fh.write(message + "\n")
            expected.append(message)
            if i % 1000 == 0:
                fh.write("\n   \n")  # blank lines: no records
    return expected


def test_send_100k_lines_then_query_finds_exactly_those(
    server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    server = server_factory(workers=2)
    key = server.create_tenant("bulk")
    source = tmp_path / "mixed.log"
    expected = make_input(source, 100_000)
    started = time.monotonic()
    sent = subprocess.run(
        [LOGPIPE, "send", str(source), "--tenant", "bulk"],
        env=cli_env(server, key),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sent.returncode == 0, sent.stderr
    assert "100,000 accepted" in sent.stderr and "not accepted" not in sent.stderr
    assert sent.stdout == ""
    server.wait_drained(timeout=120)
    queried = subprocess.run(
        [LOGPIPE, "query", "--tenant", "bulk", "--limit", "0", "--output", "json"],
        env=cli_env(server),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert queried.returncode == 0, queried.stderr
    records = [json.loads(line) for line in queried.stdout.splitlines()]
    assert len(records) == 100_000
    assert len({r["log_id"] for r in records}) == 100_000, "a record stored twice"
    assert sorted(r["message"] for r in records) == sorted(expected), "records missing or changed"
    assert {r["tenant_id"] for r in records} == {"bulk"}
    assert time.monotonic() - started < 120


class TailProcess:
    """``logpipe tail -f -o json`` in the background, its lines collected as they come."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [LOGPIPE, "tail", "-f", "-o", "json", *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.records: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _read(self, stream: Any, is_out: bool) -> None:
        for line in stream:
            if is_out:
                self.records.append(json.loads(line))
            else:
                self.stderr.append(line)

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.records) < count and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.05)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)


def test_tail_follow_sees_out_of_order_storage_exactly_once(server_factory: Callable[..., Any]) -> None:
    # Simulated work proportional to message length: the long records of one request keep one worker
    # busy for ~2 s while the other worker stores a later request's short records first.
    server = server_factory(
        workers=2, visibility_timeout=15.0, env={"LOGPIPE_SIMULATED_WORK_PER_CHAR": "0.0005"}
    )
    key = server.create_tenant("ooo")
    client = logpipe.Client(server.url, key, tenant="ooo")
    client.send({"message": "before tail"})
    server.wait_drained()
    tail = TailProcess(["--tenant", "ooo", "-n", "0", "--interval", "0.2"], cli_env(server))
    sent: list[str] = []
    reordered = False
    try:
        time.sleep(1.0)  # tail has taken its starting point
        # A busy machine may let one worker take both requests (then they are stored in order):
        # try a few rounds until one is really stored out of order.
        for round_ in range(3):
            slow = client.send([{"message": f"slow {round_}.{i} " + "x" * 1300} for i in range(3)])
            time.sleep(0.5)  # a worker has leased the slow message
            fast = client.send([{"message": f"fast {round_}.{i}"} for i in range(20)])
            assert max(slow.log_ids) < min(fast.log_ids)
            sent += slow.log_ids + fast.log_ids
            tail.wait_for(len(sent), timeout=30)
            got = [r["log_id"] for r in tail.records]
            if all(i in got for i in slow.log_ids + fast.log_ids):
                first_fast = min(got.index(i) for i in fast.log_ids)
                last_slow = max(got.index(i) for i in slow.log_ids)
                if first_fast < last_slow:  # a larger id was printed before a smaller one
                    reordered = True
                    break
        time.sleep(1.0)  # and nothing more (no repeats) arrives
    finally:
        tail.stop()
    got = [r["log_id"] for r in tail.records]
    assert len(got) == len(set(got)), "a record printed twice"
    assert set(got) == set(sent), "a record skipped (or an old one printed)"
    assert reordered, "storage was never out of order; the test proved nothing"


def test_tail_follow_survives_a_server_restart(server_factory: Callable[..., Any]) -> None:
    server = server_factory(workers=1, visibility_timeout=30.0)
    server.port = int(server.url.rsplit(":", 1)[1])  # restart on the same port: tail keeps its endpoint
    key = server.create_tenant("restart")
    client = logpipe.Client(server.url, key, tenant="restart")
    before = client.send([f"before {i}" for i in range(5)])
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({"LOGPIPE_ENDPOINT": server.url, "LOGPIPE_ADMIN_TOKEN": server.admin_token})
    tail = TailProcess(["--tenant", "restart", "-n", "5", "--interval", "0.2"], env)
    try:
        tail.wait_for(5, timeout=20)
        server.stop()
        time.sleep(1.5)
        assert tail.proc.poll() is None, "tail gave up when the server went away"
        server.start()
        client.close()
        client = logpipe.Client(server.url, key, tenant="restart")
        after = client.send([f"after {i}" for i in range(5)])
        tail.wait_for(10, timeout=30)
        time.sleep(0.5)
    finally:
        rc = tail.stop()
    got = [r["log_id"] for r in tail.records]
    assert got == before.log_ids + after.log_ids
    assert rc == 0
    assert any("retrying" in line for line in tail.stderr)


def test_ctrl_c_stops_cleanly_and_says_what_was_accepted(server_factory: Callable[..., Any]) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("sigint")
    proc = subprocess.Popen(
        [LOGPIPE, "send", "-", "--tenant", "sigint", "--no-progress"],
        env=cli_env(server, key),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    for i in range(300):
        proc.stdin.write(f"line {i}\n")
    proc.stdin.flush()
    time.sleep(2.0)  # the age limit (1 s) ships what was read, though stdin stays open
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)  # stdin still open: send must not wait for more input
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        proc.stdin.close()
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert proc.returncode == 1, err
    assert "interrupted after reading 300 lines" in err and "300 accepted" in err
    assert "Traceback" not in err
    server.wait_drained()
    assert len(server.admin_query(tenant="sigint")) == 300
