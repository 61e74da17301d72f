"""The output formats, time zones and colour of ``query`` / ``tail`` (cli/logpipe_cli/view.py)."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_cli.view import (
    FORMATS,
    View,
    format_record_detailed,
    format_record_raw,
    format_record_short,
    resolve_color,
    resolve_zone,
)

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "app.py", line 3, in <module>\n'
    "\tpay()\n"
    "ValueError: card declined \x1b[31m"
)
RECORD = {
    "tenant_id": "acme",
    "log_id": "01M8AZV7KN0RGZYX4XKYNPYX60",
    "timestamp": "2026-11-26T03:54:32.437Z",
    "received_at": "2026-11-26T03:54:33.000Z",
    "level": "error",
    "message": "payment failed\nsecond line\r\nthird",
    "attributes": {"host": "db1", "db": {"host": "db2", "port": 5432}, "exception": TRACEBACK, "tags": [1]},
    "source": "json",
    "redactions": 0,
}


def test_raw_is_the_message_alone_with_its_lines() -> None:
    assert format_record_raw(RECORD, View()) == "payment failed\nsecond line\nthird"
    assert format_record_raw({"message": "a\x1b[2Jb\u202e"}, View()) == "a\\x1b[2Jb\\u202e"


def test_short_is_time_of_day_level_message() -> None:
    assert format_record_short(RECORD, View()) == "03:54:32.437 ERROR payment failed\\nsecond line\\r\\nthird"
    paris = View(zone=ZoneInfo("Europe/Paris"))
    assert format_record_short(RECORD, paris).startswith("04:54:32.437 ERROR ")


def test_detailed_puts_attributes_and_tracebacks_on_their_own_indented_lines() -> None:
    lines = format_record_detailed(RECORD, View()).split("\n")
    assert lines[0] == "2026-11-26T03:54:32.437Z ERROR payment failed"
    assert lines[1:3] == ["    second line", "    third"]
    assert "    log_id: 01M8AZV7KN0RGZYX4XKYNPYX60" in lines
    assert "    db.host: db2" in lines and "    db.port: 5432" in lines and "    tags: [1]" in lines
    at = lines.index("    exception:")
    assert lines[at + 1 : at + 5] == [
        "        Traceback (most recent call last):",
        '          File "app.py", line 3, in <module>',
        "        \tpay()",
        "        ValueError: card declined \\x1b[31m",
    ]


@given(st.text(), st.text(), st.dictionaries(st.text(max_size=5), st.text(), max_size=3))
def test_no_format_lets_a_control_character_through(
    message: str, level: str, attributes: dict[str, str]
) -> None:
    record = {"timestamp": "x", "level": level, "message": message, "attributes": attributes}
    for name, render in FORMATS.items():
        out = render(record, View())
        allowed = "\n\t" if name in ("raw", "detailed") else ""
        assert not any((ord(c) < 0x20 and c not in allowed) or 0x7F <= ord(c) <= 0x9F for c in out), name
        assert "\u202e" not in out and "\u2028" not in out


def test_time_zones() -> None:
    assert View().timestamp(RECORD) == "2026-11-26T03:54:32.437Z"
    assert View(zone=ZoneInfo("Asia/Kolkata")).timestamp(RECORD) == "2026-11-26T09:24:32.437+05:30"
    assert View(zone=ZoneInfo("America/New_York")).timestamp(RECORD) == "2026-11-25T22:54:32.437-05:00"
    assert View(zone=ZoneInfo("America/New_York")).timestamp(
        {**RECORD, "timestamp": "2026-07-01T12:00:00.000Z"}
    ) == (
        "2026-07-01T08:00:00.000-04:00"  # daylight saving time
    )
    assert View().timestamp({"timestamp": "not a time\x1b"}) == "not a time\\x1b"
    assert resolve_zone("utc") is UTC and resolve_zone("local") is None
    assert resolve_zone("Europe/Paris") == ZoneInfo("Europe/Paris")
    with pytest.raises(click.BadParameter, match="unknown time zone"):
        resolve_zone("Mars/Olympus")


def test_color_auto_always_never_and_no_color() -> None:
    assert resolve_color("auto", isatty=True, environ={}) is True
    assert resolve_color("auto", isatty=False, environ={}) is False
    assert resolve_color("auto", isatty=True, environ={"NO_COLOR": "1"}) is False
    assert resolve_color("auto", isatty=True, environ={"NO_COLOR": ""}) is True  # no-color.org: non-empty
    assert resolve_color("always", isatty=False, environ={"NO_COLOR": "1"}) is True  # the flag wins
    assert resolve_color("never", isatty=True, environ={}) is False
    coloured = format_record_short(RECORD, View(color=True))
    assert "\x1b[31m" in coloured and "\x1b[31m" not in format_record_short(RECORD, View())
