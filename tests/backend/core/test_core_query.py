"""core.query: admin query parameters, cursors, shared filters; ports re-exports the dataclasses."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from logpipe_backend.core import query as core_query
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.filters import RecordFilter
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.query import LogQuery, QueryPage, encode_cursor, matches, parse_admin_query
from logpipe_backend.core.record import Record
from logpipe_backend.core.timefmt import format_ts

NOW = 1_764_128_696_123  # 2025-11-26T03:44:56.123Z
ID = new_log_ids(1, NOW)[0]


def _error(params: dict[str, str]) -> ApiError:
    with pytest.raises(ApiError) as info:
        parse_admin_query(params, NOW)
    assert info.value.status == 400
    return info.value


def test_ports_reexports_the_same_classes() -> None:
    from logpipe_backend import ports

    assert ports.LogQuery is LogQuery
    assert ports.QueryPage is QueryPage
    assert QueryPage(items=[], last_log_id=None).last_log_id is None


def test_defaults() -> None:
    assert parse_admin_query({"tenant": "acme"}, NOW) == LogQuery(tenant_id="acme", order="desc", limit=100)


def test_all_parameters() -> None:
    q = parse_admin_query(
        {
            "tenant": "acme",
            "since": "1h",
            "until": "2025-11-26T03:44:56.123Z",
            "level": "WARNING",
            "contains": "Disk Full",
            "after": ID.lower(),
            "order": "desc",
            "limit": "1000",
        },
        NOW,
    )
    assert q == LogQuery(
        tenant_id="acme",
        since=format_ts(NOW - 3_600_000),
        until="2025-11-26T03:44:56.123Z",
        min_level="warn",
        filter=RecordFilter(contains=("Disk Full",)),
        after=ID,
        order="desc",
        limit=1000,
    )


def test_after_defaults_to_oldest_first() -> None:
    assert parse_admin_query({"tenant": "acme", "after": ID}, NOW).order == "asc"
    assert parse_admin_query({"tenant": "acme", "after": ID, "order": "desc"}, NOW).order == "desc"


def test_since_is_resolved_against_now() -> None:
    q = parse_admin_query({"tenant": "acme", "since": "15m"}, NOW)
    assert q.since == format_ts(NOW - 15 * 60_000)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "tenant"),
        ({"tenant": ""}, "tenant"),
        ({"tenant": "Acme"}, "tenant"),
        ({"tenant": "a"}, "tenant"),
        ({"tenant": "acme", "limit": "0"}, "limit"),
        ({"tenant": "acme", "limit": "1001"}, "limit"),
        ({"tenant": "acme", "limit": "-1"}, "limit"),
        ({"tenant": "acme", "limit": "ten"}, "limit"),
        ({"tenant": "acme", "limit": "9" * 50}, "limit"),
        ({"tenant": "acme", "order": "up"}, "order"),
        ({"tenant": "acme", "level": "loud"}, "level"),
        ({"tenant": "acme", "since": "yesterday"}, "since"),
        ({"tenant": "acme", "until": "tomorrow"}, "until"),
        ({"tenant": "acme", "since": "1h", "until": "2h"}, "until"),
        ({"tenant": "acme", "after": "123"}, "after"),
        ({"tenant": "acme", "contains": "x" * 1001}, "contains"),
        ({"tenant": "acme", "levle": "warn"}, "levle"),
    ],
)
def test_invalid_parameters_name_the_parameter(params: dict[str, str], parameter: str) -> None:
    err = _error(params)
    assert err.code == "invalid_query"
    assert err.detail["parameter"] == parameter
    assert parameter in err.message


def test_limit_bounds() -> None:
    assert parse_admin_query({"tenant": "acme", "limit": "1"}, NOW).limit == 1
    assert parse_admin_query({"tenant": "acme", "limit": " 1000 "}, NOW).limit == 1000


def test_level_aliases_and_numbers() -> None:
    assert parse_admin_query({"tenant": "acme", "level": "err"}, NOW).min_level == "error"
    assert parse_admin_query({"tenant": "acme", "level": "50"}, NOW).min_level == "error"


def test_empty_optional_parameters_are_absent() -> None:
    q = parse_admin_query(
        {"tenant": "acme", "since": "", "level": "", "contains": "", "after": "", "order": "", "cursor": ""},
        NOW,
    )
    assert q == LogQuery(tenant_id="acme")


def test_cursor_round_trip() -> None:
    first = parse_admin_query({"tenant": "acme", "order": "asc", "limit": "10"}, NOW)
    cursor = encode_cursor(first, ID)
    assert "=" not in cursor and "+" not in cursor and "/" not in cursor
    nxt = parse_admin_query({"tenant": "acme", "order": "asc", "limit": "10", "cursor": cursor}, NOW)
    assert nxt.start_after == ID
    assert nxt.order == "asc"


def test_cursor_from_another_tenant() -> None:
    cursor = encode_cursor(LogQuery(tenant_id="other"), ID)
    err = _error({"tenant": "acme", "cursor": cursor})
    assert err.code == "invalid_cursor"
    assert err.detail["parameter"] == "cursor"


def test_cursor_from_another_order() -> None:
    cursor = encode_cursor(LogQuery(tenant_id="acme", order="asc"), ID)
    assert _error({"tenant": "acme", "cursor": cursor}).code == "invalid_cursor"  # default order desc


def _b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "a",
        _b64(b"\xff\xfe"),
        _b64(b"not json"),
        _b64([1, 2]),
        _b64({"tenant": "acme", "order": "desc"}),
        _b64({"tenant": "acme", "order": "desc", "last": "nope"}),
        _b64({"tenant": "acme", "order": "desc", "last": 5}),
        "A" * 600,
    ],
)
def test_malformed_cursor(cursor: str) -> None:
    assert _error({"tenant": "acme", "cursor": cursor}).code == "invalid_cursor"


def _record(**overrides: Any) -> Record:
    record: Record = {
        "tenant_id": "acme",
        "log_id": ID,
        "timestamp": "2025-11-26T03:44:56.123Z",
        "received_at": "2025-11-26T03:44:56.123Z",
        "level": "warn",
        "message": "Disk FULL on /var",
        "attributes": {},
        "source": "json",
        "redactions": 0,
    }
    record.update(overrides)  # type: ignore[typeddict-item]
    return record


def test_matches_no_filters() -> None:
    assert matches(LogQuery(tenant_id="acme"), _record())


def test_matches_time_bounds_inclusive_exclusive() -> None:
    ts = "2025-11-26T03:44:56.123Z"
    assert matches(LogQuery(tenant_id="acme", since=ts), _record())
    assert not matches(LogQuery(tenant_id="acme", since="2025-11-26T03:44:56.124Z"), _record())
    assert not matches(LogQuery(tenant_id="acme", until=ts), _record())
    assert matches(LogQuery(tenant_id="acme", until="2025-11-26T03:44:56.124Z"), _record())


@pytest.mark.parametrize(
    ("min_level", "level", "expected"),
    [("warn", "warn", True), ("warn", "fatal", True), ("warn", "info", False), ("trace", "trace", True)],
)
def test_matches_min_level(min_level: str, level: str, expected: bool) -> None:
    assert matches(LogQuery(tenant_id="acme", min_level=min_level), _record(level=level)) is expected


def test_matches_contains_case_insensitive() -> None:
    assert matches(LogQuery(tenant_id="acme", filter=RecordFilter(contains=("disk full",))), _record())
    assert matches(LogQuery(tenant_id="acme", filter=RecordFilter(contains=("DISK",))), _record())
    assert not matches(LogQuery(tenant_id="acme", filter=RecordFilter(contains=("memory",))), _record())
    assert matches(
        LogQuery(tenant_id="acme", filter=RecordFilter(contains=("STRASSE",))), _record(message="straße")
    )


def test_matches_all_filters_together() -> None:
    q = parse_admin_query({"tenant": "acme", "since": "1h", "level": "warn", "contains": "disk"}, NOW)
    assert matches(q, _record())
    assert not matches(q, _record(timestamp=format_ts(NOW - 2 * 3_600_000)))


def test_module_constants() -> None:
    assert core_query.MAX_LIMIT == 1000
    assert core_query.DEFAULT_LIMIT == 100
