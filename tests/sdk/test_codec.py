"""logpipe._codec: orjson where installed, json where not — and the same classification either way;
isal's gzip at the default level where installed, zlib's where not — and standard gzip either way.

``classify_line`` runs twice per case, with orjson and with the module forced onto its stdlib fallback,
and must give the same kind and bytes, or the same error.
"""

from __future__ import annotations

import gzip
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe import _batcher, _codec
from logpipe._batcher import classify_line

BIG = "123456789012345678901234567890"


def _outcome(line: str, fmt: str) -> Any:
    try:
        return ("ok", classify_line(line, fmt, "acme"))
    except Exception as exc:  # the same exception, whatever it is
        return ("error", type(exc).__name__, str(exc))


def _same_both_ways(line: str) -> None:
    for fmt in ("auto", "json"):
        fast = _outcome(line, fmt)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(_codec, "orjson", None)
            slow = _outcome(line, fmt)
        assert fast == slow, (line, fmt)


LINES = [
    '{"a":1}',
    '  {"a":1.5,"b":[1,{"c":null}]}  ',
    f'{{"big":{BIG}}}',
    f'{{"tenant_id":{BIG}}}',
    '{"tenant_id":"other"}',
    '{"tenant_id":"acme","m":1}',
    '{"n":NaN}',
    '{"n":Infinity}',
    '{"f":1e400}',
    '{"s":"\\ud800"}',
    '{"s":"\\udc00\\ud800"}',
    '{"s":"\\ud83d\\ude00"}',
    '{"s":"a\tb"}',
    '{"a":1,}',
    '{"a":1} x',
    "{",
    "{}",
    '{"x":' + "[" * 64 + "]" * 64 + "}",
    '{"x":' + "[" * 65 + "]" * 65 + "}",
    '{"x":' + "[" * 2000 + "]" * 2000 + "}",
    '{"é":"ü€😀"}',
    "plain text line",
    "2026-11-26T03:44:56.123Z INFO hello",
]


@pytest.mark.parametrize("line", LINES)
def test_same_classification_with_and_without_orjson(line: str) -> None:
    _same_both_ways(line)


def test_a_big_integer_is_read_exactly() -> None:
    assert _codec.loads(f'{{"big":{BIG}}}') == {"big": int(BIG)}


def test_a_line_with_a_lone_surrogate_character_goes_to_json() -> None:
    # str.encode refuses it, so the fallback judges it, as before orjson.
    assert _codec.loads('{"s":"\udc80"}') == {"s": "\udc80"}


class _SpyDecoder:
    """Stands in for ``_codec.JSON_DECODER``: records what reaches the parser of record."""

    def __init__(self, decode: Any = json.loads) -> None:
        self.calls: list[str] = []
        self._decode = decode

    def decode(self, text: str) -> Any:
        self.calls.append(text)
        return self._decode(text)


def test_without_orjson_every_text_goes_to_the_parser_of_record(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _SpyDecoder(lambda text: text)
    monkeypatch.setattr(_codec, "orjson", None)
    monkeypatch.setattr(_codec, "JSON_DECODER", spy)
    assert _codec.loads('{"a":1}') == '{"a":1}'
    assert spy.calls == ['{"a":1}']


@pytest.mark.skipif(_codec.orjson is None, reason="orjson is not installed")
def test_orjson_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = _SpyDecoder()
    monkeypatch.setattr(_codec, "JSON_DECODER", spy)
    assert _codec.loads('{"a":[1,2.5]}') == {"a": [1, 2.5]}
    assert spy.calls == []
    assert math.isnan(_codec.loads('{"a":NaN}')["a"])
    assert _codec.loads(f"[{BIG}]") == [int(BIG)]
    assert spy.calls == ['{"a":NaN}', f"[{BIG}]"]


def test_the_strict_decoder_refuses_nan() -> None:
    with pytest.raises(ValueError, match="NaN is not valid JSON"):
        _codec.loads('{"a":NaN}')


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), JSON_VALUES, max_size=5), st.booleans())
def test_random_objects_classify_alike(record: dict[str, Any], ascii_only: bool) -> None:
    _same_both_ways(json.dumps(record, ensure_ascii=ascii_only))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('{}[]",:0123456789.eE-+ \\tnulNaIfiyrsx\u00e9\ud800'), max_size=40))
def test_random_near_json_lines_classify_alike(line: str) -> None:
    _same_both_ways("{" + line)


# --- classify_lines: send_lines' fast path against classify_line, the path of record ---------------------


def _classified_outcomes(got: _batcher.Classified) -> list[Any]:
    """Each line's outcome, by kind (the order within a kind is the input's)."""
    return [
        *[("blank",)] * got.blank,
        *[("error", "InvalidRecordError", reason) for reason in got.refused],
        *[("ok", ("json", data)) for data in got.json],
        *[("ok", ("text", data)) for data in got.text],
        *([("error", type(got.error).__name__, str(got.error))] if got.error else []),
    ]


def _input_outcome(line: str, fmt: str, tenant: str | None) -> Any:
    try:
        [outcome] = _classified_outcomes(_batcher.classify_lines([line], fmt, tenant))
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    return outcome


def _reference_outcome(line: str, fmt: str, tenant: str | None) -> Any:
    if not line.strip():
        return ("blank",)
    try:
        return ("ok", classify_line(line.rstrip("\r\n"), fmt, tenant))
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))


def _input_same_as_classify_line(line: str) -> None:
    """classify_lines([line]) is classify_line(line.rstrip("\\r\\n")), with orjson and without."""
    for ending in ("", "\n", "\r\n", " \n"):
        for fmt in ("auto", "json", "text"):
            for tenant in ("acme", None):
                want = _reference_outcome(line + ending, fmt, tenant)
                assert _input_outcome(line + ending, fmt, tenant) == want, (line, ending, fmt, tenant)
                with pytest.MonkeyPatch.context() as mp:
                    mp.setattr(_codec, "orjson", None)
                    assert _input_outcome(line + ending, fmt, tenant) == want, (line, ending, fmt)


INPUT_LINES = [
    *LINES,
    "",
    "   ",
    "\t\x1c\u2028",
    "  plain with spaces  ",
    "text\rwith a carriage return inside",
    "two\nlines",
    "two\r\nlines",
    '\u2028{"a":1}',
    '{"a":1}\u2028',
    '{"tenant_id":null}',
    '{"tenant_id":1}',
    '{"tenant_id":["acme"]}',
    '{"tenant_id":"acme","tenant_id":"other"}',
    '{"tenant_id":"other","tenant_id":"acme"}',
    '{"m":"{ and [ in a string"}',
    '{"m":"' + "{" * 70 + '"}',
    '{"a":{"b":{"c":1}}}',
    '{"x":' + "{" * 63 + "}" * 63 + "}",
    '{"x":' + "{" * 64 + "}" * 64 + "}",
    '{"x":' + '{"y":' * 64 + "1" + "}" * 64 + "}",
    '{"s":"\\u00e9 \\\\ud800 is not an escape"}',
    '{"s":"\\uD800"}',
    '{"s":"\udc80"}',
    "{\udc80}",
    "text with a lone surrogate \udc80",
    '{"m":"' + "x" * (256 * 1024) + '"}',
    "x" * (256 * 1024 + 1),
    "é" * (128 * 1024 + 1),
    '{"a":1}\x00',
    '\ufeff{"a":1}',
]


@pytest.mark.parametrize("line", INPUT_LINES)
def test_classify_lines_is_classify_line(line: str) -> None:
    _input_same_as_classify_line(line)


@pytest.mark.parametrize("fmt", ["auto", "json", "text"])
@pytest.mark.parametrize("orjson_on", [True, False])
def test_classify_lines_of_many_lines_is_classify_line_of_each(fmt: str, orjson_on: bool) -> None:
    """One call for many lines: each kind's records in input order, every blank and refused line counted."""
    lines = [line + ending for line in INPUT_LINES for ending in ("\n", "\r\n", "") if line != UNENCODABLE]
    got = _many_same_as_classify_line(lines, fmt, orjson_on)
    assert got.refused and got.blank and (got.json or fmt == "text") and (got.text or fmt == "json")
    assert got.error is None
    got = _many_same_as_classify_line([*lines[:50], UNENCODABLE, *lines[50:]], fmt, orjson_on)
    assert (got.error is not None) == (fmt != "text")


UNENCODABLE = '{"s":"\udc80"}'  # json takes it, UTF-8 cannot encode it: classify_line raises


def _many_same_as_classify_line(lines: list[str], fmt: str, orjson_on: bool) -> _batcher.Classified:
    with pytest.MonkeyPatch.context() as mp:
        if not orjson_on:
            mp.setattr(_codec, "orjson", None)
        got = _batcher.classify_lines(lines, fmt, "acme")
    want = []
    for line in lines:  # up to the first line that raises anything but EncodeError, which stops it
        outcome = _reference_outcome(line, fmt, "acme")
        if outcome[0] == "error" and outcome[1] != "InvalidRecordError":
            assert (type(got.error).__name__, str(got.error)) == outcome[1:]
            break
        want.append(outcome)
    else:
        assert got.error is None
    assert got.json == [o[1][1] for o in want if o[0] == "ok" and o[1][0] == "json"]
    assert got.text == [o[1][1] for o in want if o[0] == "ok" and o[1][0] == "text"]
    assert got.refused == [o[2] for o in want if o[0] == "error"]
    assert got.blank == sum(o[0] == "blank" for o in want)
    return got


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet=st.sampled_from('{}[]",:019.e \\tnulxé\ud800\r\n'), max_size=20), max_size=30),
    st.sampled_from(["auto", "json", "text"]),
    st.booleans(),
)
def test_random_chunks_classify_lines_alike(lines: list[str], fmt: str, orjson_on: bool) -> None:
    _many_same_as_classify_line(
        ["{" + line if i % 2 else line for i, line in enumerate(lines)], fmt, orjson_on
    )


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), JSON_VALUES, max_size=5), st.booleans(), st.sampled_from(["", " ", "\t"]))
def test_random_objects_classify_lines_alike(record: dict[str, Any], ascii_only: bool, pad: str) -> None:
    _input_same_as_classify_line(pad + json.dumps(record, ensure_ascii=ascii_only) + pad)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from('{}[]",:0123456789.eE-+ \\tnulNaIfiyrsx\u00e9\ud800\r\n_'), max_size=40)
)
def test_random_near_json_lines_classify_lines_alike(line: str) -> None:
    _input_same_as_classify_line("{" + line)
    _input_same_as_classify_line(line)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_random_text_lines_classify_lines_alike(line: str) -> None:
    _input_same_as_classify_line(line)


SURROGATE_TOKENS = st.sampled_from(
    ['"', "\\ud83d", "\\ude00", "\\uD800", "\\udfff", "\\u0041", "a", ":", ",", "\\"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(SURROGATE_TOKENS, max_size=8))
def test_surrogate_escapes_classify_lines_alike(tokens: list[str]) -> None:
    _input_same_as_classify_line('{"s":"' + "".join(tokens) + '"}')


# --- gzip: isal at the default level, zlib otherwise -------------------------------------------------

GZ_LINES = b"".join(b'{"level":"info","message":"request %d served","ms":%d}\n' % (i, i) for i in range(2000))


def test_isal_is_used_at_the_default_level() -> None:
    from isal import igzip  # a product dependency (optional at runtime only)

    assert _codec.igzip is igzip
    body = _codec.gzip(GZ_LINES, 1)
    assert body == igzip.compress(GZ_LINES, compresslevel=1, mtime=0)
    assert body != gzip.compress(GZ_LINES, compresslevel=1, mtime=0)  # really isal's, not zlib's bytes
    assert gzip.decompress(body) == GZ_LINES


def test_other_levels_are_zlib_levels() -> None:
    assert _codec.gzip(GZ_LINES, 6) == gzip.compress(GZ_LINES, compresslevel=6, mtime=0)


def test_without_isal_the_standard_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_codec, "igzip", None)
    assert _codec.gzip(GZ_LINES, 1) == gzip.compress(GZ_LINES, compresslevel=1, mtime=0)


@given(st.binary(max_size=5000))
def test_gzip_round_trip_and_deterministic(data: bytes) -> None:
    body = _codec.gzip(data, 1)
    assert gzip.decompress(body) == data
    assert _codec.gzip(data, 1) == body  # mtime 0: the same bytes for the same batch
