"""``--since`` / ``--until`` parsing (cli/logpipe_cli/times.py), pure: a fixed ``now`` and zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_cli.times import TimeSyntaxError, format_rfc3339, parse_when

NOW = datetime(2026, 12, 6, 10, 30, 15, 250_000, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("90min", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1 hour ago", timedelta(hours=1)),
        ("90 minutes", timedelta(minutes=90)),
        ("2 days ago", timedelta(days=2)),
        ("  3 HOURS  Ago ", timedelta(hours=3)),
        ("now", timedelta(0)),
    ],
)
def test_durations_count_back_from_now(text: str, ago: timedelta) -> None:
    assert parse_when(text, now=NOW, zone=UTC) == NOW - ago


def test_today_and_yesterday_are_midnights_in_the_display_zone() -> None:
    assert parse_when("today", now=NOW, zone=UTC) == datetime(2026, 12, 6, tzinfo=UTC)
    assert parse_when("yesterday", now=NOW, zone=UTC) == datetime(2026, 12, 5, tzinfo=UTC)
    # 10:30 UTC is 11:30 in Paris: the same day, whose midnight is 23:00 UTC the day before.
    assert format_rfc3339(parse_when("today", now=NOW, zone=PARIS)) == "2026-12-05T23:00:00.000Z"
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # already the 7th in Paris
    assert format_rfc3339(parse_when("yesterday", now=late, zone=PARIS)) == "2026-12-05T23:00:00.000Z"


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-12-01T08:00:00Z", "2026-12-01T08:00:00.000Z"),
        ("2026-12-01T08:00:00.123456+02:00", "2026-12-01T06:00:00.123Z"),
        ("2026-12-01 08:00:00Z", "2026-12-01T08:00:00.000Z"),
        ("2026-12-01", "2026-12-01T00:00:00.000Z"),
        ("2026-12-01T08:00", "2026-12-01T08:00:00.000Z"),  # no zone: the display zone (UTC here)
    ],
)
def test_absolute_times(text: str, utc: str) -> None:
    assert format_rfc3339(parse_when(text, now=NOW, zone=UTC)) == utc


def test_a_plain_date_is_read_in_the_display_zone() -> None:
    assert format_rfc3339(parse_when("2026-07-01", now=NOW, zone=PARIS)) == "2026-06-30T22:00:00.000Z"


@pytest.mark.parametrize(
    "text", ["", "  ", "soon", "1 fortnight", "yesterdays", "2026-02-30", "12:00 tomorrow", "5", "h", "-1h"]
)
def test_anything_else_is_refused_with_a_hint(text: str) -> None:
    with pytest.raises(TimeSyntaxError) as info:
        parse_when(text, now=NOW, zone=UTC)
    assert "1 hour ago" in str(info.value) or "empty" in str(info.value)


@given(st.integers(min_value=0, max_value=10**5), st.sampled_from(["s", "m", "min", "h", "d", "hours"]))
def test_every_duration_is_exact(number: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "hours": 3600}[unit] * number
    for text in (f"{number}{unit}", f"{number} {unit} ago"):
        assert parse_when(text, now=NOW, zone=UTC) == NOW - timedelta(seconds=seconds)


def test_format_rfc3339_is_the_stores_fixed_width_form() -> None:
    assert format_rfc3339(NOW) == "2026-12-06T10:30:15.250Z"
    assert format_rfc3339(NOW.astimezone(PARIS)) == "2026-12-06T10:30:15.250Z"


def test_before_year_one_is_a_clear_error() -> None:
    with pytest.raises(TimeSyntaxError, match="too far back"):
        parse_when("999999999d", now=NOW, zone=UTC)
