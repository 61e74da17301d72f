"""The SQL the local store filters with is a superset of ``core.query.matches``: with or without it, every
query answers the same records (adapters/sqlite/sql_filters.py)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logpipe_backend.adapters.sqlite import sql_filters
from logpipe_backend.adapters.sqlite.sql_filters import SqlFilter, sql_filter
from logpipe_backend.adapters.sqlite.store import SqliteStore, is_plain
from logpipe_backend.core.filters import parse_filter
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.query import LogQuery, matches
from logpipe_backend.core.record import LEVELS, Record
from logpipe_backend.core.timefmt import format_ts

T0 = 1_764_000_000_000
# Messages that trip naive case-insensitive SQL: casefold expansions (ß → ss, the Kelvin sign → k),
# dotted capital I, escapes, LIKE's own wildcards.
WORDS = [
    "ss",
    "ß",
    "STRASSE",
    "straße",
    "K",
    "k",
    "İ",
    "i",
    "%",
    "_",
    "!",
    'a"b',
    "c\\d",
    "é",
    "Disk",
    "disk",
]
VALUES = st.one_of(
    st.integers(-600, 600),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["500", "db1", "DB1", "true", "", "5e2", "null"]),
    st.booleans(),
    st.none(),
    st.lists(st.integers(0, 3), max_size=2),
    st.fixed_dictionaries({"host": st.sampled_from(["db1", "db2"])}),
)
RECORDS = st.lists(
    st.tuples(
        st.lists(st.sampled_from(WORDS), max_size=4).map(" ".join),
        st.sampled_from(LEVELS),
        st.dictionaries(
            st.sampled_from(["status", "host", "db", "k.x", 'q"t', "o'k", "a[0]", "$"]), VALUES, max_size=3
        ),
        st.integers(0, 5),
    ),
    min_size=1,
    max_size=25,
)
WHERES = st.sampled_from(
    [
        "status>=500", "status<0", "status=500", "status=5e2", "status!=500", "status", "host=db1",
        "host", "db.host=db2", "level=WARN", "level=error", "message=ss", "status=true", "status=null",
        "status~^5", "k", "missing", "status<=-1.5", "host>1", "o'k=db1", "o'k", "a[0]>0", "$=500",
        "x') OR 1=1 --", "q\"t=5",
    ]
)  # fmt: skip
FILTERS = st.fixed_dictionaries(
    {},
    optional={
        "where": st.lists(WHERES, max_size=2),
        "contains": st.lists(st.sampled_from([*WORDS, "SS", "%a", "di_k"]), max_size=2),
        "not_contains": st.lists(st.sampled_from(WORDS), max_size=1),
        "levels": st.sampled_from(["warn,error", "info", "fatal"]).map(lambda v: [v]),
    },
)


def _records(specs: list[tuple[str, str, dict[str, Any], int]]) -> list[Record]:
    ids = new_log_ids(len(specs), T0)
    return [
        {
            "tenant_id": "acme",
            "log_id": lid,
            "timestamp": format_ts(T0 + 1000 * second),
            "received_at": format_ts(T0),
            "level": level,
            "message": message,
            "attributes": attributes,
            "source": "json",
            "redactions": 0,
        }
        for lid, (message, level, attributes, second) in zip(ids, specs, strict=True)
    ]


def _all(store: SqliteStore, query: LogQuery) -> list[str]:
    found: list[str] = []
    start = None
    for _ in range(100):
        page = store.query(LogQuery(**{**query.__dict__, "start_after": start}))
        found += [r["log_id"] for r in page.items]
        if page.last_log_id is None:
            return found
        start = page.last_log_id
    raise AssertionError("too many pages")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RECORDS, FILTERS, st.sampled_from(["asc", "desc"]), st.sampled_from([None, "warn"]), st.booleans())
def test_sql_filters_never_change_an_answer(
    specs: list[tuple[str, str, dict[str, Any], int]],
    params: dict[str, list[str]],
    order: str,
    min_level: str | None,
    ensure_ascii: bool,
) -> None:
    records = _records(specs)
    query = LogQuery(
        tenant_id="acme",
        since=format_ts(T0 + 1000) if len(records) % 2 else None,
        min_level=min_level,
        filter=parse_filter(params),
        order=order,
        limit=3,
    )
    expected = [r["log_id"] for r in records if matches(query, r)]
    if order == "desc":
        expected.reverse()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "logs.db")
        # Either JSON form a writer may use: raw UTF-8, or ASCII with \u escapes.
        docs = [json.dumps(r, ensure_ascii=ensure_ascii) for r in records]
        store.put_records(records, docs)
        assert _all(store, query) == expected
        store.close()


def test_what_sql_decides() -> None:
    q = LogQuery(
        tenant_id="acme",
        min_level="warn",
        filter=parse_filter({"where": ["status>=500"], "contains": ["disk"]}),
    )
    where = sql_filter(q)
    assert "json_extract(doc, '$.level') IN (?, ?, ?)" in where.sql and {"warn", "error", "fatal"} <= set(
        where.args
    )
    assert (
        "json_extract(doc, ?) >= ?" in where.sql
        and '$."attributes"."status"' in where.args
        and 500.0 in where.args
    )
    assert "plain IS NOT 1 OR doc LIKE ? ESCAPE '!'" in where.sql and "%disk%" in where.args
    # What SQL cannot decide exactly adds nothing: Python alone judges those rows.
    for params in (
        {"where": ["status!=5"]},
        {"not_contains": ["x"]},
        {"contains": ["é"]},
        {"contains": ['a"b']},
    ):
        assert sql_filter(LogQuery(tenant_id="acme", filter=parse_filter(params))) == SqlFilter()


@pytest.mark.parametrize(
    ("doc", "plain"),
    [('{"m":"disk"}', 1), ('{"m":"straße"}', 0), ('{"m":"\\u00df"}', 0), ('{"m":"C:\\\\u"}', 0)],
)
def test_plain_flag(doc: str, plain: int) -> None:
    assert is_plain(doc) == plain


def test_like_patterns_escape_wildcards() -> None:
    assert sql_filters._like_pattern("50%_off!") == "%50!%!_off!!%"
    assert sql_filters._like_pattern("a/b") is None and sql_filters._like_pattern("") is None


@pytest.mark.parametrize("name", ["o'k", "x') OR (1) --", "a[0]", "$", "é ü"])
def test_any_field_name_is_data_never_sql(tmp_path: Path, name: str) -> None:
    """A field name is the caller's input: it reaches SQLite as a bound parameter, so a quote cannot end the
    SQL text and widen (or break) the query."""
    store = SqliteStore(tmp_path / "logs.db")
    records = _records([("m", "info", {name: "db1"}, 0), ("m", "info", {"other": "db1"}, 0)])
    store.put_records(records)
    for where, expected in ((f"{name}=db1", 1), (name, 1), (f"{name}>1", 0), (f"{name}=db2", 0)):
        query = LogQuery(tenant_id="acme", filter=parse_filter({"where": [where]}), limit=10)
        assert len(store.query(query).items) == expected, where


def test_an_equality_with_a_number_past_2_53_is_left_to_python(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "logs.db")
    store.put_records(_records([("m", "info", {"n": 1e20}, 0), ("m", "info", {"n": 5}, 0)]))
    query = LogQuery(tenant_id="acme", filter=parse_filter({"where": ["n=1e20"]}), limit=10)
    assert [r["attributes"]["n"] for r in store.query(query).items] == [1e20]
