"""``logpipe send --multiline`` against a real ``logpipe serve`` (issue 14 point 6): a stack trace of each
language becomes one record whose level and time come from its first line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from stack_traces import GO, JAVA, NODE, PYTHON

pytestmark = pytest.mark.slow

LOGPIPE = str(Path(sys.executable).parent / "logpipe")


def cli_env(server: Any, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    env.update({"LOGPIPE_ENDPOINT": server.url, "LOGPIPE_API_KEY": key})
    return env


INPUT = [
    "2026-12-06T00:25:00.000Z INFO starting",
    *JAVA,  # 2026-12-06 00:25:01,123 ERROR ...
    "2026-12-06T00:25:03Z " + PYTHON[0],
    *PYTHON[1:],
    "2026-12-06T00:25:04Z " + GO[0],
    *GO[1:],
    "2026-12-06T00:25:05Z " + NODE[0],
    *NODE[1:],
    "2026-12-06T00:25:06.000Z INFO done",
]


def _send(server: Any, key: str, path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LOGPIPE, "send", str(path), "--tenant", "ml", "--no-progress", *args],
        env=cli_env(server, key),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_each_language_stack_trace_is_one_record(server_factory: Callable[..., Any], tmp_path: Path) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("ml")
    path = tmp_path / "app.log"
    path.write_text("\n".join(INPUT) + "\n", encoding="utf-8")

    sent = _send(server, key, path)
    assert sent.returncode == 0, sent.stderr
    # Line numbers stay true: every line read is counted, as part of a record or joined to one.
    joined = len(JAVA) - 1 + len(PYTHON) - 1 + len(GO) - 1 + len(NODE) - 1
    assert f"read {len(INPUT)} lines" in sent.stderr and "6 accepted" in sent.stderr
    assert f"({joined} lines joined into multi-line records)" in sent.stderr
    server.wait_drained()
    records = sorted(server.admin_query(tenant="ml"), key=lambda r: r["timestamp"])
    got = [(r["timestamp"], r["level"], r["message"].count("\n") + 1) for r in records]
    assert got == [
        ("2026-12-06T00:25:00.000Z", "info", 1),
        ("2026-12-06T00:25:01.123Z", "error", len(JAVA)),
        ("2026-12-06T00:25:03.000Z", "error", len(PYTHON)),
        ("2026-12-06T00:25:04.000Z", "fatal", len(GO)),
        ("2026-12-06T00:25:05.000Z", "error", len(NODE)),
        ("2026-12-06T00:25:06.000Z", "info", 1),
    ]
    assert records[1]["message"] == "\n".join(JAVA)
    assert {r["source"] for r in records} == {"text"}


def test_multiline_none_and_regex(server_factory: Callable[..., Any], tmp_path: Path) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("ml")
    path = tmp_path / "java.log"
    path.write_text("\n".join(JAVA) + "\n", encoding="utf-8")

    none = _send(server, key, path, "--multiline", "none")
    assert none.returncode == 0 and f"{len(JAVA)} accepted" in none.stderr, none.stderr
    by_regex = _send(server, key, path, "--multiline", r"\d{4}-\d{2}-\d{2} ")
    assert by_regex.returncode == 0 and "1 accepted" in by_regex.stderr, by_regex.stderr
    server.wait_drained()
    levels = sorted(r["level"] for r in server.admin_query(tenant="ml"))
    assert levels == sorted(["error", "info", "info", "info", "info", "info", "error"])


def test_a_bad_pattern_is_a_usage_error(server_factory: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("x\n")
    bad = subprocess.run(
        [LOGPIPE, "send", str(path), "--tenant", "ml", "--multiline", "(["],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "not a regular expression" in bad.stderr
