"""Text formats read from a text line (issue 14 point 5): syslog, access logs, logfmt, Python logging."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.normalize import _normalize_lines_alike, normalize, normalize_all
from logpipe_backend.core.record import Record
from logpipe_backend.core.syslog import infer_year_ms
from logpipe_backend.core.textformats import parse_logfmt, recognise
from logpipe_backend.core.timefmt import format_ts, parse_event_time

RECEIVED = 1_796_517_901_123  # 2026-12-06T00:45:01.123Z
RECEIVED_TS = "2026-12-06T00:45:01.123Z"
LOG_ID = "01KAXR0S3V0000000000000000"


def _norm(line: str, received_ms: int = RECEIVED) -> Record:
    return normalize(line, tenant_id="acme", log_id=LOG_ID, received_ms=received_ms)


def _ms(iso: str) -> int:
    ms = parse_event_time(iso)
    assert ms is not None
    return ms


def test_received_constant() -> None:
    assert format_ts(RECEIVED) == RECEIVED_TS


# --- syslog ------------------------------------------------------------------------------------------------


def test_rfc5424_every_header_part() -> None:
    # RFC 5424 §6.5 example 3, with a level word starting the message.
    line = (
        "<165>1 2026-12-06T00:25:01.003+01:00 mymachine.example.com evntslog 4242 ID47 [exampleSDID@32473 "
        'iut="3" eventSource="App\\"li\\]cation" eventID="1011"][examplePriority@32473 class="high"] '
        "ERROR payment failed"
    )
    record = _norm(line)
    assert record["timestamp"] == "2026-12-05T23:25:01.003Z"
    assert record["level"] == "error"  # the word wins over PRI's notice
    assert record["message"] == "ERROR payment failed"
    assert record["source"] == "text"
    assert record["attributes"] == {
        "facility": "local4",
        "severity": "notice",
        "host": "mymachine.example.com",
        "app": "evntslog",
        "pid": 4242,
        "msgid": "ID47",
        "structured_data": {
            "exampleSDID@32473": {"iut": "3", "eventSource": 'App"li]cation', "eventID": "1011"},
            "examplePriority@32473": {"class": "high"},
        },
    }


@pytest.mark.parametrize(
    ("pri", "level"),
    [(0, "fatal"), (2, "fatal"), (3, "error"), (4, "warn"), (5, "info"), (6, "info"), (15, "debug")],
)
def test_rfc5424_level_from_pri_severity(pri: int, level: str) -> None:
    record = _norm(f"<{pri}>1 2026-12-06T00:25:01Z host app - - - something happened")
    assert record["level"] == level
    assert record["attributes"] == {
        "facility": "kern" if pri < 8 else "user",
        "severity": ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"][pri % 8],
        "host": "host",
        "app": "app",
    }


def test_rfc5424_nil_values_and_no_message() -> None:
    record = _norm("<14>1 - - - - - -")
    assert record["timestamp"] == RECEIVED_TS
    assert record["message"] == ""
    assert record["attributes"] == {"facility": "user", "severity": "info"}


def test_rfc5424_bom_before_message_is_dropped() -> None:
    assert _norm("<14>1 2026-12-06T00:25:01Z h a - - - \ufeffhello")["message"] == "hello"


def test_rfc3164_from_the_wire() -> None:
    record = _norm("<13>Dec  6 00:25:01 web01 app[7]: ERROR payment failed")
    assert record["timestamp"] == "2026-12-06T00:25:01.000Z"
    assert record["level"] == "error"
    assert record["message"] == "ERROR payment failed"
    assert record["attributes"] == {
        "facility": "user",
        "severity": "notice",
        "host": "web01",
        "app": "app",
        "pid": 7,
    }


def test_rfc3164_from_a_file_without_pri() -> None:
    record = _norm("Dec  5 23:59:59 web01 kernel: [ 12.3] usb 1-1: new device")
    assert record["timestamp"] == "2026-12-05T23:59:59.000Z"
    assert record["level"] == "info"
    assert record["message"] == "[ 12.3] usb 1-1: new device"
    assert record["attributes"] == {"host": "web01", "app": "kernel"}


def test_rfc3164_pri_level_without_a_word() -> None:
    assert _norm("<27>Dec  6 00:25:01 web01 sshd[99]: disk gone")["level"] == "error"


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("Dec  6 00:25:01", "2026-12-06T00:25:01.000Z"),  # today
        ("Dec  7 00:45:01", "2026-12-07T00:45:01.000Z"),  # a day ahead: still this year
        ("Dec  7 00:45:02", "2025-12-07T00:45:02.000Z"),  # over a day ahead: last year
        ("Dec 31 23:59:59", "2025-12-31T23:59:59.000Z"),
        ("Jan  1 00:00:00", "2026-01-01T00:00:00.000Z"),
        ("Feb 29 12:00:00", "2024-02-29T12:00:00.000Z"),  # the most recent leap year
    ],
)
def test_rfc3164_year_is_inferred(when: str, expected: str) -> None:
    assert _norm(f"{when} host app: x")["timestamp"] == expected


def test_rfc3164_impossible_date_keeps_received_time() -> None:
    record = _norm("Feb 30 00:00:00 host app: x")
    assert record["timestamp"] == RECEIVED_TS
    assert record["attributes"] == {"host": "host", "app": "app"}


@given(
    st.integers(1, 12), st.integers(1, 31), st.integers(0, 86_399_999), st.integers(0, 250_000_000_000_000)
)
def test_inferred_year_is_the_latest_not_over_a_day_ahead(
    month: int, day: int, ms: int, received: int
) -> None:
    got = infer_year_ms(month, day, ms, received)
    if got is None:
        assert (month, day) in {(2, 30), (2, 31), (4, 31), (6, 31), (9, 31), (11, 31)}
        return
    assert got <= received + 86_400_000
    assert got > received + 86_400_000 - 366 * 86_400_000 * (4 if (month, day) == (2, 29) else 1) - 86_400_000
    assert format_ts(got)[5:10] == f"{month:02d}-{day:02d}"


@pytest.mark.parametrize(
    "line",
    [
        "<999>1 2026-12-06T00:25:01Z h a - - - x",  # PRI over 191
        "<13>Foo  6 00:25:01 web01 app: x",  # not a month
        "<13>Dec  6 25:25:01 web01 app: x",  # not a time
        "<13> just text",
    ],
)
def test_not_syslog_stays_a_plain_line(line: str) -> None:
    record = _norm(line)
    assert (record["message"], record["attributes"], record["timestamp"]) == (line, {}, RECEIVED_TS)


# --- access logs -------------------------------------------------------------------------------------------

COMBINED = (
    '203.0.113.9 - frank [06/Dec/2026:01:25:01 +0100] "GET /pay?x=1 HTTP/1.1" {status} 157 '
    '"https://shop.example/cart" "Mozilla/5.0 (X11; Linux x86_64) \\"quoted\\""'
)


@pytest.mark.parametrize(
    ("status", "level"),
    [(200, "info"), (304, "info"), (404, "warn"), (429, "warn"), (500, "error"), (503, "error")],
)
def test_combined_access_log(status: int, level: str) -> None:
    line = COMBINED.format(status=status)
    record = _norm(line)
    assert record["level"] == level
    assert record["timestamp"] == "2026-12-06T00:25:01.000Z"
    assert record["message"] == line
    assert record["attributes"] == {
        "remote_addr": "203.0.113.9",
        "user": "frank",
        "method": "GET",
        "path": "/pay?x=1",
        "protocol": "HTTP/1.1",
        "status": status,
        "bytes": 157,
        "referrer": "https://shop.example/cart",
        "user_agent": 'Mozilla/5.0 (X11; Linux x86_64) "quoted"',
    }


def test_common_log_format_ipv6_and_no_bytes() -> None:
    record = _norm('2001:db8::1 - - [06/Dec/2026:00:25:01 +0000] "POST /api HTTP/2.0" 502 -')
    assert record["level"] == "error"
    assert record["attributes"] == {
        "remote_addr": "2001:db8::1",
        "method": "POST",
        "path": "/api",
        "protocol": "HTTP/2.0",
        "status": 502,
    }


def test_access_log_garbage_request() -> None:
    record = _norm('10.0.0.1 - - [06/Dec/2026:00:25:01 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"')
    assert record["level"] == "warn"
    assert record["attributes"] == {
        "remote_addr": "10.0.0.1",
        "request": "\\x16\\x03\\x01",
        "status": 400,
        "bytes": 0,
    }


def test_access_log_bad_date_is_a_plain_line() -> None:
    line = '10.0.0.1 - - [31/Feb/2026:00:25:01 +0000] "GET / HTTP/1.1" 500 1'
    assert _norm(line)["attributes"] == {}


# --- logfmt -----------------------------------------------------------------------------------------------


def test_logfmt_maps_fields_like_json() -> None:
    record = _norm('time=2026-12-06T00:25:01Z level=error msg="payment \\"x\\" failed" user=42 path=/pay')
    assert record["timestamp"] == "2026-12-06T00:25:01.000Z"
    assert record["level"] == "error"
    assert record["message"] == 'payment "x" failed'
    assert record["attributes"] == {"user": "42", "path": "/pay"}
    assert record["source"] == "text"


def test_logfmt_without_msg_keeps_the_line() -> None:
    line = "ts=1796517901 lvl=warn disk=sda1 free=3%"
    record = _norm(line)
    assert (record["message"], record["level"], record["timestamp"]) == (
        line,
        "warn",
        "2026-12-06T00:45:01.000Z",
    )
    assert record["attributes"] == {"disk": "sda1", "free": "3%"}


@pytest.mark.parametrize("line", ["count=5 items done", 'a="unterminated', 'a="x"b', "=x", "a b=c"])
def test_not_logfmt(line: str) -> None:
    assert parse_logfmt(line) is None
    assert _norm(line)["attributes"] == {}


def test_logfmt_empty_value() -> None:
    assert parse_logfmt('a= b="" c=d') == {"a": "", "b": "", "c": "d"}


def test_logfmt_naming_another_tenant_is_refused_like_json() -> None:
    with pytest.raises(ApiError) as info:
        _norm("tenant_id=evil msg=x")
    assert (info.value.status, info.value.code) == (403, "tenant_mismatch")


# --- Python logging ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "level", "message", "logger"),
    [
        (
            "ERROR:payments.api:payment failed: card declined",
            "error",
            "payment failed: card declined",
            "payments.api",
        ),
        ("WARNING:root:low disk", "warn", "low disk", "root"),
        ("CRITICAL:x:", "fatal", "", "x"),
        ("DEBUG::anonymous", "debug", "anonymous", None),
    ],
)
def test_python_default_format(line: str, level: str, message: str, logger: str | None) -> None:
    record = _norm(line)
    assert (record["level"], record["message"], record["timestamp"]) == (level, message, RECEIVED_TS)
    assert record["attributes"] == ({} if logger is None else {"logger": logger})


def test_python_cookbook_format() -> None:
    record = _norm("2026-12-06 00:25:01,123 - payments - ERROR - payment failed")
    assert (record["timestamp"], record["level"], record["message"]) == (
        "2026-12-06T00:25:01.123Z",
        "error",
        "payment failed",
    )
    assert record["attributes"] == {"logger": "payments"}


def test_python_asctime_level_format() -> None:
    line = "2026-12-06 00:25:01,123 ERROR payment failed"
    record = _norm(line)
    assert (record["timestamp"], record["level"], record["message"], record["attributes"]) == (
        "2026-12-06T00:25:01.123Z",
        "error",
        line,
        {},
    )


# --- plain lines and the two paths -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line", ["just prose", "Error: disk full", "2026-12-06T00:25:01Z boom", '1.2.3.4 said "hi" ok', "Dec"]
)
def test_plain_lines_are_not_recognised(line: str) -> None:
    assert recognise(line, RECEIVED) is None


@given(st.text(max_size=200), st.integers(0, 250_000_000_000_000))
def test_recognise_never_raises(line: str, received: int) -> None:
    recognise(line, received)


FORMAT_LINES = st.sampled_from(
    [
        "<13>Dec  6 00:25:01 web01 app[7]: ERROR payment failed",
        '<165>1 2026-12-06T00:25:01.003Z h a 1 m [x@1 a="b"] WARN slow',
        "Dec  6 00:25:01 web01 app: hi",
        COMBINED.format(status=502),
        "time=2026-12-06T00:25:01Z level=error msg=boom",
        "ERROR:name:message",
        "2026-12-06 00:25:01,123 - n - INFO - m",
        RECEIVED_TS + " <13>Dec  6 00:25:01 web01 app: x",
        RECEIVED_TS + " - n - ERROR - m",
        RECEIVED_TS + " level=error msg=boom",
        RECEIVED_TS + " ERROR boom",
        "tenant_id=evil msg=x",
    ]
)


@given(st.lists(FORMAT_LINES | st.text(max_size=40), min_size=1, max_size=6))
def test_normalize_all_of_format_lines_is_normalize_of_each(lines: list[str]) -> None:
    ids = [f"{LOG_ID[:-2]}{i:02d}" for i in range(len(lines))]

    def outcome(run: Any) -> Any:
        try:
            return ("ok", run())
        except ApiError as exc:
            return ("error", exc.status, exc.code)

    each = outcome(lambda: [_norm(line) | {"log_id": i} for line, i in zip(lines, ids, strict=True)])
    assert outcome(lambda: normalize_all(lines, "acme", ids, RECEIVED)) == each


def test_lines_starting_with_a_canonical_timestamp_keep_the_fast_path() -> None:
    # The batch path reads no format after a canonical timestamp; neither does the per-record path.
    lines = [RECEIVED_TS + " level=error msg=boom", RECEIVED_TS + " - n - ERROR - m"]
    ids = [LOG_ID, LOG_ID[:-1] + "1"]
    fast = _normalize_lines_alike(lines, "acme", ids, RECEIVED_TS)
    assert fast is not None
    assert fast == [_norm(line) | {"log_id": i} for line, i in zip(lines, ids, strict=True)]
    assert [r["attributes"] for r in fast] == [{}, {}]


@given(
    st.dictionaries(
        st.from_regex(r"[a-z_][a-z0-9_.]{0,7}", fullmatch=True),
        st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), max_size=12)
        | st.text(max_size=12),
        min_size=1,
        max_size=5,
    )
)
def test_logfmt_round_trip(pairs: dict[str, str]) -> None:
    """Whatever the values: written as logfmt (quoted when needed, `\\` and `"` escaped), read back alike."""

    def value(v: str) -> str:
        if v and not any(c.isspace() or c in '"\\=' for c in v):
            return v
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'

    line = " ".join(f"{k}={value(v)}" for k, v in pairs.items())
    assert parse_logfmt(line) == pairs
