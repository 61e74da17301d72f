"""The fast paths of NDJSON and text parsing (orjson on every line at once, lines without a loop) give what
the line-by-line loops give: the same records, and for bad input the same error, message and line."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import body, codec, json_records
from logpipe_backend.core.body import parse_records
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.lines import nonblank_lines, plain_lines

LIMITS = [Limits(), Limits(records=3), Limits(record_bytes=12), Limits(json_depth=2)]


def _outcome(data: bytes, kind: str, limits: Limits) -> Any:
    try:
        return ("ok", parse_records(data, kind, limits))
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.message, exc.detail)


def _without_fast_paths(data: bytes, kind: str, limits: Limits) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(body, "plain_lines", lambda text, max_lines: None)
        mp.setattr(body, "_parse_fast", lambda data, kind, limits: None)
        return _outcome(data, kind, limits)


def _without_bytes_fast_path(data: bytes, kind: str, limits: Limits) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(body, "_parse_fast", lambda data, kind, limits: None)
        return _outcome(data, kind, limits)


def assert_same(text: str) -> None:
    assert_same_bytes(text.encode("utf-8", "surrogatepass"))


def assert_same_bytes(data: bytes) -> None:
    for kind in ("ndjson", "text"):
        for limits in LIMITS:
            fast = _outcome(data, kind, limits)
            slow = _without_fast_paths(data, kind, limits)
            assert fast == slow
            # == says 1 == 1.0: the types must agree too.
            assert json.dumps(fast, default=repr) == json.dumps(slow, default=repr)
            assert fast == _without_bytes_fast_path(data, kind, limits)
            with pytest.MonkeyPatch.context() as mp:  # the Lambda zip's codec: json only
                mp.setattr(codec, "orjson", None)
                stdlib = _outcome(data, kind, limits)
            assert json.dumps(stdlib, default=repr) == json.dumps(slow, default=repr)


BYTES_CORPUS = [
    b'\xef\xbb\xbf{"a":1}\n{"b":2}',  # a BOM
    b'{"a":1}\n\xef\xbb\xbf{"b":2}',  # a BOM that is not at the start
    b'{"a":"\xff"}\n{}',
    b'{"a":"\xc0\x80"}\n{}',  # overlong NUL
    b'{"a":"\xed\xa0\x80"}\n{}',  # an encoded surrogate
    b'{"a":"\xf4\x90\x80\x80"}\n{}',  # past U+10FFFF
    b'{"a":"\xe2\x82"}\n{}',  # truncated
    b'{"a":1}\n\xff',
    b'{"a":1}\xff\n{}',
    b'{"a":"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"}\n{}',  # 12 bytes of UTF-8, fewer characters
    b"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x\nab",  # a text line over 12 bytes, not characters
    b'{"a":"\\u00e9"}\n{"tenant_id":"t"}',
    b'{"tenant_id":"a","tenant_id":"b"}\n{"tenant_id":"a"}',
    b'{"t\\u0065nant_id":"a","tenant_id":"b"}\n{"tenant_id":"a"}',
    b'{"a":[[[1]]]}\n{"b":{"c":{"d":1}}}',
    b'{"a":"[[[[{{{{"}\n{}',
    b'{"a":1}\n{"s":"\\udc00"}',
    b'{"a":1}\r\n{"b":2}\r\n',
    b"{}\n\x1c\n{}",  # blank for str.isspace only
    b"{}\n\xc2\xa0\n{}",  # a no-break space alone on a line
    b"{}\n\x0b\n{}",
    b"{}\n" * 4,
    b"{}\n" * 3,  # at the records=3 limit: three newlines, the last one ending the body
    b"{}\n" * 3 + b"{}",  # three newlines, four records
    b"{}\n" * 3 + b"\n",  # four newlines, a blank line last
    b'{"a":[1]}\n{"b":[{"c":[2]}]}\n{}',  # brackets of both kinds around the json_depth=2 bound
    b'{"a":[[1]]}\n{}',
    b'{"n":1234567890123456789}\n{}',
    b'{"n":123456789012345678}\n{}',
]


@pytest.mark.parametrize("data", BYTES_CORPUS)
def test_bytes_corpus(data: bytes) -> None:
    assert_same_bytes(data)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=40)
    | st.lists(
        st.sampled_from(
            [
                b"{",
                b"}",
                b'"',
                b"\n",
                b"\r",
                b"\xc3",
                b"\xa9",
                b"\xff",
                b"\xed\xa0\x80",
                b"a",
                b":",
                b"1",
                b"[",
                b"]",
                b" ",
                b"\\u",
                b"tenant_id",
            ]
        ),
        max_size=20,
    ).map(b"".join)
)
def test_near_ndjson_bytes(data: bytes) -> None:
    assert_same_bytes(data)


CORPUS = [
    "",
    "\n",
    "\n\n\n",
    '{"a":1}',
    '{"a":1}\n',
    '{"a":1}\n{"b":[1,2.5,null,true]}\n',
    '{"a":1}\r\n{"b":2}\r\n',
    '{"a":1}\r',
    '{"a":1}\n\n{"b":2}',
    '{"a":1}\n \n{"b":2}',
    '{"a":1}\n\x0c\n{"b":2}',  # a blank line for Python, not whitespace for JSON
    '\n{"a":1}',
    '{"a":1},{"b":2}\n{"c":3}',  # two values on a line
    '{"a":[1\n2]}',  # one value over two lines
    '{"a":"x\ny"}',
    "1\n{}",
    "[]\n{}",
    '{"a":1} x',
    '{"a":NaN}\n{}',
    '{"n":123456789012345678901234567890}\n{}',
    '{"s":"\\ud800"}\n{}',
    '{"s":"\\ud83d\\ude00"}',
    '{"tenant_id":"a","tenant_id":"b"}\n{}',
    '{"a":{"b":{"c":{}}}}\n{}',
    "{}\n{}\n{}\n{}",
    '{"m":"' + "x" * 20 + '"}\n{}',
    "plain text\r\nline two\r\r\n\r\nlast\r",
    "a\rb\nc\r\n",
    "  leading and trailing  \n\tx\t",
    "\u2028\n\u00a0\nx",
    "é\ud800\n{}",
]


@pytest.mark.parametrize("text", CORPUS)
def test_corpus(text: str) -> None:
    assert_same(text)


@settings(max_examples=500, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from('{}[]",:0123456789.-e \t\r\n\x0c\\aNnulx\u00e9\u2028\ud800'), max_size=40
    )
)
def test_near_ndjson_texts(text: str) -> None:
    assert_same(text)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.text(max_size=4), JSON_VALUES, max_size=4).map(json.dumps)
        | st.sampled_from(["", " ", "\r", "x", "[1]"]),
        max_size=6,
    ),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_ndjson_bodies(lines: list[str], newline: str, final_newline: bool) -> None:
    assert_same(newline.join(lines) + (newline if final_newline else ""))


def test_plain_lines() -> None:
    assert plain_lines("a\nb\n", 2) == ["a", "b"] == [line for _, line in nonblank_lines("a\nb\n", 2)]
    assert plain_lines("", 2) == []
    assert plain_lines("a\nb\nc", 2) is None  # too many
    assert plain_lines("a\n\nb", 5) is None  # blank lines: the numbering has gaps
    assert plain_lines("a\n \t\nb", 5) is None
    assert plain_lines("\n" * 100, 5) is None  # never split into more lines than allowed


def test_fast_paths_are_taken() -> None:
    assert body._parse_text("a\r\nb\r\n", Limits()) == ["a", "b"]
    assert json_records.parse_ndjson_bytes(b'{"a":1}\n{"b":2}\n', Limits()) == [{"a": 1}, {"b": 2}]
    assert body._parse_fast(b"a\r\nb\r\n", "text", Limits()) == ["a", "b"]
    assert body._parse_fast(b"a\n\xc3\xa9", "text", Limits()) is None  # not ASCII: the full path
