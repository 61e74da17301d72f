"""core.normalize: docs/contract.md §2, field by field."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.normalize import (
    CLIENT_ID_FIELDS,
    LEVEL_FIELDS,
    MESSAGE_FIELDS,
    TIMESTAMP_FIELDS,
    _normalize_json_alike,
    _normalize_lines_alike,
    normalize,
    normalize_all,
)
from logpipe_backend.core.record import LEVELS, Record

RECEIVED = 1_764_128_696_123
RECEIVED_TS = "2025-11-26T03:44:56.123Z"
LOG_ID = "01KAXR0S3V0000000000000000"


def _norm(raw: dict[str, Any] | str, tenant: str = "acme") -> Record:
    return normalize(raw, tenant_id=tenant, log_id=LOG_ID, received_ms=RECEIVED)


def test_seed_example() -> None:
    assert _norm({"tenant_id": "acme", "log_id": "123", "text": "hello"}) == {
        "tenant_id": "acme",
        "log_id": LOG_ID,
        "timestamp": RECEIVED_TS,
        "received_at": RECEIVED_TS,
        "level": "info",
        "message": "hello",
        "attributes": {},
        "source": "json",
        "client_log_id": "123",
        "redactions": 0,
    }


def test_full_json_record() -> None:
    record = _norm(
        {
            "timestamp": "2025-11-26T01:02:03.456+01:00",
            "level": "WARNING",
            "message": "disk full",
            "host": "db1",
            "nested": {"a": [1, {"b": None}]},
            "id": 42,
        }
    )
    assert record["timestamp"] == "2025-11-26T00:02:03.456Z"
    assert record["received_at"] == RECEIVED_TS
    assert record["level"] == "warn"
    assert record["message"] == "disk full"
    assert record["attributes"] == {"host": "db1", "nested": {"a": [1, {"b": None}]}}
    assert record["client_log_id"] == "42"


@pytest.mark.parametrize("field", ["message", "msg", "text", "log", "body"])
def test_each_message_alias(field: str) -> None:
    record = _norm({field: "hi", "other": 1})
    assert record["message"] == "hi"
    assert record["attributes"] == {"other": 1}


def test_message_alias_order_first_string_wins() -> None:
    record = _norm({"body": "b", "log": "l", "text": "t", "msg": "m", "message": "M"})
    assert record["message"] == "M"
    assert record["attributes"] == {"body": "b", "log": "l", "text": "t", "msg": "m"}


def test_non_string_message_stays_in_attributes() -> None:
    record = _norm({"message": {"structured": True}, "msg": 5, "log": "the line"})
    assert record["message"] == "the line"
    assert record["attributes"] == {"message": {"structured": True}, "msg": 5}


def test_no_message() -> None:
    record = _norm({"a": 1})
    assert record["message"] == ""
    assert record["attributes"] == {"a": 1}


def test_empty_object() -> None:
    record = _norm({})
    assert (record["message"], record["attributes"], record["level"]) == ("", {}, "info")
    assert "client_log_id" not in record


@pytest.mark.parametrize("field", ["timestamp", "ts", "time", "@timestamp", "date"])
def test_each_timestamp_alias(field: str) -> None:
    record = _norm({field: "2020-01-02T03:04:05Z"})
    assert record["timestamp"] == "2020-01-02T03:04:05.000Z"
    assert record["attributes"] == {}


def test_fluent_bit_record() -> None:
    # Fluent Bit's json / json_lines formats: "date" in float epoch seconds, the line under "log".
    record = _norm({"date": 1_600_000_000.25, "log": "disk full", "level": "error", "host": "db1"})
    assert (record["timestamp"], record["message"], record["level"]) == (
        "2020-09-13T12:26:40.250Z",
        "disk full",
        "error",
    )
    assert record["attributes"] == {"host": "db1"}
    # An explicit time field wins; "date" then stays an attribute.
    both = _norm({"date": 1_600_000_000.25, "time": "2020-01-02T03:04:05Z"})
    assert (both["timestamp"], both["attributes"]) == ("2020-01-02T03:04:05.000Z", {"date": 1_600_000_000.25})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_600_000_000, "2020-09-13T12:26:40.000Z"),
        (1_600_000_000.5, "2020-09-13T12:26:40.500Z"),
        (1_600_000_000_123, "2020-09-13T12:26:40.123Z"),
        (1_600_000_000_123_456, "2020-09-13T12:26:40.123Z"),
        (1_600_000_000_123_456_789, "2020-09-13T12:26:40.123Z"),
        ("1600000000123456789", "2020-09-13T12:26:40.123Z"),
        ("2020-09-13 12:26:40", "2020-09-13T12:26:40.000Z"),
    ],
)
def test_timestamp_forms(value: object, expected: str) -> None:
    assert _norm({"ts": value})["timestamp"] == expected


def test_unparseable_timestamp_stays_and_next_alias_is_used() -> None:
    record = _norm({"timestamp": "soon", "ts": True, "time": 1_600_000_000, "@timestamp": "2001-01-01"})
    assert record["timestamp"] == "2020-09-13T12:26:40.000Z"
    assert record["attributes"] == {"timestamp": "soon", "ts": True, "@timestamp": "2001-01-01"}


def test_unparseable_timestamp_falls_back_to_received() -> None:
    record = _norm({"timestamp": "soon"})
    assert record["timestamp"] == RECEIVED_TS
    assert record["attributes"] == {"timestamp": "soon"}


@pytest.mark.parametrize("field", ["level", "severity", "lvl", "loglevel"])
def test_each_level_alias(field: str) -> None:
    record = _norm({field: "ERROR"})
    assert record["level"] == "error"
    assert record["attributes"] == {}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("warning", "warn"),
        ("err", "error"),
        ("CRITICAL", "fatal"),
        ("crit", "fatal"),
        ("alert", "fatal"),
        ("emerg", "fatal"),
        ("panic", "fatal"),
        (30, "info"),
        (50, "error"),
        (60, "fatal"),
        (3, "error"),
        (4, "warn"),
        ("Trace", "trace"),
        ("debug", "debug"),
    ],
)
def test_level_values(value: object, expected: str) -> None:
    assert _norm({"level": value})["level"] == expected


def test_unknown_level_stays_and_next_alias_is_used() -> None:
    record = _norm({"level": "loud", "severity": "error"})
    assert record["level"] == "error"
    assert record["attributes"] == {"level": "loud"}


def test_unknown_level_defaults_to_info() -> None:
    record = _norm({"level": {"x": 1}})
    assert record["level"] == "info"
    assert record["attributes"] == {"level": {"x": 1}}


@pytest.mark.parametrize(
    ("raw", "client_log_id", "attributes"),
    [
        ({"log_id": "abc"}, "abc", {}),
        ({"id": 7}, "7", {}),
        ({"id": 1.5}, "1.5", {}),
        ({"log_id": "a", "id": "b"}, "a", {"id": "b"}),
        ({"log_id": None, "id": "b"}, "b", {"log_id": None}),
        ({"id": {"x": 1}}, None, {"id": {"x": 1}}),
        ({"id": True}, None, {"id": True}),
        ({"id": [1]}, None, {"id": [1]}),
    ],
)
def test_client_log_id(raw: dict[str, Any], client_log_id: str | None, attributes: dict[str, Any]) -> None:
    record = _norm(raw)
    assert record.get("client_log_id") == client_log_id
    assert record["attributes"] == attributes


def test_tenant_id_matching_is_removed() -> None:
    assert _norm({"tenant_id": "acme", "a": 1})["attributes"] == {"a": 1}


@pytest.mark.parametrize("other", ["other", "ACME", "", None, 1, ["acme"]])
def test_tenant_mismatch(other: object) -> None:
    with pytest.raises(ApiError) as info:
        _norm({"tenant_id": other})
    assert (info.value.status, info.value.code) == (403, "tenant_mismatch")


def test_tenant_comes_from_the_credential() -> None:
    assert _norm({"message": "x"}, tenant="zeta")["tenant_id"] == "zeta"


def test_does_not_mutate_input() -> None:
    raw = {"tenant_id": "acme", "message": "m", "level": "warn", "ts": 1, "id": 3, "n": {"a": [1]}}
    before = copy.deepcopy(raw)
    _norm(raw)
    assert raw == before


def test_other_record_fields_in_body_are_attributes() -> None:
    record = _norm({"received_at": "x", "source": "y", "redactions": 5, "attributes": {"a": 1}})
    assert record["attributes"] == {
        "received_at": "x",
        "source": "y",
        "redactions": 5,
        "attributes": {"a": 1},
    }
    assert record["source"] == "json"
    assert record["redactions"] == 0


# --- text ------------------------------------------------------------------------------------------------


def test_text_plain_line() -> None:
    assert _norm("hello world") == {
        "tenant_id": "acme",
        "log_id": LOG_ID,
        "timestamp": RECEIVED_TS,
        "received_at": RECEIVED_TS,
        "level": "info",
        "message": "hello world",
        "attributes": {},
        "source": "text",
        "redactions": 0,
    }


def test_text_leading_timestamp_and_level() -> None:
    line = "2025-11-26T01:00:00.250Z ERROR disk full"
    record = _norm(line)
    assert record["timestamp"] == "2025-11-26T01:00:00.250Z"
    assert record["level"] == "error"
    assert record["message"] == line


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("[warn] careful", "warn"),
        ("level=error msg=x", "error"),
        ("E1126 03:44:56.123456 1 a.go:1] x", "error"),
        ("2025-11-26 03:44:56,123 DEBUG x", "debug"),
        ("nothing special", "info"),
    ],
)
def test_text_levels(line: str, level: str) -> None:
    assert _norm(line)["level"] == level


def test_text_line_ending_is_stripped() -> None:
    assert _norm("hello\r\n")["message"] == "hello"
    assert _norm("hello\n")["message"] == "hello"


# --- properties ------------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3),
    max_leaves=15,
)
# Every key normalize() reads (docs/contract.md §2); any other key must end up in the attributes.
USED_KEYS = (
    "message",
    "msg",
    "text",
    "log",
    "body",
    "timestamp",
    "ts",
    "time",
    "@timestamp",
    "level",
    "severity",
    "lvl",
    "loglevel",
    "log_id",
    "id",
    "tenant_id",
)
KEYS = st.sampled_from(USED_KEYS) | st.text(max_size=8)
RAW = st.dictionaries(KEYS, JSON_VALUES | st.sampled_from(["acme", "2025-11-26T03:44:56Z", "warn", 40]))


@given(RAW | st.text())
def test_normalize_only_raises_api_errors_and_is_deterministic(raw: dict[str, Any] | str) -> None:
    try:
        first = _norm(raw)
    except ApiError as err:
        assert err.code == "tenant_mismatch"
        return
    assert first == _norm(raw)
    assert first["level"] in LEVELS
    assert first["source"] in ("json", "text")
    assert isinstance(first["message"], str)
    assert len(first["timestamp"]) == 24 and first["timestamp"].endswith("Z")
    if isinstance(raw, dict):
        # Nothing is lost: every field is either used or kept as an attribute.
        used = set(raw) - set(first["attributes"])
        assert used <= set(USED_KEYS)
        for key, value in first["attributes"].items():
            assert raw[key] == value


# --- normalize_all: normalize of each record, with the first error --------------------------------------

NAMES = st.sampled_from(
    [*MESSAGE_FIELDS, *TIMESTAMP_FIELDS, *LEVEL_FIELDS, *CLIENT_ID_FIELDS, "tenant_id", "x"]
)
FIELD_VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(
        [
            "acme",
            "evil",
            " WARN ",
            "Info",
            "30",
            RECEIVED_TS,
            "2025-11-26 03:44:56",
            1_764_128_696,
            [1],
            {"a": 1},
        ]
    )
)
RAWS = st.lists(
    st.dictionaries(NAMES, FIELD_VALUES, max_size=5)
    | st.text(max_size=40)
    | st.sampled_from([RECEIVED_TS + " ERROR boom", "2025-11-26 03:44:56 [warn] x\r\n", "level=debug x"]),
    max_size=6,
)


def _outcome(run: Any) -> Any:
    try:
        return ("ok", run())
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.message)


@given(RAWS)
def test_normalize_all_is_normalize_of_each(raws: list[Any]) -> None:
    ids = [f"{LOG_ID[:-2]}{i:02d}" for i in range(len(raws))]
    each = _outcome(
        lambda: [
            normalize(r, tenant_id="acme", log_id=i, received_ms=RECEIVED)
            for r, i in zip(raws, ids, strict=True)
        ]
    )
    assert _outcome(lambda: normalize_all(raws, "acme", ids, RECEIVED)) == each


# --- JSON records of one shape: a field at a time, as the per-record path ------------------------------

ALIKE_VALUES = FIELD_VALUES | st.sampled_from(
    ["2025-11-26T03:44:56.999Z", "2025-11-26T23:59:59.000Z", "2025-02-30T03:44:56.000Z", "warning", 30]
)


@st.composite
def alike_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Records sharing most of their keys (what takes the field-at-a-time path), some now and then without
    one or with a value the per-record path would skip (what makes it decline)."""
    keys = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    records = []
    for _ in range(draw(st.integers(min_value=1, max_value=5))):
        record = {key: draw(ALIKE_VALUES) for key in keys if draw(st.integers(0, 9))}
        records.append(record)
    return records


@given(alike_records() | st.lists(st.fixed_dictionaries({"msg": st.text(max_size=3)}, optional={
    "ts": st.sampled_from([RECEIVED_TS, "2025-11-26T03:44:57.001Z", "x", 1_764_128_696]),
    "level": st.sampled_from(["info", "warning", "err", "Warn", "x", 50, None]),
    "tenant_id": st.sampled_from(["acme", "evil"]),
    "id": st.sampled_from([7, "a", [1]]),
}), min_size=1, max_size=5))  # fmt: skip
def test_alike_records_normalize_as_each(raws: list[dict[str, Any]]) -> None:
    ids = [f"{LOG_ID[:-2]}{i:02d}" for i in range(len(raws))]
    before = copy.deepcopy(raws)
    each = _outcome(
        lambda: [
            normalize(r, tenant_id="acme", log_id=i, received_ms=RECEIVED)
            for r, i in zip(raws, ids, strict=True)
        ]
    )
    assert _outcome(lambda: normalize_all(raws, "acme", ids, RECEIVED)) == each
    assert raws == before


def test_alike_records_take_the_field_at_a_time_path() -> None:
    raws: list[dict[str, Any]] = [
        {"ts": "2025-11-26T03:44:56.000Z", "level": "warning", "msg": "a", "tenant_id": "acme", "n": 1},
        {"ts": "2025-11-26T03:44:57.123Z", "level": "info", "msg": "b", "tenant_id": "acme", "n": 2},
    ]
    ids = [LOG_ID, LOG_ID[:-1] + "1"]
    fast = _normalize_json_alike(raws, "acme", ids, RECEIVED_TS)
    assert fast is not None and fast == normalize_all([*raws, "text"], "acme", [*ids, LOG_ID], RECEIVED)[:2]
    assert [r["attributes"] for r in fast] == [{"n": 1}, {"n": 2}]
    assert [r["level"] for r in fast] == ["warn", "info"]
    with_id = [{**raws[0], "id": 5}, {**raws[1], "id": "x"}]
    assert [r["client_log_id"] for r in _normalize_json_alike(with_id, "acme", ids, RECEIVED_TS) or []] == [
        "5",
        "x",
    ]
    # Declined (the per-record path decides): a field only some records have, a value it would skip over,
    # another tenant.
    for odd in ({"level": "warn"}, {"msg": 5, "level": "warn"}, {**raws[1], "tenant_id": "evil"}):
        assert _normalize_json_alike([raws[0], odd], "acme", ids, RECEIVED_TS) is None


# --- text lines that start alike ----------------------------------------------------------------------

LINE_STARTS = st.sampled_from(
    [RECEIVED_TS, "2025-11-26T03:44:57.001Z", "2025-02-30T03:44:56.000Z", "2025-11-26 03:44:56", "[x]", ""]
)
LINE_RESTS = st.sampled_from(
    [" ERROR boom", "\tWARN x", " [debug] y", " hello", " lvl=warn z", "", "\n", " x\r\n"]
)


@given(
    st.lists(st.builds(str.__add__, LINE_STARTS, LINE_RESTS) | st.text(max_size=30), min_size=1, max_size=6)
)
def test_alike_lines_normalize_as_each(lines: list[str]) -> None:
    ids = [f"{LOG_ID[:-2]}{i:02d}" for i in range(len(lines))]
    each = [
        normalize(line, tenant_id="acme", log_id=i, received_ms=RECEIVED)
        for line, i in zip(lines, ids, strict=True)
    ]
    assert normalize_all(lines, "acme", ids, RECEIVED) == each


def test_alike_lines_take_the_line_at_a_time_path() -> None:
    lines = [RECEIVED_TS + " ERROR boom", "2025-11-26T03:44:57.001Z\thello"]
    ids = [LOG_ID, LOG_ID[:-1] + "1"]
    fast = _normalize_lines_alike(lines, "acme", ids, RECEIVED_TS)
    assert fast is not None and fast == [
        normalize(x, tenant_id="acme", log_id=i, received_ms=RECEIVED)
        for x, i in zip(lines, ids, strict=True)
    ]
    assert [r["level"] for r in fast] == ["error", "info"]
    for odd in (
        "2025-11-26 03:44:56 ERROR x",
        RECEIVED_TS,
        RECEIVED_TS + " x\n",
        "2025-02-30T03:44:56.000Z x",
    ):
        assert _normalize_lines_alike([lines[0], odd], "acme", ids, RECEIVED_TS) is None


def test_multiline_text_record_takes_time_level_and_format_from_its_first_line() -> None:
    trace = (
        "2025-11-26 03:44:56,001 ERROR payment failed\n"
        "java.lang.IllegalStateException: boom\n\tat com.ex.Pay.run(Pay.java:42)\n\t... 3 more"
    )
    record = _norm(trace)
    assert (record["timestamp"], record["level"], record["message"]) == (
        "2025-11-26T03:44:56.001Z",
        "error",
        trace,
    )
    syslog = _norm(
        "<11>Nov 26 03:44:56 web01 app[7]: payment failed\nTraceback (most recent call last):\n  x"
    )
    assert (syslog["level"], syslog["message"]) == (
        "error",
        "payment failed\nTraceback (most recent call last):\n  x",
    )
    assert syslog["attributes"]["app"] == "app"
