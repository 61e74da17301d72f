"""Content is data, not commands (issue #5): CR/LF, U+2028, ANSI escapes, NUL and every character SQS
refuses are stored exactly, travel through the queue escaped, and are shown escaped by the CLI.

The stack starts without workers so the queued message can be inspected, then restarts with workers on the
same data dir to store it; the CLI then reads it back through the admin API.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
from local_stack import logpipe_command
from logpipe_backend.adapters.sqlite.queue import read_body
from logpipe_backend.core.envelope import sqs_safe, unpack
from sec_local import LocalServer, ingest, start_module_server

TENANT = "content"
# What a terminal would obey, what would split a line, and what SQS refuses (outside #x9 #xA #xD
# #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF): each must come back exactly, and never reach a terminal raw.
NASTY_JSON = (
    "crlf\r\nlf\nsep\u2028para\u2029 ansi \x1b[31mRED\x1b[0m \x1b]0;title\x07 clear\x1b[2J "
    "nul\x00 bs\x08 vt\x0b ff\x0c us\x1f del\x7f c1\x9b bidi\u202e noncharacters\ufffe\uffff emoji\U0001f600"
)
# Text lines: everything but the line feed (which ends a record).
NASTY_TEXT = "text \x1b[1;31mBOLD\x1b[0m cr\rnul\x00 soh\x01 sep\u2028 bidi\u202e end\ufffe"
RAW_TERMINAL_BYTES = [b"\x1b", b"\r", b"\x00", b"\x07", b"\x08", b"\x0b", b"\x0c", b"\x1f", b"\x7f"]
RAW_TERMINAL_BYTES += [ch.encode() for ch in ("\u2028", "\u2029", "\u202e", "\x9b")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    yield from start_module_server(tmp_path_factory, "content")


@pytest.fixture(scope="module")
def sent(server: LocalServer) -> dict[str, Any]:
    """Send the nasty records (JSON and text), inspect the queue, then let workers store them."""
    key = server.create_tenant(TENANT)
    body = json.dumps([{"message": NASTY_JSON, "level": "error", "attr": {"k\x1b": NASTY_JSON}}])
    r1 = ingest(server, key, body)
    r2 = ingest(server, key, (NASTY_TEXT + "\n").encode("utf-8"), content_type="text/plain; charset=utf-8")
    assert (r1.status_code, r2.status_code) == (202, 202), (r1.text, r2.text)
    uri = f"file:{server.data_dir / 'queue.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        bodies = [read_body(row[0]) for row in conn.execute("SELECT body FROM messages ORDER BY seq")]
    server.stop()
    server.workers = 2
    server.start()
    server.wait_drained()
    return {"key": key, "queue_bodies": bodies, "log_ids": r1.json()["log_ids"] + r2.json()["log_ids"]}


def test_queue_messages_are_sqs_safe_and_lossless(sent: dict[str, Any]) -> None:
    bodies: list[str] = sent["queue_bodies"]
    assert len(bodies) == 2
    for body in bodies:
        assert sqs_safe(body), "a character SQS refuses reached the queue unescaped"
        for ch in ("\x00", "\x1b", "\x08", "\x0b", "\x1f", "\ufffe", "\uffff"):
            assert ch not in body
    (_, first), (_, second) = (unpack(b) for b in bodies)
    assert first[0]["message"] == NASTY_JSON
    assert first[0]["attributes"] == {"attr": {"k\x1b": NASTY_JSON}}
    assert second[0]["message"] == NASTY_TEXT


def test_stored_exactly(server: LocalServer, sent: dict[str, Any]) -> None:
    items = {r["log_id"]: r for r in server.admin_query(tenant=TENANT)}
    first, second = (items[log_id] for log_id in sent["log_ids"])
    assert first["message"] == NASTY_JSON
    assert first["level"] == "error"
    assert first["attributes"] == {"attr": {"k\x1b": NASTY_JSON}}
    assert second["message"] == NASTY_TEXT
    assert second["source"] == "text"


def _cli(server: LocalServer, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGPIPE_", "AWS_"))}
    env.update(
        {
            "XDG_CONFIG_HOME": str(server.workdir / "cli-config"),
            "LOGPIPE_ENDPOINT": server.url,
            "LOGPIPE_ADMIN_TOKEN": server.admin_token,
        }
    )
    return subprocess.run([*logpipe_command(), *args], capture_output=True, env=env, timeout=60, check=False)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("query", "--tenant", TENANT), id="query"),
        pytest.param(("query", "--tenant", TENANT, "--output", "table"), id="query-table"),
        pytest.param(("tail", "--tenant", TENANT, "-n", "10"), id="tail"),
    ],
)
def test_cli_text_output_shows_control_characters_escaped(
    server: LocalServer, sent: dict[str, Any], args: tuple[str, ...]
) -> None:
    result = _cli(server, *args)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count(b"\n") >= 2, out
    for raw in RAW_TERMINAL_BYTES:
        assert raw not in out, f"{raw!r} reached the terminal raw"
    text = out.decode("utf-8")
    if "table" not in args:  # a table may wrap or cut long cells; the line formats show all of it
        for escaped in ("\\x1b[31mRED", "\\r\\nlf\\nsep\\u2028para", "nul\\x00", "cr\\rnul\\x00 soh\\x01"):
            assert escaped in text, (escaped, text)


@pytest.mark.parametrize("command", ["query", "tail"])
def test_cli_json_output_round_trips(server: LocalServer, sent: dict[str, Any], command: str) -> None:
    result = _cli(server, command, "--tenant", TENANT, "--output", "json")
    assert result.returncode == 0, result.stderr
    for raw in RAW_TERMINAL_BYTES:
        assert raw not in result.stdout
    records = [json.loads(line) for line in result.stdout.decode("utf-8").splitlines()]
    assert sorted(r["message"] for r in records) == sorted([NASTY_JSON, NASTY_TEXT])
