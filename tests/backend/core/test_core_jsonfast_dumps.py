"""core.jsonfast.dumps_list: orjson's bytes of a list are json's, but for the spelling of floats with an
exponent (1e-7 for 1e-07, the same value) and NaN/±Infinity written as null; None for what orjson refuses."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import jsonfast

needs_orjson = pytest.mark.skipif(not jsonfast.available(), reason="orjson is not installed")

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**64) - 2, max_value=2**64 + 2)
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats()
    | st.text()
    | st.sampled_from(["\ud800", "a\udfff", "null", '\x00\x1f\x7f\u2028 "\\/', "\U0001f600"])
)
KEYS = st.text() | st.sampled_from(["null", "\ud800"]) | st.integers() | st.none() | st.booleans()
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(KEYS, children, max_size=4)
    ),
    max_leaves=20,
)


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(k) or _has_float(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    return False


def _finite(value: Any) -> Any:
    """``value`` as orjson writes it: NaN and ±Infinity as None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


@needs_orjson
@settings(max_examples=1000, deadline=None)
@given(st.lists(VALUES, max_size=4))
def test_json_bytes_but_for_float_spelling(values: list[Any]) -> None:
    data = jsonfast.dumps_list(values)
    try:
        expected = _json(_finite(values))
    except UnicodeEncodeError:  # a lone surrogate: orjson must have refused it
        assert data is None
        return
    if data is None:
        return  # refused: the caller takes its json path
    if not _has_float(values):
        assert data == expected
    # The same value and the same types (1 is not 1.0): json's spelling of both parses agrees.
    assert _json(json.loads(data)) == _json(json.loads(expected))


@needs_orjson
def test_what_it_refuses_and_what_it_writes() -> None:
    assert jsonfast.dumps_list([{"a": "é\n", "b": [1, 2.5, True, None]}]) == (
        '[{"a":"é\\n","b":[1,2.5,true,null]}]'.encode()
    )
    assert jsonfast.dumps_list([{"f": 1e-7, "n": math.nan}]) == b'[{"f":1e-7,"n":null}]'
    for refused in (
        {"big": 2**64},
        {1: "k"},
        {"s": "\ud800"},
        {"o": object()},
        {"s": type("S", (str,), {})()},
    ):
        assert jsonfast.dumps_list([refused]) is None
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    assert jsonfast.dumps_list([deep]) is None  # past orjson's nesting limit


def test_without_orjson_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonfast, "orjson", None)
    assert jsonfast.dumps_list([{"a": 1}]) is None
