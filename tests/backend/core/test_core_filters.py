"""core.filters: where conditions, message terms, RE2 regexes and level sets (docs/contract.md §3)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.filters import RecordFilter, field_path, parse_condition, parse_filter
from logpipe_backend.core.record import Record


def record(message: str = "GET /pay failed", level: str = "error", **attributes: Any) -> Record:
    return {
        "tenant_id": "acme",
        "log_id": "01M8AZV7KN0RGZYX4XKYNPYX60",
        "timestamp": "2026-12-06T00:00:00.000Z",
        "received_at": "2026-12-06T00:00:00.000Z",
        "level": level,
        "message": message,
        "attributes": attributes,
        "source": "json",
        "redactions": 0,
    }


R = record(status=503, host="db1", db={"host": "db2", "port": "5432"}, ok=False, none=None, tags=["a"])


def holds(text: str, rec: Record = R) -> bool:
    return parse_condition(text).holds(rec)


def test_field_paths() -> None:
    assert field_path("level") == ("level",)
    assert field_path("message") == ("message",)
    assert field_path("host") == ("attributes", "host")
    assert field_path("db.host") == ("attributes", "db", "host")
    assert field_path("attributes.db.host") == ("attributes", "db", "host")
    assert field_path("attributes") == ("attributes", "attributes")  # an attribute named "attributes"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status>=500", True),
        ("status>503", False),
        ("status<=503", True),
        ("status<503.5", True),
        ("status=503", True),
        ("status=503.0", True),
        ("status!=503", False),
        ("db.port>5000", True),  # a number held in a string compares as a number
        ("db.port=5432", True),
        ("host=db1", True),
        ("host=DB1", False),  # strings exactly
        ("level=ERROR", True),  # levels in any case
        ("level=error", True),
        ("level!=warn", True),
        ("db.host=db2", True),
        ("attributes.db.host=db2", True),
        ("host~^db[0-9]$", True),
        ("message~(?i)pay", True),
        ("message~^pay", False),
        ("host", True),
        ("none", True),  # present, even as null
        ("missing", False),
        ("missing!=x", True),  # absent counts as "not equal", as logcli's != on a missing label
        ("missing=x", False),
        ("missing>1", False),
        ("ok=false", True),
        ("none=null", True),
        ('tags=["a"]', True),
        ("tags~a", True),
        ("host>1", False),  # not a number: no match, not an error
        ("ok>0", False),  # booleans are not numbers
        ("db>1", False),
    ],
)
def test_conditions(text: str, expected: bool) -> None:
    assert holds(text) is expected


@pytest.mark.parametrize(
    "text", ["", "=x", ">=5", "a..b=1", ".a=1", "status>=lots", "status<", "x~(unclosed"]
)
def test_bad_conditions_are_400_naming_where(text: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_filter({"where": [text]}) if text else parse_condition(text)
    assert info.value.status == 400 and info.value.detail.get("parameter") == "where"


def test_catastrophic_patterns_run_in_linear_time() -> None:
    # (a+)+$ backtracks exponentially on "aaaa…b" with `re`; RE2 answers at once.
    condition = parse_condition("message~(a+)+$")
    assert condition.holds(record(message="a" * 50_000 + "b")) is False
    assert parse_filter({"regex": ["(x+x+)+y"]}).holds(record(message="x" * 50_000)) is False


def test_message_terms_levels_and_regex_combine_with_and() -> None:
    f = parse_filter(
        {
            "contains": ["get", "PAY"],
            "not_contains": ["timeout"],
            "levels": ["warn,error"],
            "regex": ["fail(ed)?"],
            "where": ["status>=500", "host"],
        }
    )
    assert f.holds(R)
    assert not f.holds({**R, "message": "GET /pay failed: timeout"})
    assert not f.holds({**R, "message": "GET /refund failed"})
    assert not f.holds({**R, "level": "fatal"})
    assert not f.holds({**R, "attributes": {"status": 200, "host": "a"}})
    assert RecordFilter(contains=("STRASSE",)).holds(record(message="straße"))  # casefold, not lower
    assert not RecordFilter()  # an empty filter is falsy: stores skip it


def test_limits() -> None:
    for name in ("where", "contains", "not_contains"):
        with pytest.raises(ApiError) as info:
            parse_filter({name: ["level"] * 21})
        assert info.value.detail["parameter"] == name
    with pytest.raises(ApiError):
        parse_filter({"regex": ["a", "b"]})
    with pytest.raises(ApiError):
        parse_filter({"levels": ["warn,loud"]})
    with pytest.raises(ApiError):
        parse_filter({"contains": ["x" * 1001]})


@given(st.integers(-(10**6), 10**6), st.integers(-(10**6), 10**6))
def test_numeric_comparisons_agree_with_python(value: int, bound: int) -> None:
    rec = record(n=value, s=str(value))
    for op, expected in (
        (">", value > bound),
        (">=", value >= bound),
        ("<", value < bound),
        ("<=", value <= bound),
    ):
        assert holds(f"n{op}{bound}", rec) is expected
        assert holds(f"s{op}{bound}", rec) is expected


@given(st.text(), st.text(min_size=1))
def test_contains_agrees_with_casefold(message: str, term: str) -> None:
    rec = record(message=message)
    assert RecordFilter(contains=(term,)).holds(rec) is (term.casefold() in message.casefold())
    assert RecordFilter(not_contains=(term,)).holds(rec) is (term.casefold() not in message.casefold())
