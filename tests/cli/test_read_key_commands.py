"""``query`` and ``tail`` with a tenant's read key, and ``send --skip-lines``: CliRunner against respx."""

from __future__ import annotations

import gzip
import json
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
        "level": "info",
        "message": f"message {i}",
        "attributes": {},
        "source": "json",
        "redactions": 0,
    }
    for i in range(3)
]
MISMATCH = {"error": {"code": "tenant_mismatch", "message": "tenant does not match the key's tenant"}}


@respx.mock
def test_query_and_tail_with_a_read_key_use_get_logs(runner: CliRunner) -> None:
    route = respx.get(f"{BASE}/logs").mock(
        return_value=httpx.Response(200, json={"items": RECORDS, "next_cursor": None})
    )
    admin = respx.get(f"{BASE}/admin/logs").mock(return_value=httpx.Response(500))
    result = runner.invoke(cli, ["query", "--endpoint", BASE, "--api-key", "lp_read", "-o", "json"])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(x) for x in result.stdout.splitlines()] == RECORDS
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer lp_read" and "tenant" not in request.url.params
    result = runner.invoke(
        cli, ["tail", "-n", "1"], env={"LOGPIPE_ENDPOINT": BASE, "LOGPIPE_API_KEY": "lp_r"}
    )
    assert result.exit_code == 0, result.stderr
    assert route.calls.last.request.headers["authorization"] == "Bearer lp_r"
    assert not admin.called


@respx.mock
def test_an_admin_token_wins_over_a_key(runner: CliRunner) -> None:
    admin = respx.get(f"{BASE}/admin/logs").mock(
        return_value=httpx.Response(200, json={"items": [], "next_cursor": None})
    )
    args = [
        "query",
        "--tenant",
        "acme",
        "--endpoint",
        BASE,
        "--api-key",
        "lp_read",
        "--admin-token",
        "lpadm_t",
    ]
    assert runner.invoke(cli, args).exit_code == 0
    assert admin.calls.last.request.headers["authorization"] == "Bearer lpadm_t"


@respx.mock
def test_another_tenant_is_tenant_mismatch_and_exits_non_zero(runner: CliRunner) -> None:
    respx.get(f"{BASE}/logs").mock(return_value=httpx.Response(403, json=MISMATCH))
    for command in ("query", "tail"):
        result = runner.invoke(
            cli, [command, "--tenant", "globex", "--endpoint", BASE, "--api-key", "lp_read"]
        )
        assert result.exit_code == 1 and result.stdout == ""
        assert result.stderr.strip() == "logpipe: 403 tenant_mismatch: tenant does not match the key's tenant"


def test_no_admin_token_nor_key_is_a_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["query", "--tenant", "acme", "--endpoint", BASE])
    assert result.exit_code == 2 and "read key" in result.stderr


@respx.mock
def test_send_skip_lines(runner: CliRunner, tmp_path: Path) -> None:
    bodies: list[bytes] = []

    def accept(request: httpx.Request) -> httpx.Response:
        lines = [x for x in gzip.decompress(request.content).split(b"\n") if x.strip()]
        bodies.extend(lines)
        return httpx.Response(202, json={"accepted": len(lines), "log_ids": ["x"] * len(lines)})

    respx.post(f"{BASE}/ingest").mock(side_effect=accept)
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("".join(f"a{i}\n" for i in range(5)))
    second.write_text("b0\n")
    args = ["send", str(first), str(second), "--skip-lines", "3", "--tenant", "acme"]
    result = runner.invoke(cli, [*args, "--endpoint", BASE, "--api-key", "lp_k", "--no-progress"])
    assert result.exit_code == 0, result.stderr
    assert sorted(bodies) == [b"a3", b"a4", b"b0"]
    assert "3 accepted" in result.stderr
