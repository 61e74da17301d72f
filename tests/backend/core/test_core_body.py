"""core.body: media types, Content-Encoding with hard caps, and parsing hostile bodies."""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import body as body_module
from logpipe_backend.core.body import decode_body, media_type, parse_records
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.limits import KIB, MIB, Limits

LIMITS = Limits()


@pytest.fixture(params=["installed", "zlib"])
def inflating(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each gzip test runs with the inflater in use (isal when installed) and with the stdlib's zlib."""
    if request.param == "zlib":
        monkeypatch.setattr(body_module, "_INFLATING", zlib)


def _error(fn: Any, *args: Any) -> ApiError:
    with pytest.raises(ApiError) as info:
        fn(*args)
    return info.value


# --- media_type ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("Application/JSON;charset=UTF-8", "json"),
        ('application/json; charset="utf-8"', "json"),
        ("application/x-ndjson", "ndjson"),
        ("application/ndjson", "ndjson"),
        ("application/jsonl", "ndjson"),
        ("text/plain", "text"),
        ("text/plain; charset=us-ascii", "text"),
        (" text/plain ; format=flowed", "text"),
    ],
)
def test_media_type(content_type: str, kind: str) -> None:
    assert media_type(content_type) == kind


@pytest.mark.parametrize(
    "content_type",
    [
        "text/html",
        "application/xml",
        "json",
        "text/plain; charset=latin-1",
        "application/json; charset=utf-16",
        "multipart/form-data; boundary=x",
    ],
)
def test_media_type_unsupported(content_type: str | None) -> None:
    err = _error(media_type, content_type)
    assert (err.status, err.code) == (415, "unsupported_media_type")


# --- decode_body -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", [None, "", "identity", "IDENTITY", " identity "])
def test_identity_passthrough(encoding: str | None) -> None:
    assert decode_body(b"abc", encoding, LIMITS) == b"abc"


def test_body_as_sent_over_limit() -> None:
    limits = Limits(body_bytes=10)
    assert decode_body(b"x" * 10, None, limits) == b"x" * 10
    err = _error(decode_body, b"x" * 11, None, limits)
    assert (err.status, err.detail["limit"], err.detail["max"]) == (413, "body_bytes", 10)
    err = _error(decode_body, gzip.compress(b"x" * 1000), "gzip", limits)
    assert err.detail["limit"] == "body_bytes"


@pytest.mark.usefixtures("inflating")
@pytest.mark.parametrize("encoding", ["gzip", "GZIP", "x-gzip", "gzip, identity"])
def test_gzip(encoding: str) -> None:
    assert decode_body(gzip.compress(b'{"a":1}\n'), encoding, LIMITS) == b'{"a":1}\n'


@pytest.mark.usefixtures("inflating")
def test_concatenated_gzip_members() -> None:
    body = gzip.compress(b"line 1\n") + gzip.compress(b"line 2\n") + gzip.compress(b"")
    assert decode_body(body, "gzip", LIMITS) == b"line 1\nline 2\n"


@pytest.mark.usefixtures("inflating")
def test_gzip_trailing_zero_padding_is_tolerated() -> None:
    assert decode_body(gzip.compress(b"x") + b"\0" * 16, "gzip", LIMITS) == b"x"


@pytest.mark.usefixtures("inflating")
def test_gzip_empty_body() -> None:
    assert decode_body(b"", "gzip", LIMITS) == b""


@pytest.mark.usefixtures("inflating")
@pytest.mark.parametrize(
    "body",
    [
        b"not gzip at all",
        gzip.compress(b"hello world" * 100)[:-12],  # truncated
        gzip.compress(b"hello")[:10],
        zlib.compress(b"hello"),  # zlib, not gzip
        gzip.compress(b"a") + b"garbage",
    ],
)
def test_corrupt_gzip(body: bytes) -> None:
    err = _error(decode_body, body, "gzip", LIMITS)
    assert (err.status, err.code) == (400, "invalid_gzip")


@pytest.mark.usefixtures("inflating")
def test_gzip_bad_crc() -> None:
    body = bytearray(gzip.compress(b"hello world"))
    body[-8] ^= 0xFF
    assert _error(decode_body, bytes(body), "gzip", LIMITS).code == "invalid_gzip"


@pytest.mark.parametrize("encoding", ["br", "deflate", "compress", "zstd", "gzip, br", "gzip, gzip"])
def test_unsupported_encoding(encoding: str) -> None:
    err = _error(decode_body, b"x", encoding, LIMITS)
    assert (err.status, err.code) == (415, "unsupported_encoding")


@pytest.mark.usefixtures("inflating")
def test_decoded_limit_exact() -> None:
    limits = Limits(decoded_bytes=100_000)
    assert len(decode_body(gzip.compress(b"a" * 100_000), "gzip", limits)) == 100_000
    err = _error(decode_body, gzip.compress(b"a" * 100_001), "gzip", limits)
    assert (err.status, err.detail["limit"]) == (413, "decoded_bytes")


@pytest.mark.usefixtures("inflating")
def test_large_highly_compressed_body_decodes_fully() -> None:
    for data in [b"\0" * (10 * MIB), bytes(range(256)) * (4 * 1024), b"ab" * (3 * MIB) + b"end"]:
        assert decode_body(gzip.compress(data, compresslevel=9), "gzip", LIMITS) == data


@pytest.mark.usefixtures("inflating")
def test_decoded_limit_applies_across_members() -> None:
    limits = Limits(decoded_bytes=100)
    body = gzip.compress(b"a" * 60) + gzip.compress(b"b" * 60)
    assert _error(decode_body, body, "gzip", limits).detail["limit"] == "decoded_bytes"


def test_identity_body_over_decoded_limit() -> None:
    limits = Limits(body_bytes=1000, decoded_bytes=10)
    assert _error(decode_body, b"x" * 11, None, limits).detail["limit"] == "decoded_bytes"


@pytest.mark.usefixtures("inflating")
def test_gzip_bomb_is_stopped_with_bounded_memory() -> None:
    bomb = gzip.compress(b"\0" * (50 * MIB), compresslevel=9)
    assert len(bomb) < 100 * KIB
    limits = Limits(decoded_bytes=2 * MIB)
    tracemalloc.start()
    try:
        started = time.perf_counter()
        err = _error(decode_body, bomb, "gzip", limits)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (err.status, err.detail["limit"]) == (413, "decoded_bytes")
    # limit + one 64 KiB chunk, plus bytearray growth slack; far below the 50 MiB the bomb holds.
    assert peak < limits.decoded_bytes * 1.3 + 256 * KIB, peak
    assert elapsed < 5


@pytest.mark.usefixtures("inflating")
def test_gzip_bomb_with_default_limit() -> None:
    bomb = gzip.compress(b"\0" * (50 * MIB), compresslevel=9)
    err = _error(decode_body, bomb, "gzip", LIMITS)
    assert err.detail == {"limit": "decoded_bytes", "max": 16 * MIB}


# --- parse_records: json -------------------------------------------------------------------------------


def test_json_single_object() -> None:
    body = b'{"tenant_id":"acme","log_id":"123","text":"hello"}'
    assert parse_records(body, "json", LIMITS) == [{"tenant_id": "acme", "log_id": "123", "text": "hello"}]


def test_json_array_of_objects() -> None:
    assert parse_records(b' [{"a":1}, {"b":[1,{"c":null}]}]\n', "json", LIMITS) == [
        {"a": 1},
        {"b": [1, {"c": None}]},
    ]


def test_json_utf8_bom_and_unicode() -> None:
    body = "\ufeff" + json.dumps({"m": "日本語 😀"}, ensure_ascii=False)
    assert parse_records(body.encode(), "json", LIMITS) == [{"m": "日本語 😀"}]


def test_json_escaped_surrogate_pair_is_fine() -> None:
    assert parse_records(b'{"m":"\\ud83d\\ude00"}', "json", LIMITS) == [{"m": "😀"}]


@pytest.mark.parametrize("body", [b"", b"  \n\t ", b"[]", b" [ ] "])
def test_json_empty(body: bytes) -> None:
    err = _error(parse_records, body, "json", LIMITS)
    assert (err.status, err.code) == (400, "empty_body")


@pytest.mark.parametrize(
    ("body", "code", "where"),
    [
        (b"[1]", "invalid_record", {"index": 0}),
        (b'[{"a":1}, true]', "invalid_record", {"index": 1}),
        (b'[{"a":1}, [{}]]', "invalid_record", {"index": 1}),
        (b"42", "invalid_record", {"index": 0}),
        (b"null", "invalid_record", {"index": 0}),
        (b"{", "invalid_json", {"line": 1, "column": 2}),
        (b'{"a":1}\n{"b":2}', "invalid_json", {"line": 2, "column": 1}),
        (b'{"a":1,}', "invalid_json", {"line": 1, "column": 8}),
        (b"{'a':1}", "invalid_json", {"line": 1, "column": 2}),
    ],
)
def test_json_errors(body: bytes, code: str, where: dict[str, int]) -> None:
    err = _error(parse_records, body, "json", LIMITS)
    assert (err.status, err.code) == (400, code)
    assert err.detail == where


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'[{"a":1e999}]',
        b'{"a":-1e400}',
        b'{"a":[1.5e309]}',
    ],
)
def test_json_non_finite_numbers(body: bytes) -> None:
    err = _error(parse_records, body, "json", LIMITS)
    assert (err.status, err.code) == (400, "invalid_json")


def test_json_huge_integer() -> None:
    err = _error(parse_records, b'{"a":' + b"7" * 5000 + b"}", "json", LIMITS)
    assert (err.status, err.code) == (400, "invalid_json")


def test_json_big_but_allowed_numbers() -> None:
    [record] = parse_records(b'{"a":' + b"7" * 4000 + b',"b":1e308,"c":1e-400}', "json", LIMITS)
    assert isinstance(record, dict)
    assert record["a"] == int("7" * 4000)
    assert record["c"] == 0.0


@pytest.mark.parametrize("escape", [b"\\ud800", b"\\uDFFF", b"x\\udc00y", b"\\ude00\\ud83d"])
def test_json_lone_surrogate(escape: bytes) -> None:
    err = _error(parse_records, b'[{"ok":1},{"m":"' + escape + b'"}]', "json", LIMITS)
    assert (err.code, err.detail) == ("invalid_json", {"index": 1})


def test_json_lone_surrogate_in_key() -> None:
    assert _error(parse_records, b'{"\\ud800":1}', "json", LIMITS).code == "invalid_json"


def test_json_escaped_backslash_before_u_is_not_a_surrogate() -> None:
    assert parse_records(b'{"m":"\\\\ud800"}', "json", LIMITS) == [{"m": "\\ud800"}]


def test_json_invalid_utf8_names_the_record() -> None:
    err = _error(parse_records, b'[{"a":"ok"},\n{"b":"\xff"}]', "json", LIMITS)
    assert (err.status, err.code) == (400, "invalid_utf8")
    assert err.detail == {"line": 2, "offset": 19, "index": 1}
    assert _error(parse_records, b'{"k\xc3":1}', "json", LIMITS).detail["index"] == 0


def test_json_invalid_utf8_outside_strings() -> None:
    err = _error(parse_records, b'[{"a":1}, \xff]', "json", LIMITS)
    assert err.detail == {"line": 1, "offset": 10}


@pytest.mark.parametrize("body", [b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b'"\x80"'])
def test_json_invalid_utf8_forms(body: bytes) -> None:
    # encoded surrogates, overlong forms and 5-byte sequences are all invalid UTF-8
    assert _error(parse_records, body, "json", LIMITS).code == "invalid_utf8"


def test_json_depth_limit() -> None:
    limits = Limits(json_depth=5)
    ok = b'{"a":{"b":{"c":{"d":[1]}}}}'  # depth 5
    assert parse_records(ok, "json", limits)
    err = _error(parse_records, b'{"a":{"b":{"c":{"d":[[1]]}}}}', "json", limits)
    assert (err.status, err.detail["limit"], err.detail["max"]) == (413, "json_depth", 5)


def test_json_depth_counts_per_record_not_the_array() -> None:
    limits = Limits(json_depth=2)
    assert parse_records(b'[{"a":{}},{"b":[]}]', "json", limits)
    err = _error(parse_records, b'[{"a":{}},{"b":[[]]}]', "json", limits)
    assert err.detail["index"] == 1


def test_json_brackets_in_strings_do_not_count() -> None:
    limits = Limits(json_depth=2)
    assert parse_records(json.dumps([{"m": "[[[[[[{{{{{{" * 50}] * 3).encode(), "json", limits)


def test_json_default_depth_64() -> None:
    def nested(depth: int) -> bytes:
        return b'{"a":' * (depth - 1) + b"{}" + b"}" * (depth - 1)

    assert parse_records(nested(64), "json", LIMITS)
    assert _error(parse_records, nested(65), "json", LIMITS).detail["limit"] == "json_depth"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 100_000,
        b'[{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}]",
        b'{"a":' + b"[" * 900 + b"]" * 900 + b"}",  # under the C parser's recursion guard, over our limit
    ],
)
def test_json_deep_nesting_is_fast_413(body: bytes) -> None:
    started = time.perf_counter()
    err = _error(parse_records, body, "json", LIMITS)
    assert (err.status, err.detail["limit"]) == (413, "json_depth")
    assert time.perf_counter() - started < 1.0


def test_json_records_limit() -> None:
    limits = Limits(records=3)
    assert len(parse_records(b"[{},{},{}]", "json", limits)) == 3
    err = _error(parse_records, b"[{},{},{},{}]", "json", limits)
    assert (err.status, err.detail["limit"]) == (413, "records")


def test_json_10001_records() -> None:
    body = json.dumps([{"i": i} for i in range(10_001)]).encode()
    assert _error(parse_records, body, "json", LIMITS).detail["limit"] == "records"
    assert (
        len(parse_records(json.dumps([{"i": i} for i in range(10_000)]).encode(), "json", LIMITS)) == 10_000
    )


# --- parse_records: ndjson -----------------------------------------------------------------------------


def test_ndjson_lines() -> None:
    body = b'{"a":1}\n\n  \r\n{"b":2}\r\n{"c":3}'
    assert parse_records(body, "ndjson", LIMITS) == [{"a": 1}, {"b": 2}, {"c": 3}]


@pytest.mark.parametrize(
    ("body", "code", "line"),
    [
        (b'{"a":1}\n\n[1]\n', "invalid_record", 3),
        (b'{"a":1}\nnull', "invalid_record", 2),
        (b'{"a":1}\n{"b":', "invalid_json", 2),
        (b'{"a":1} {"b":2}', "invalid_json", 1),
        (b'\n\n{"a":NaN}', "invalid_json", 3),
        (b'{"a":1}\n{"a":-Infinity}', "invalid_json", 2),
        (b'{"a":1e999}', "invalid_json", 1),
        (b'{}\n{"a":"\\ud800"}', "invalid_json", 2),
        (b'{}\n{}\n{"a":"\xc3"}', "invalid_utf8", 3),
    ],
)
def test_ndjson_errors_name_the_line(body: bytes, code: str, line: int) -> None:
    err = _error(parse_records, body, "ndjson", LIMITS)
    assert (err.status, err.code, err.detail["line"]) == (400, code, line)


def test_ndjson_huge_integer() -> None:
    err = _error(parse_records, b'{}\n{"a":' + b"1" * 5000 + b"}", "ndjson", LIMITS)
    assert (err.code, err.detail["line"]) == ("invalid_json", 2)


def test_ndjson_empty() -> None:
    assert _error(parse_records, b"\n \n\r\n", "ndjson", LIMITS).code == "empty_body"
    assert _error(parse_records, b"", "ndjson", LIMITS).code == "empty_body"


def test_ndjson_depth_names_the_line() -> None:
    limits = Limits(json_depth=2)
    err = _error(parse_records, b'{"a":{}}\n\n{"a":{"b":{}}}', "ndjson", limits)
    assert (err.status, err.detail["limit"], err.detail["line"]) == (413, "json_depth", 3)


def test_ndjson_deep_nesting_is_fast_413() -> None:
    started = time.perf_counter()
    err = _error(parse_records, b'{"a":1}\n' + b"[" * 100_000, "ndjson", LIMITS)
    assert (err.detail["limit"], err.detail["line"]) == ("json_depth", 2)
    assert time.perf_counter() - started < 1.0


def test_ndjson_records_limit() -> None:
    body = b"\n".join(b'{"i":%d}' % i for i in range(10_001))
    assert _error(parse_records, body, "ndjson", LIMITS).detail["limit"] == "records"


def test_ndjson_line_over_record_bytes() -> None:
    limits = Limits(record_bytes=20)
    ok = b'{"m":"' + b"x" * 12 + b'"}'  # 20 bytes
    assert parse_records(ok + b"\r\n" + ok, "ndjson", limits)
    err = _error(parse_records, ok + b"\n" + b'{"m":"' + b"x" * 13 + b'"}', "ndjson", limits)
    assert (err.status, err.detail["limit"], err.detail["line"]) == (413, "record_bytes", 2)


# --- parse_records: text -------------------------------------------------------------------------------


def test_text_lines() -> None:
    body = b"first\r\n\n   \nsecond line  \n\tindented\nlast"
    assert parse_records(body, "text", LIMITS) == ["first", "second line  ", "\tindented", "last"]


def test_text_keeps_other_characters() -> None:
    body = "a\x00b\x1b[31mred\u2028c\x0bd".encode()
    assert parse_records(body, "text", LIMITS) == ["a\x00b\x1b[31mred\u2028c\x0bd"]


def test_text_bom_is_dropped() -> None:
    assert parse_records("\ufeffhello".encode(), "text", LIMITS) == ["hello"]


def test_text_invalid_utf8_names_the_line() -> None:
    err = _error(parse_records, b"ok\nok\nbad \xff here\n", "text", LIMITS)
    assert (err.status, err.code, err.detail["line"]) == (400, "invalid_utf8", 3)


def test_text_empty() -> None:
    assert _error(parse_records, b"", "text", LIMITS).code == "empty_body"
    assert _error(parse_records, b" \n\t\r\n", "text", LIMITS).code == "empty_body"


def test_text_records_limit() -> None:
    limits = Limits(records=2)
    assert parse_records(b"a\nb\n\n", "text", limits) == ["a", "b"]
    assert _error(parse_records, b"a\nb\nc", "text", limits).detail["limit"] == "records"


def test_text_line_over_record_bytes() -> None:
    limits = Limits(record_bytes=5)
    assert parse_records(b"12345\r\n12345", "text", limits) == ["12345", "12345"]
    err = _error(parse_records, b"12345\n123456\n", "text", limits)
    assert (err.status, err.detail["limit"], err.detail["line"]) == (413, "record_bytes", 2)


def test_text_line_bytes_are_utf8_bytes() -> None:
    limits = Limits(record_bytes=5)
    assert _error(parse_records, "ééé".encode(), "text", limits).detail["line"] == 1  # 6 bytes


def test_unknown_kind() -> None:
    with pytest.raises(ValueError):
        parse_records(b"{}", "xml", LIMITS)


# --- properties ------------------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)
RECORDS = st.lists(st.dictionaries(st.text(), JSON_VALUES, max_size=5), min_size=1, max_size=5)


@given(RECORDS)
def test_json_round_trip(records: list[dict[str, Any]]) -> None:
    assert parse_records(json.dumps(records).encode(), "json", LIMITS) == records
    body = json.dumps(records, ensure_ascii=False).encode()
    assert parse_records(body, "json", LIMITS) == records


@given(RECORDS)
def test_ndjson_round_trip(records: list[dict[str, Any]]) -> None:
    body = "\n".join(json.dumps(r, ensure_ascii=False) for r in records).encode()
    assert parse_records(body, "ndjson", LIMITS) == records


@settings(max_examples=300)
@given(st.binary(max_size=300), st.sampled_from(["json", "ndjson", "text"]))
def test_arbitrary_bytes_only_raise_api_errors(data: bytes, kind: str) -> None:
    try:
        records = parse_records(data, kind, LIMITS)
    except ApiError as err:
        assert err.status in (400, 413)
    else:
        assert records


def test_text_10001_records() -> None:
    body = b"\n".join(b"line %d" % i for i in range(10_001))
    assert _error(parse_records, body, "text", LIMITS).detail["limit"] == "records"


def test_isal_is_the_inflater_when_installed() -> None:
    from isal import isal_zlib  # a product dependency (optional on Lambda only)

    assert body_module._INFLATING is isal_zlib
