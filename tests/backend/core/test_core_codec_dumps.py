"""core.codec.dumps_list: what json.dumps(ensure_ascii=False, separators=(",", ":"), allow_nan=False) gives,
with or without orjson, but for the spelling of floats with an exponent (1e-7 for 1e-07, the same value);
None where json refuses. The oracle is json itself."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logpipe_backend.core import codec

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
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(k) or _has_float(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_float(v) for v in value)
    return False


@pytest.fixture(params=["orjson", "json"])
def library(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "orjson" and codec.orjson is None:
        pytest.skip("orjson is not installed")
    if request.param == "json":
        monkeypatch.setattr(codec, "orjson", None)
    return str(request.param)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(VALUES, max_size=4))
def test_json_bytes_but_for_float_spelling(library: str, values: list[Any]) -> None:
    data = codec.dumps_list(values)
    try:
        expected = _json(values)
    except (ValueError, TypeError, RecursionError):  # NaN/Infinity, a lone surrogate, a key json refuses
        assert data is None
        return
    assert data is not None
    if not _has_float(values):
        assert data == expected
    # The same value and the same types (1 is not 1.0): json's spelling of both parses agrees.
    assert _json(json.loads(data)) == _json(json.loads(expected))


def test_what_it_writes_and_refuses(library: str) -> None:
    assert codec.dumps_list([{"a": "é\n", "b": [1, 2.5, True, None]}]) == (
        '[{"a":"é\\n","b":[1,2.5,true,null]}]'.encode()
    )
    # What orjson refuses, json writes (integers past 64 bits, keys that are not strings, nesting past 255).
    assert codec.dumps_list([{"big": 2**64, 1: "k"}]) == b'[{"big":18446744073709551616,"1":"k"}]'
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    assert codec.dumps_list([deep]) == _json([deep])
    for refused in ({"n": math.nan}, {"i": -math.inf}, {"s": "\ud800"}, {"o": object()}):
        assert codec.dumps_list([refused]) is None


def test_finite_vouched_skips_the_null_check() -> None:
    if codec.orjson is None:
        pytest.skip("orjson is not installed")
    # The caller vouched, wrongly: orjson's null for NaN goes through (only parsed input is vouched for).
    assert codec.dumps_list([{"n": math.nan}], finite=True) == b'[{"n":null}]'
    assert codec.dumps_list([{"n": None}], finite=True) == b'[{"n":null}]'
