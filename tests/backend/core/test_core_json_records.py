"""core.json_records: strict JSON/NDJSON parsing, including the item-by-item path for huge arrays."""

from __future__ import annotations

import json
import time
import tracemalloc
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_backend.core import json_records
from logpipe_backend.core.body import parse_records
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.json_records import parse_json, parse_ndjson, record_with_invalid_utf8
from logpipe_backend.core.limits import Limits

LIMITS = Limits()

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)
RECORDS = st.lists(st.dictionaries(st.text(), JSON_VALUES, max_size=5), min_size=1, max_size=5)


def _error(fn: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args)
    return info.value


def test_parse_json_and_ndjson_directly() -> None:
    assert parse_json('{"a":1}', LIMITS) == [{"a": 1}]
    assert parse_json(' [ {"a":1} , {} ] ', LIMITS) == [{"a": 1}, {}]
    assert parse_ndjson('{"a":1}\n\n{}', LIMITS) == [{"a": 1}, {}]
    assert parse_ndjson("", LIMITS) == []  # body.parse_records turns "no records" into empty_body


def test_record_with_invalid_utf8() -> None:
    assert record_with_invalid_utf8(b'[{"a":1},{"b":"\xff"}]', LIMITS) == 1
    assert record_with_invalid_utf8(b'{"b":"\xff"}', LIMITS) == 0
    assert record_with_invalid_utf8(b"[\xff]", LIMITS) is None
    assert record_with_invalid_utf8(b"not json \xff", LIMITS) is None


# --- the item-by-item path for bodies that could hold too many values ------------------------------------


@pytest.fixture
def streaming(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every JSON array body takes the item-by-item path (a budget of 0 values per record)."""
    monkeypatch.setattr(json_records, "_VALUES_PER_RECORD", 0)


def _stream(body: bytes, limits: Limits = LIMITS) -> list[Any]:
    return parse_json(body.decode(), limits)


@pytest.mark.usefixtures("streaming")
def test_streaming_path_parses_like_json_loads() -> None:
    records = [{"a": [1, {"b": "x, y: [z]"}]}, {"c": None}, {"d": "\u00e9\\"}]
    for separators in [(",", ":"), (", ", ": ")]:
        assert _stream(json.dumps(records, separators=separators).encode()) == records
        assert _stream(json.dumps(records, indent=2).encode()) == records
        assert _stream(("\n " + json.dumps(records) + " \n").encode()) == records
    assert _stream(b"[{}\n ,\t{}\r\n]") == [{}, {}]


def test_streaming_path_is_taken_for_many_values() -> None:
    limits = Limits(records=3)  # a budget of 192 values
    assert parse_json("[" + ",".join(["{}"] * 3) + "]", limits) == [{}, {}, {}]
    err = _error(parse_json, "[" + ",".join(["{}"] * 200) + "]", limits)
    assert (err.status, err.detail["limit"]) == (413, "records")


@pytest.mark.usefixtures("streaming")
@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        (b"[ ]", "empty_body", {}),
        (b"[{}, 1]", "invalid_record", {"index": 1}),
        (b"[{}, true, ", "invalid_record", {"index": 1}),
        (b"[{}]x", "invalid_json", {"line": 1, "column": 5}),
        (b"[{},]", "invalid_json", {"line": 1, "column": 5}),
        (b"[{} {}]", "invalid_json", {"line": 1, "column": 5}),
        (b"[{}", "invalid_json", {"line": 1, "column": 4}),
        (b"[", "invalid_json", {"line": 1, "column": 2}),
        (b'[{},\n{"a":}]', "invalid_json", {"line": 2, "column": 6}),
        (b'[{"a":NaN}]', "invalid_json", {}),
        (b'[{"a":1e999}]', "invalid_json", {}),
        (b'[{"a":' + b"9" * 5000 + b"}]", "invalid_json", {}),
        (b'[{}, {"a":"\\ud800"}]', "invalid_json", {"index": 1}),
    ],
)
def test_streaming_path_errors(body: bytes, code: str, detail: dict[str, int]) -> None:
    err = _error(_stream, body)
    assert (err.code, err.detail) == (code, detail)


@pytest.mark.usefixtures("streaming")
def test_streaming_path_limits() -> None:
    err = _error(_stream, b"[{}, {}, " + b'{"a":' * 100_000)
    assert (err.status, err.detail["limit"], err.detail["index"]) == (413, "json_depth", 2)
    err = _error(_stream, b'[{"a":{}}, {"a":{"b":{}}}]', Limits(json_depth=2))
    assert err.detail == {"limit": "json_depth", "max": 2, "index": 1}
    assert _error(_stream, b"[{},{},{},{}]", Limits(records=3)).detail["limit"] == "records"


@given(RECORDS)
def test_streaming_round_trip(records: list[dict[str, Any]]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_records, "_VALUES_PER_RECORD", 0)
        assert _stream(json.dumps(records).encode()) == records


def test_millions_of_tiny_records_stop_early_with_little_memory() -> None:
    bomb = b"[" + b",".join([b"{}"] * 5_000_000) + b"]"  # 15 MB
    assert len(bomb) < LIMITS.decoded_bytes
    tracemalloc.start()
    try:
        started = time.perf_counter()
        err = _error(parse_json, bomb.decode(), LIMITS)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (err.status, err.detail["limit"]) == (413, "records")
    assert peak < 3 * len(bomb), peak  # the text (as bytes and as str), not 5 million dicts
    assert elapsed < 2.0


@pytest.mark.parametrize("where", [0, 500, 999])
def test_one_record_too_deep_among_many_flat_ones_is_found(where: int) -> None:
    # The bracket pre-check allows records - 1 + limit brackets: a body of many flat records plus one
    # record just over the limit has exactly one bracket more, and must still be caught.
    limit = LIMITS.json_depth
    deep = '{"x":' + "[" * limit + "]" * limit + "}"  # depth limit + 1
    just = '{"x":' + "[" * (limit - 1) + "]" * (limit - 1) + "}"  # depth limit
    lines = ['{"a":1}'] * 1000
    assert parse_ndjson("\n".join([*lines[:where], just, *lines[where:]]), LIMITS)
    err = _error(parse_ndjson, "\n".join([*lines[:where], deep, *lines[where:]]), LIMITS)
    assert (err.status, err.code, err.detail["line"]) == (413, "payload_too_large", where + 1)
    err = _error(parse_json, "[" + ",".join([*lines[:where], deep, *lines[where:]]) + "]", LIMITS)
    assert (err.status, err.detail["index"]) == (413, where)


# --- JSON strings: text records (issue 14: what `logpipe send --multiline` sends for a joined record) -------


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'["a\\n\\tat b", {"m": 1}]', "json"),
        (b'"a\\n\\tat b"\n{"m": 1}', "ndjson"),
    ],
)
def test_a_json_string_is_a_text_record(body: bytes, kind: str) -> None:
    assert parse_records(body, kind, LIMITS) == ["a\n\tat b", {"m": 1}]


def test_a_string_record_mentioning_tenant_id_hides_no_duplicate_key() -> None:
    # The duplicate-key check counts keys carried by objects; a string holding the words must not count.
    body = b'"tenant_id"\n{"tenant_id": "acme", "tenant_id": "evil"}'
    records = parse_records(body, "ndjson", LIMITS)
    assert records[0] == "tenant_id"
    assert records[1] == {"tenant_id": ["acme", "evil"]}
