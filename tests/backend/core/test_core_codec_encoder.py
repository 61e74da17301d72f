"""core.codec.compact_encoder: the reused C encoder gives byte for byte what json's own encoder gives."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core.codec import compact_encoder

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def _reference(allow_nan: bool) -> json.JSONEncoder:
    return json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), allow_nan=allow_nan, check_circular=False
    )


@settings(max_examples=500)
@given(VALUES)
def test_same_output_as_json(value: Any) -> None:
    for allow_nan in (True, False):
        assert compact_encoder(allow_nan=allow_nan)(value) == _reference(allow_nan).encode(value)


def test_a_record() -> None:
    record = {"message": 'é \u2028 \x01 "q" \\', "n": 10**30, "f": 1e16, "a": [None, True, {"k": 1.5}]}
    assert compact_encoder()(record) == json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def test_nan_only_when_allowed() -> None:
    assert compact_encoder(allow_nan=True)({"x": math.nan}) == '{"x":NaN}'
    with pytest.raises(ValueError):
        compact_encoder(allow_nan=False)({"x": math.inf})


def test_what_json_cannot_carry_raises_type_error() -> None:
    with pytest.raises(TypeError):
        compact_encoder()({"x": object()})
    with pytest.raises(TypeError):
        compact_encoder()({(1, 2): 1})
