from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_cli.format import escape, format_record_json, format_record_text, format_summary, format_table

RECORD = {
    "tenant_id": "acme",
    "log_id": "01M8AZV7KN0RGZYX4XKYNPYX60",
    "timestamp": "2026-11-26T03:54:32.437Z",
    "level": "error",
    "message": "disk \x1b[31mfull\r\nfake line\u2028\u202e [bold]x[/bold]",
    "attributes": {"host": "db1", "n": 3, "nested": {"a": [1, 2]}, "evil": "\x1b]0;title\x07"},
}


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("a\rb", "a\\rb"),
        ("a\nb", "a\\nb"),
        ("tab\there", "tab\\there"),
        ("\x00\x07\x7f\x9b", "\\x00\\x07\\x7f\\x9b"),
        ("line\u2028sep\u2029", "line\\u2028sep\\u2029"),
        ("\u202eevil\u2066", "\\u202eevil\\u2066"),
        ("plain ünïcode ✓", "plain ünïcode ✓"),
    ],
)
def test_escape(raw: str, shown: str) -> None:
    assert escape(raw) == shown


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaped_text_has_no_control_characters(text: str) -> None:
    out = escape(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u2028\u2029\u202e" for c in out)


def test_text_line() -> None:
    line = format_record_text(RECORD)
    assert line.startswith("2026-11-26T03:54:32.437Z ERROR disk \\x1b[31mfull\\r\\nfake line\\u2028\\u202e")
    assert "host=db1 n=3 nested={" in line and "evil=\\x1b]0;title\\x07" in line
    assert "\n" not in line and "\x1b" not in line
    colored = format_record_text(RECORD, color=True)
    assert "\x1b[31m" in colored  # our colour, and the record's own ESC still escaped
    assert "\\x1b[31mfull" in colored


def test_json_is_ndjson_and_ascii() -> None:
    line = format_record_json(RECORD)
    assert "\n" not in line and line.isascii()
    assert json.loads(line) == RECORD


def test_table_escapes_and_ignores_markup() -> None:
    table = format_table([RECORD], width=200)
    assert "\x1b" not in table
    assert "[bold]x[/bold]" in table and "\\x1b[31mfull" in table
    assert "host=db1" in table


def test_summary() -> None:
    text = format_summary(lines=10, nbytes=2048, seconds=2.0, accepted=8, rejected=1, failed=1, blank=1)
    assert (
        text == "read 10 lines (2.0 KB) in 2.0s (5 lines/s): 8 accepted, 1 rejected, 1 not accepted "
        "(1 blank lines skipped)"
    )
