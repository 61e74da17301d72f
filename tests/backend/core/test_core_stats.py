"""core.stats: counts per bucket and group, spans, limits; fields of a sample (docs/contract.md §3)."""

from __future__ import annotations

from typing import Any

import pytest
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.record import Record
from logpipe_backend.core.stats import (
    MAX_GROUPS,
    OTHER,
    StatsFold,
    fields_result,
    parse_bucket,
    parse_fields,
    parse_stats,
)
from logpipe_backend.core.timefmt import format_ts

NOW = 1_764_129_600_000  # 2025-11-26T04:00:00.000Z, a whole hour


def rec(second: int, level: str = "info", **attributes: Any) -> Record:
    return {
        "tenant_id": "acme",
        "log_id": "01M8AZV7KN0RGZYX4XKYNPYX60",
        "timestamp": format_ts(NOW - 3_600_000 + second * 1000),
        "received_at": format_ts(NOW),
        "level": level,
        "message": "m",
        "attributes": attributes,
        "source": "json",
        "redactions": 0,
    }


def test_buckets_by_level_over_a_known_span_include_the_empty_ones() -> None:
    request = parse_stats({"tenant": "acme", "since": "1h", "bucket": "10m"}, NOW)
    assert request.bucket_s == 600 and request.query.limit == 1000 and request.query.order == "desc"
    fold = StatsFold(request)
    for second, level in ((5, "error"), (30, "info"), (610, "error"), (3599, "warn")):
        fold.add(rec(second, level))
    result = fold.result(complete_from=None)
    assert [b["start"] for b in result["buckets"]] == [
        format_ts(NOW - 3_600_000 + i * 600_000) for i in range(6)
    ]
    assert result["buckets"][0]["counts"] == {"error": 1, "info": 1}
    assert result["buckets"][1]["counts"] == {"error": 1}
    assert result["buckets"][2]["counts"] == {}
    assert result["buckets"][5]["counts"] == {"warn": 1}
    assert result["totals"] == {"error": 2, "info": 1, "warn": 1}
    assert result["records"] == 4 and result["partial"] is False and result["bucket_seconds"] == 600


def test_default_bucket_is_about_sixty_over_the_span() -> None:
    assert parse_stats({"tenant": "acme", "since": "1h"}, NOW).bucket_s == 60
    assert parse_stats({"tenant": "acme", "since": "1d"}, NOW).bucket_s == 1800
    assert parse_stats({"tenant": "acme", "since": "7d"}, NOW).bucket_s == 6 * 3600  # 28 buckets
    assert parse_stats({"tenant": "acme"}, NOW).bucket_s == 3600


def test_group_by_a_field_caps_the_groups() -> None:
    fold = StatsFold(parse_stats({"tenant": "acme", "by": "db.host", "since": "1h"}, NOW))
    for i in range(MAX_GROUPS + 5):
        fold.add(rec(i, db={"host": f"h{i:02d}"}))
        fold.add(rec(i, db={"host": f"h{i:02d}"}) if i < MAX_GROUPS else rec(i))
    result = fold.result(complete_from="2025-11-26T03:30:00.000Z")
    assert len(result["totals"]) == MAX_GROUPS + 1 and OTHER in result["totals"]
    assert sum(result["totals"].values()) == result["records"] == 2 * (MAX_GROUPS + 5)
    assert result["partial"] is True and result["complete_from"] == "2025-11-26T03:30:00.000Z"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"tenant": "acme", "bucket": "0s"}, "bucket"),
        ({"tenant": "acme", "bucket": "fast"}, "bucket"),
        ({"tenant": "acme", "since": "30d", "bucket": "1m"}, "bucket"),  # 43,200 buckets
        ({"tenant": "acme", "limit": "5"}, "limit"),
        ({"tenant": "acme", "by": ["level", "host"]}, "by"),
        ({"tenant": "acme", "where": ["status>>1"]}, "where"),
        ({"by": "level"}, "tenant"),
    ],
)
def test_bad_stats_parameters(params: dict[str, Any], parameter: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_stats(params, NOW)
    assert info.value.status == 400 and info.value.detail["parameter"] == parameter


def test_bucket_units() -> None:
    assert [parse_bucket(b) for b in ("30s", "1m", "5min", "1h", "1d", "1w", "15")] == [
        30, 60, 300, 3600, 86_400, 604_800, 15,
    ]  # fmt: skip


def test_fields_of_a_sample() -> None:
    records = [rec(i, host=f"web-{i % 2}", db={"host": "db1", "port": 5432}) for i in range(5)] + [rec(9)]
    result = fields_result(records)
    assert result["sampled"] == 6
    by_name = {f["name"]: f for f in result["fields"]}
    assert by_name["host"]["count"] == 5 and by_name["host"]["distinct"] == 2
    assert by_name["host"]["values"] == [{"value": "web-0", "count": 3}, {"value": "web-1", "count": 2}]
    assert by_name["db.port"]["values"] == [{"value": "5432", "count": 5}]
    assert parse_fields({"tenant": "acme", "sample": "50"}, NOW).limit == 50
    with pytest.raises(ApiError):
        parse_fields({"tenant": "acme", "sample": "0"}, NOW)
