"""core.timefmt: record time format, event times, query bounds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import timefmt
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.timefmt import (
    MAX_MS,
    MIN_MS,
    format_ts,
    leading_timestamp,
    parse_event_time,
    parse_time_bound,
)

T = 1_764_128_696_123  # 2025-11-26T03:44:56.123Z
T_S = 1_764_128_696_000


def test_format_ts() -> None:
    assert format_ts(T) == "2025-11-26T03:44:56.123Z"
    assert format_ts(0) == "1970-01-01T00:00:00.000Z"
    assert format_ts(-1) == "1969-12-31T23:59:59.999Z"
    assert format_ts(MIN_MS) == "0001-01-01T00:00:00.000Z"
    assert format_ts(MAX_MS) == "9999-12-31T23:59:59.999Z"


@given(st.integers(MIN_MS, MAX_MS))
def test_format_parse_round_trip(ms: int) -> None:
    text = format_ts(ms)
    assert len(text) == 24
    assert parse_event_time(text) == ms


@given(st.integers(MIN_MS, MAX_MS), st.integers(MIN_MS, MAX_MS))
def test_format_sorts_like_time(a: int, b: int) -> None:
    assert (format_ts(a) < format_ts(b)) == (a < b)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-11-26T03:44:56.123Z", T),
        ("2025-11-26T03:44:56.123z", T),
        ("2025-11-26T03:44:56Z", T_S),
        ("2025-11-26T03:44:56", T_S),  # no offset: UTC
        ("2025-11-26 03:44:56", T_S),
        ("2025-11-26t03:44:56.123", T),
        ("2025-11-26T03:44:56.123456789Z", T),
        ("2025-11-26T03:44:56.1234567890123Z", T),
        ("2025-11-26T03:44:56,123Z", T),
        ("2025-11-26T04:44:56.123+01:00", T),
        ("2025-11-26T04:44:56.123+0100", T),
        ("2025-11-26T04:44:56.123+01", T),
        ("2025-11-25T22:14:56.123-05:30", T),
        ("2025-11-26T03:44Z", T_S - 56_000),
        ("2025-11-26", T_S - (3 * 3600 + 44 * 60 + 56) * 1000),
        ("  2025-11-26T03:44:56.123Z ", T),
        ("2016-12-31T23:59:60Z", 1_483_228_800_000),  # leap second → next minute
        (1_764_128_696, T_S),  # seconds
        (1_764_128_696.123, T),  # seconds with fraction
        (T, T),  # milliseconds
        (T * 1000 + 456, T),  # microseconds
        (T * 1_000_000 + 456_789, T),  # nanoseconds
        ("1764128696", T_S),
        ("1764128696123", T),
        ("1764128696123456789", T),  # Loki-style nanosecond string
        ("1764128696.5", T_S + 500),
        (0, 0),
        (-86_400, -86_400_000),
    ],
)
def test_parse_event_time(value: object, expected: int) -> None:
    assert parse_event_time(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        "",
        "   ",
        "yesterday",
        "2025-13-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-11-26T25:00:00Z",
        "2025-11-26T03:44:56+25:00",
        "2025-11-26T03:44:56.123Zjunk",
        "26/Nov/2025:03:44:56 +0000",
        float("nan"),
        float("inf"),
        -float("inf"),
        1e30,
        10**30,
        "9" * 100,
        [],
        {},
        {"t": 1},
        "1.2.3",
    ],
)
def test_parse_event_time_not_a_time(value: object) -> None:
    assert parse_event_time(value) is None


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(), st.lists))
def test_parse_event_time_never_raises(value: object) -> None:
    result = parse_event_time(value)
    assert result is None or MIN_MS <= result <= MAX_MS


def test_parse_event_time_agrees_with_datetime() -> None:
    dt = datetime(2024, 2, 29, 12, 0, 1, 999_000, tzinfo=UTC)
    assert parse_event_time(dt.isoformat()) == int(dt.timestamp() * 1000)


@pytest.mark.parametrize(
    ("line", "expected_ms", "rest"),
    [
        ("2025-11-26T03:44:56.123Z ERROR disk full", T, " ERROR disk full"),
        ("2025-11-26 03:44:56 info started", T_S, " info started"),
        ("[2025-11-26T03:44:56.123Z] boom", T, " boom"),
        ("2025-11-26T03:44:56.123+00:00|x", T, "|x"),
        ("2025-11-26T03:44:56.123Z", T, ""),
    ],
)
def test_leading_timestamp(line: str, expected_ms: int, rest: str) -> None:
    ms, end = leading_timestamp(line)
    assert ms == expected_ms
    assert line[end:] == rest


@pytest.mark.parametrize(
    "line", ["hello 2025-11-26T03:44:56Z", "2025-11-26 only a date", "2025-11-26T03:44:56Zfoo", ""]
)
def test_no_leading_timestamp(line: str) -> None:
    assert leading_timestamp(line) == (None, 0)


NOW = T


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30s", NOW - 30_000),
        ("15m", NOW - 15 * 60_000),
        ("2h", NOW - 2 * 3_600_000),
        ("7d", NOW - 7 * 86_400_000),
        ("1w", NOW - 7 * 86_400_000),
        ("0s", NOW),
        ("2025-11-26T03:44:56.123Z", T),
        ("2025-11-26T04:44:56.123+01:00", T),
        ("2025-11-26", T_S - (3 * 3600 + 44 * 60 + 56) * 1000),
    ],
)
def test_parse_time_bound(value: str, expected: int) -> None:
    assert parse_time_bound(value, NOW) == expected


@pytest.mark.parametrize(
    "value", ["", "yesterday", "30", "-5m", "5 minutes", "1764128696", "2025-13-01", "5y"]
)
def test_parse_time_bound_invalid(value: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_time_bound(value, NOW)
    assert info.value.status == 400
    assert info.value.code == "invalid_query"


def test_parse_time_bound_huge_relative_is_clamped() -> None:
    assert parse_time_bound("999999999d", NOW) == MIN_MS


# --- canonical_timestamp: the cached fast path decides as the regex alone does --------------------------


def _canonical_reference(value: object) -> str | None:
    """The check before the per-second cache: type, length, the pattern, and a date that exists."""
    if type(value) is not str or len(value) != 24:
        return None
    return value if timefmt._canonical_by_regex(value) else None


CANONICAL_LIKE = st.builds(
    lambda base, edits: _edit(base, edits),
    st.integers(min_value=MIN_MS, max_value=MAX_MS).map(format_ts)
    | st.sampled_from(["2024-02-29T23:59:59.999Z", "2023-02-29T00:00:00.000Z", "2025-11-26T24:00:00.000Z"]),
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=24),
            st.sampled_from([*"0123456789-T:.Zz t", "\u0663", "\uff15", "\u00b2", "", "00"]),
        ),
        max_size=3,
    ),
)


def _edit(base: str, edits: list[tuple[int, str]]) -> str:
    for index, char in edits:
        base = base[:index] + char + base[index + 1 :]
    return base


@settings(max_examples=2000)
@given(CANONICAL_LIKE | st.text(max_size=26) | st.integers() | st.none())
def test_canonical_timestamp_decides_as_the_regex(value: object) -> None:
    timefmt._SECONDS_SEEN.clear()
    expected = _canonical_reference(value)
    assert timefmt.canonical_timestamp(value) == expected  # the cache empty
    assert timefmt.canonical_timestamp(value) == expected  # from the cache
    if isinstance(value, str) and len(value) == 24:  # its second cached from a value with another tail
        timefmt._SECONDS_SEEN.clear()
        timefmt.canonical_timestamp(value[:19] + ".000Z")
        assert timefmt.canonical_timestamp(value) == expected
    if expected is not None and expected.isascii():  # (\d also takes other digits: kept as sent, as before)
        assert format_ts(cast(int, parse_event_time(expected))) == expected


@settings(max_examples=1000)
@given(st.lists(CANONICAL_LIKE | st.sampled_from([format_ts(T), 5, None, "x"]), min_size=1, max_size=4))
def test_all_canonical_is_canonical_timestamp_of_each(values: list[object]) -> None:
    timefmt._SECONDS_SEEN.clear()
    expected = all(_canonical_reference(value) is not None for value in values)
    assert timefmt.all_canonical(values) is expected
    assert timefmt.all_canonical(values) is expected  # the seconds cached
    assert timefmt.all_canonical([format_ts(T), *values]) is expected


def test_canonical_timestamp_cache_is_bounded() -> None:
    for ms in range(0, 10_000 * 1000, 1000):
        assert timefmt.canonical_timestamp(format_ts(T + ms)) is not None
    assert len(timefmt._SECONDS_SEEN) <= timefmt._SECONDS_SEEN_MAX
