"""``query`` and ``tail`` as a reader meets them: times, formats, colour, empty and cut answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from click.testing import CliRunner
from logpipe_cli.main import cli

BASE = "http://logpipe.test"
ADMIN = ["--tenant", "acme", "--endpoint", BASE, "--admin-token", "lpadm_t"]


def records(count: int) -> list[dict[str, object]]:
    return [
        {
            "tenant_id": "acme",
            "log_id": f"01M8AZV7KN0RGZYX4XKYNPY{i:03d}",
            "timestamp": "2026-11-26T03:54:32.437Z",
            "level": "error",
            "message": f"boom {i}\n  at line {i}",
            "attributes": {"host": "db1"},
            "source": "json",
            "redactions": 0,
        }
        for i in range(count)
    ]


def serve_pages(items: list[dict[str, object]]) -> respx.Route:
    """/admin/logs paging through ``items`` as the API does (limit, cursor = next index)."""

    def page(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params.get("cursor", "0"))
        limit = int(request.url.params.get("limit", "100"))
        chunk = items[start : start + limit]
        more = start + limit < len(items)
        return httpx.Response(200, json={"items": chunk, "next_cursor": str(start + limit) if more else None})

    return respx.get(f"{BASE}/admin/logs").mock(side_effect=page)


@pytest.mark.parametrize("command", ["query", "tail"])
@pytest.mark.parametrize("bad", ["soon", "2026-02-30", "1 fortnight ago"])
@respx.mock
def test_a_bad_time_is_a_usage_error_before_any_request(runner: CliRunner, command: str, bad: str) -> None:
    route = serve_pages(records(1))
    result = runner.invoke(cli, [command, *ADMIN, "--since", bad])
    assert result.exit_code == 2, result.output
    assert "--since" in result.stderr and "1 hour ago" in result.stderr
    assert route.call_count == 0


@respx.mock
def test_until_before_since_is_a_usage_error(runner: CliRunner) -> None:
    route = serve_pages(records(1))
    result = runner.invoke(cli, ["query", *ADMIN, "--since", "1h", "--until", "2h"])
    assert result.exit_code == 2 and "--until" in result.stderr and route.call_count == 0


@pytest.mark.parametrize(
    ("text", "ago"), [("90min", timedelta(minutes=90)), ("1 hour ago", timedelta(hours=1))]
)
@respx.mock
def test_natural_times_reach_the_server_as_rfc3339(runner: CliRunner, text: str, ago: timedelta) -> None:
    route = serve_pages(records(1))
    result = runner.invoke(cli, ["query", *ADMIN, "--since", text, "--until", "now"])
    assert result.exit_code == 0, result.output
    params = route.calls.last.request.url.params
    now = datetime.now(UTC)
    assert abs((now - ago - datetime.fromisoformat(params["since"])).total_seconds()) < 60
    assert abs((now - datetime.fromisoformat(params["until"])).total_seconds()) < 60
    result = runner.invoke(cli, ["query", *ADMIN, "--since", "yesterday"])
    assert result.exit_code == 0, result.output
    midnight = datetime.combine(now.date() - timedelta(days=1), datetime.min.time(), UTC)
    assert route.calls.last.request.url.params["since"] == midnight.strftime("%Y-%m-%dT00:00:00.000Z")


@respx.mock
def test_no_match_says_so_on_stderr_and_exits_0(runner: CliRunner) -> None:
    serve_pages([])
    for command in (["query"], ["tail"]):
        result = runner.invoke(cli, [*command, *ADMIN])
        assert result.exit_code == 0, result.output
        assert result.stdout == "" and result.stderr == "logpipe: no records match\n"


@respx.mock
def test_a_limit_that_cut_the_answer_is_reported(runner: CliRunner) -> None:
    serve_pages(records(5))
    result = runner.invoke(cli, ["query", *ADMIN, "--limit", "3", "-o", "raw"])
    assert result.exit_code == 0
    assert result.stdout.count("boom") == 3
    assert "showing the first 3 records; more match" in result.stderr
    result = runner.invoke(cli, ["query", *ADMIN, "--limit", "5", "-o", "raw"])
    assert result.stdout.count("boom") == 5 and result.stderr == ""
    result = runner.invoke(cli, ["query", *ADMIN, "--limit", "0", "-o", "raw"])
    assert result.stdout.count("boom") == 5 and result.stderr == ""


@respx.mock
def test_formats_zone_and_colour_through_the_cli(runner: CliRunner) -> None:
    serve_pages(records(1))
    raw = runner.invoke(cli, ["query", *ADMIN, "-o", "raw"])
    assert raw.stdout == "boom 0\n  at line 0\n"
    short = runner.invoke(cli, ["query", *ADMIN, "-o", "short", "--timezone", "Asia/Kolkata"])
    assert short.stdout == "09:24:32.437 ERROR boom 0\\n  at line 0\n"
    detailed = runner.invoke(cli, ["tail", *ADMIN, "-o", "detailed"])
    assert detailed.stdout.splitlines()[:2] == ["2026-11-26T03:54:32.437Z ERROR boom 0", "      at line 0"]
    assert "    host: db1" in detailed.stdout.splitlines()
    bad_zone = runner.invoke(cli, ["query", *ADMIN, "--timezone", "Mars/Olympus"])
    assert bad_zone.exit_code == 2 and "unknown time zone" in bad_zone.stderr
    always = runner.invoke(cli, ["query", *ADMIN, "--color", "always"], env={"NO_COLOR": "1"})
    assert "\x1b[31m" in always.stdout
    never = runner.invoke(cli, ["query", *ADMIN, "--color", "never"])
    assert "\x1b[" not in never.stdout


def test_no_admin_token_names_the_cli_flags(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["query", "--tenant", "acme", "--endpoint", BASE])
    assert result.exit_code == 2
    assert "--admin-token" in result.stderr and "LOGPIPE_ADMIN_TOKEN" in result.stderr
    assert "admin_token=" not in result.stderr  # the SDK's keyword is not the CLI's flag


@respx.mock
def test_a_401_hint_matches_the_command(runner: CliRunner) -> None:
    unauthorized = httpx.Response(401, json={"error": {"code": "unauthorized", "message": "unknown key"}})
    respx.get(f"{BASE}/admin/logs").mock(return_value=unauthorized)
    respx.post(f"{BASE}/ingest").mock(return_value=unauthorized)
    for command in ("query", "tail"):
        result = runner.invoke(cli, [command, *ADMIN])
        assert result.exit_code == 1 and "--admin-token" in result.stderr and "--api-key" not in result.stderr
    sent = runner.invoke(
        cli,
        ["send", "-", "--tenant", "acme", "--endpoint", BASE, "--api-key", "lp_x", "--no-progress"],
        input="hello\n",
    )
    assert "--api-key" in sent.stderr and "--admin-token" not in sent.stderr


def test_an_unknown_profile_lists_the_ones_that_exist(runner: CliRunner) -> None:
    assert (
        runner.invoke(cli, ["config", "set", "endpoint", "http://a.test", "--profile", "prod"]).exit_code == 0
    )
    assert (
        runner.invoke(cli, ["config", "set", "endpoint", "http://b.test", "--profile", "dev"]).exit_code == 0
    )
    result = runner.invoke(cli, ["query", "--tenant", "acme", "--profile", "prdo", "--admin-token", "t"])
    assert result.exit_code == 2
    assert "profile 'prdo' not found" in result.stderr and "(profiles: dev, prod)" in result.stderr


@respx.mock
def test_filters_are_sent_as_the_servers_parameters(runner: CliRunner) -> None:
    route = serve_pages(records(1))
    flags = ["--where", "status>=500", "--where", "host=a,b", "--contains", "x", "--contains", "y"]
    flags += ["--not-contains", "z", "--regex", "^GET", "--levels", "WARN,error", "--level", "info"]
    result = runner.invoke(cli, ["query", *ADMIN, *flags])
    assert result.exit_code == 0, result.output
    params = route.calls.last.request.url.params
    assert params.get_list("where") == ["status>=500", "host=a,b"]  # repeated, never comma-joined
    assert params.get_list("contains") == ["x", "y"] and params.get_list("not_contains") == ["z"]
    assert params["regex"] == "^GET" and params["levels"] == "warn,error" and params["level"] == "info"
    bad = runner.invoke(cli, ["query", *ADMIN, "--levels", "warn,loud"])
    assert bad.exit_code == 2 and "--levels" in bad.stderr


STATS = {
    "by": "level",
    "bucket_seconds": 60,
    "buckets": [
        {"start": "2026-11-26T03:54:00.000Z", "counts": {"error": 2, "info": 6}},
        {"start": "2026-11-26T03:55:00.000Z", "counts": {}},
        {"start": "2026-11-26T03:56:00.000Z", "counts": {"info": 4}},
    ],
    "totals": {"info": 10, "error": 2},
    "records": 12,
    "partial": False,
    "complete_from": None,
}


@respx.mock
def test_stats_draws_bars_and_prints_json(runner: CliRunner) -> None:
    route = respx.get(f"{BASE}/admin/stats").mock(return_value=httpx.Response(200, json=STATS))
    result = runner.invoke(
        cli, ["stats", *ADMIN, "--by", "level", "--bucket", "1m", "--where", "status>=500"]
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert (
        lines[1].startswith("2026-11-26T03:54:00.000Z") and lines[1].count("█") == 40
    )  # the peak: full width
    assert lines[3].count("█") == 20 and lines[2].count("█") == 0
    assert "total: info 10  error 2" in result.stdout
    params = route.calls.last.request.url.params
    assert params["bucket"] == "1m" and params["by"] == "level" and params["where"] == "status>=500"
    assert (
        abs(
            datetime.fromisoformat(params["since"]) - (datetime.now(UTC) - timedelta(hours=1))
        ).total_seconds()
        < 60
    )
    as_json = runner.invoke(cli, ["stats", *ADMIN, "-o", "json"])
    assert json.loads(as_json.stdout) == STATS
    partial = {**STATS, "partial": True, "complete_from": "2026-11-26T03:55:00.000Z"}
    respx.get(f"{BASE}/admin/stats").mock(return_value=httpx.Response(200, json=partial))
    assert (
        "partial: counted records received since 2026-11-26T03:55:00.000Z"
        in runner.invoke(cli, ["stats", *ADMIN]).stdout
    )
    empty = {**STATS, "buckets": [], "totals": {}, "records": 0}
    respx.get(f"{BASE}/admin/stats").mock(return_value=httpx.Response(200, json=empty))
    assert "no records match" in runner.invoke(cli, ["stats", *ADMIN]).stderr


@respx.mock
def test_fields_table_and_json(runner: CliRunner) -> None:
    body = {
        "sampled": 3,
        "fields": [
            {"name": "db.host", "count": 3, "distinct": 1, "values": [{"value": "db\x1b[2J1", "count": 3}]}
        ],
    }
    route = respx.get(f"{BASE}/admin/fields").mock(return_value=httpx.Response(200, json=body))
    result = runner.invoke(cli, ["fields", *ADMIN, "--sample", "50"])
    assert result.exit_code == 0 and "db.host" in result.stdout and "db\\x1b[2J1 (3)" in result.stdout
    assert "\x1b" not in result.stdout and route.calls.last.request.url.params["sample"] == "50"
    assert json.loads(runner.invoke(cli, ["fields", *ADMIN, "-o", "json"]).stdout) == body


def test_no_api_key_for_send_names_the_cli_flags(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["send", "-", "--tenant", "acme", "--endpoint", BASE], input="hello\n")
    assert result.exit_code == 2
    assert "--api-key" in result.stderr and "LOGPIPE_API_KEY" in result.stderr
    assert "api_key=" not in result.stderr  # the SDK's keyword is not the CLI's flag
