"""The commands with click's CliRunner, against respx instead of a server."""

from __future__ import annotations

import gzip
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import httpx
import respx
from click.testing import CliRunner
from logpipe_cli.main import cli

BASE = "http://logpipe.test"
RECORDS = [
    {
        "tenant_id": "acme",
        "log_id": f"01M8AZV7KN0RGZYX4XKYNPYX6{i}",
        "timestamp": f"2026-11-26T03:54:3{i}.000Z",
        "level": "warn" if i % 2 else "info",
        "message": f"message {i} \x1b[1m",
        "attributes": {"i": i},
        "source": "json",
        "redactions": 0,
    }
    for i in range(3)
]


def accept(request: httpx.Request) -> httpx.Response:
    lines = [x for x in gzip.decompress(request.content).split(b"\n") if x.strip()]
    return httpx.Response(
        202, json={"accepted": len(lines), "log_ids": ["x"] * len(lines), "request_id": "r"}
    )


SEND = ["send", "--tenant", "acme", "--endpoint", BASE, "--api-key", "lp_k", "--no-progress"]


@respx.mock
def test_send_stdin(runner: CliRunner) -> None:
    route = respx.post(f"{BASE}/ingest").mock(side_effect=accept)
    result = runner.invoke(cli, [*SEND, "-"], input='{"message": "a"}\nplain b\n\n')
    assert result.exit_code == 0, result.output
    assert "2 accepted" in result.stderr and "1 blank" in result.stderr
    assert result.stdout == ""
    assert route.call_count == 2  # one JSON batch, one text batch


@respx.mock
def test_send_files_globs_and_gzip(runner: CliRunner, tmp_path: Path) -> None:
    route = respx.post(f"{BASE}/ingest").mock(side_effect=accept)
    (tmp_path / "a.log").write_text("one\ntwo\n")
    (tmp_path / "b.log").write_text("three")  # no final newline
    with gzip.open(tmp_path / "c.log.gz", "wt") as fh:
        fh.write("four\nfive\n")
    (tmp_path / "rotated").write_bytes(gzip.compress(b"six\n"))  # gzip without the suffix
    result = runner.invoke(
        cli, [*SEND, str(tmp_path / "*.log"), str(tmp_path / "c.log.gz"), str(tmp_path / "rotated")]
    )
    assert result.exit_code == 0, result.stderr
    assert "6 accepted" in result.stderr
    sent = b"\n".join(gzip.decompress(c.request.content) for c in route.calls).split(b"\n")
    assert sorted(sent) == sorted([b"one", b"two", b"three", b"four", b"five", b"six"])


def test_send_usage_errors(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, [*SEND, str(tmp_path / "missing.log")])
    assert result.exit_code == 2 and "no such file" in result.stderr
    result = runner.invoke(cli, [*SEND, str(tmp_path / "*.nothing")])
    assert result.exit_code == 2 and "no file matches" in result.stderr
    result = runner.invoke(cli, ["send", "--endpoint", BASE, "--api-key", "k", "-"], input="x\n")
    assert result.exit_code == 2 and "--tenant" in result.stderr
    result = runner.invoke(cli, ["send", "--tenant", "acme", "--endpoint", BASE, "-"], input="x\n")
    assert result.exit_code == 2 and "API key" in result.stderr
    assert "Traceback" not in result.output


@respx.mock
def test_send_refused_and_unreachable(runner: CliRunner) -> None:
    respx.post(f"{BASE}/ingest").mock(
        return_value=httpx.Response(401, json={"error": {"code": "unauthorized", "message": "unknown key"}})
    )
    result = runner.invoke(cli, [*SEND, "-"], input="a\n")
    assert result.exit_code == 1
    assert "unknown key" in result.stderr and "Traceback" not in result.stderr

    respx.post(f"{BASE}/ingest").mock(side_effect=httpx.ConnectError("refused"))
    result = runner.invoke(cli, [*SEND, "--retries", "0", "-"], input="a\nb\n")
    assert result.exit_code == 3
    assert "cannot reach" in result.stderr and "0 accepted" in result.stderr


@respx.mock
def test_send_some_rejected_exit_1(runner: CliRunner) -> None:
    def judge(request: httpx.Request) -> httpx.Response:
        if b"bad" in gzip.decompress(request.content):
            return httpx.Response(
                400, json={"error": {"code": "invalid_record", "message": "bad line", "line": 1}}
            )
        return accept(request)

    respx.post(f"{BASE}/ingest").mock(side_effect=judge)
    result = runner.invoke(cli, [*SEND, "-"], input="good\nbad\ngood again\n")
    assert result.exit_code == 1
    assert "2 accepted, 1 rejected" in result.stderr


@respx.mock
def test_query_outputs(runner: CliRunner) -> None:
    route = respx.get(f"{BASE}/admin/logs").mock(
        return_value=httpx.Response(200, json={"items": RECORDS, "next_cursor": None})
    )
    args = ["query", "--tenant", "acme", "--endpoint", BASE, "--admin-token", "lpadm_t", "--level", "WARN"]
    result = runner.invoke(cli, [*args, "--since", "1h"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and "\\x1b[1m" in lines[0] and "\x1b" not in result.stdout
    params = route.calls.last.request.url.params
    assert params["level"] == "warn" and params["tenant"] == "acme"
    # The CLI resolves "1h" itself (docs/contract.md §4) and sends the instant, an hour ago.
    since = datetime.fromisoformat(params["since"])
    assert abs((datetime.now(UTC) - since).total_seconds() - 3600) < 60
    result = runner.invoke(cli, [*args, "-o", "json"])
    assert [json.loads(x) for x in result.stdout.splitlines()] == RECORDS
    result = runner.invoke(cli, [*args, "-o", "table"])
    assert "message 0" in result.stdout and "┃" in result.stdout and "\x1b" not in result.stdout


@respx.mock
def test_query_errors_map_to_exit_codes(runner: CliRunner) -> None:
    args = ["query", "--tenant", "acme", "--endpoint", BASE, "--admin-token", "t"]
    respx.get(f"{BASE}/admin/logs").mock(
        return_value=httpx.Response(400, json={"error": {"code": "invalid_query", "message": "bad since"}})
    )
    result = runner.invoke(cli, args)
    assert result.exit_code == 1 and result.stderr.strip() == "logpipe: 400 invalid_query: bad since"
    respx.get(f"{BASE}/admin/logs").mock(side_effect=httpx.ConnectError("refused"))
    result = runner.invoke(cli, args)
    assert result.exit_code == 3 and result.stderr.count("\n") == 1
    result = runner.invoke(cli, ["query", "--tenant", "acme", "--endpoint", BASE])
    assert result.exit_code == 2 and "admin token" in result.stderr


@respx.mock
def test_tail_last_n(runner: CliRunner) -> None:
    respx.get(f"{BASE}/admin/logs").mock(
        return_value=httpx.Response(200, json={"items": list(reversed(RECORDS)), "next_cursor": None})
    )
    result = runner.invoke(
        cli, ["tail", "--tenant", "acme", "--endpoint", BASE, "--admin-token", "t", "-n", "2"]
    )
    assert result.exit_code == 0, result.stderr
    assert [line.split()[3] for line in result.stdout.splitlines()] == ["1", "2"]


def test_config_set_show_use(runner: CliRunner, isolated_settings: Path) -> None:
    assert runner.invoke(cli, ["config", "set", "endpoint", "http://a:1"]).exit_code == 0
    assert runner.invoke(cli, ["config", "set", "api_key", "lp_supersecretvalue123"]).exit_code == 0
    result = runner.invoke(cli, ["config", "show"])
    assert result.exit_code == 0
    assert "endpoint = http://a:1  (profile:local)" in result.stdout
    assert "lp_supersecretvalue123" not in result.stdout and "lp_su…(hidden)" in result.stdout
    assert "lp_supersecretvalue123" in runner.invoke(cli, ["config", "show", "--show-secrets"]).stdout
    path = isolated_settings / "logpipe" / "config.toml"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert runner.invoke(cli, ["config", "use", "prod"]).exit_code == 0
    assert runner.invoke(cli, ["config", "set", "endpoint", "http://prod:2"]).exit_code == 0
    assert "endpoint = http://prod:2  (profile:prod)" in runner.invoke(cli, ["config", "show"]).stdout
    shown = runner.invoke(cli, ["config", "show"], env={"LOGPIPE_ENDPOINT": "http://env:3"}).stdout
    assert "endpoint = http://env:3  (env:LOGPIPE_ENDPOINT)" in shown
    bad = runner.invoke(cli, ["config", "set", "colour", "blue"])
    assert bad.exit_code == 2 and "unknown key" in bad.stderr
    missing = runner.invoke(cli, ["config", "show", "--profile", "nope"])
    assert missing.exit_code == 2 and "not found" in missing.stderr


def test_every_command_has_help(runner: CliRunner) -> None:
    for name in ("send", "tail", "query", "config"):
        result = runner.invoke(cli, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.stdout


def test_sdk_is_free_of_cli_and_backend_imports() -> None:
    """The SDK imports neither click, rich nor the backend (checked on its source, since httpx itself
    may import click and rich for its own CLI)."""
    import ast

    sdk = Path(__file__).resolve().parents[2] / "sdk" / "logpipe"
    for path in sdk.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for mod in names:
                    assert mod.split(".")[0] not in ("click", "rich", "logpipe_backend", "logpipe_cli"), path


@respx.mock
def test_send_skips_a_giant_line_in_bounded_memory(runner: CliRunner, tmp_path: Path) -> None:
    route = respx.post(f"{BASE}/ingest").mock(side_effect=accept)
    path = tmp_path / "giant.log"
    path.write_bytes(b"before\n" + b"x" * (3 * 1024 * 1024) + b"\nafter\n")
    result = runner.invoke(cli, [*SEND, str(path)])
    assert result.exit_code == 1
    assert "2 accepted, 1 rejected" in result.stderr and "over 256 KiB" in result.stderr
    sent = b"\n".join(gzip.decompress(c.request.content) for c in route.calls)
    assert sent == b"before\nafter"


@respx.mock
def test_send_progress_bar_path(runner: CliRunner) -> None:
    respx.post(f"{BASE}/ingest").mock(side_effect=accept)
    args = [a for a in SEND if a != "--no-progress"]
    result = runner.invoke(cli, [*args, "--progress", "-"], input="".join(f"line {i}\n" for i in range(2000)))
    assert result.exit_code == 0, result.stderr
    assert "2,000 accepted" in result.stderr
    # without a terminal and without --progress: only the summary line
    plain = runner.invoke(cli, [*args, "-"], input="a\n")
    assert plain.stderr.strip().splitlines() == [plain.stderr.strip()]


def test_send_keeps_several_requests_in_flight(runner: CliRunner) -> None:
    import threading
    import time

    lock = threading.Lock()
    current = [0]
    peak = [0]

    def slow(request: httpx.Request) -> httpx.Response:
        with lock:
            current[0] += 1
            peak[0] = max(peak[0], current[0])
        time.sleep(0.05)
        with lock:
            current[0] -= 1
        return accept(request)

    lines = "".join(f"line {i}\n" for i in range(4000))
    with respx.mock:
        route = respx.post(f"{BASE}/ingest").mock(side_effect=slow)
        result = runner.invoke(cli, [*SEND, "--batch-records", "100", "--in-flight", "4", "-"], input=lines)
    assert result.exit_code == 0, result.stderr
    assert route.call_count == 40 and "4,000 accepted" in result.stderr
    assert 2 <= peak[0] <= 4
