"""Bodies without a media type (issue 14 point 4): syslog-ng and other shippers as they come."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_backend.core.body import JSON, NDJSON, SNIFF, TEXT, media_type, parse_records, sniffed_kind
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.limits import Limits

LIMITS = Limits()


@pytest.mark.parametrize(
    "content_type",
    [None, "", "  ", "application/x-www-form-urlencoded", "Application/X-WWW-Form-Urlencoded; a=b"],
)
def test_no_media_type_is_sniffed(content_type: str | None) -> None:
    assert media_type(content_type) == SNIFF


def test_form_type_with_a_foreign_charset_is_still_refused() -> None:
    with pytest.raises(ApiError) as info:
        media_type("application/x-www-form-urlencoded; charset=latin-1")
    assert info.value.status == 415


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b'{"a":1}', NDJSON),
        (b'  \r\n{"a":1}\n{"b":2}', NDJSON),
        (b"[{}]", JSON),
        (b'\xef\xbb\xbf [{"a":1}]', JSON),
        (b"<13>Dec  6 00:25:01 host app: x", TEXT),
        (b"hello {", TEXT),
        (b"", TEXT),
        (b"   ", TEXT),
    ],
)
def test_sniffed_kind(body: bytes, kind: str) -> None:
    assert sniffed_kind(body) == kind


def _parsed(body: bytes, kind: str) -> Any:
    try:
        return ("ok", parse_records(body, kind, LIMITS))
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.detail)


OBJECTS = st.lists(
    st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3),
    min_size=1,
    max_size=4,
)


@given(OBJECTS)
def test_sniffed_json_array_is_read_as_json(objects: list[dict[str, Any]]) -> None:
    body = json.dumps(objects).encode()
    assert _parsed(body, SNIFF) == _parsed(body, JSON)


@given(OBJECTS)
def test_sniffed_ndjson_is_read_as_ndjson(objects: list[dict[str, Any]]) -> None:
    body = "\n".join(map(json.dumps, objects)).encode()
    assert _parsed(body, SNIFF) == _parsed(body, NDJSON)


@given(st.text(min_size=1).filter(lambda t: t.lstrip(" \t\r\n\ufeff")[:1] not in ("{", "[")))
def test_sniffed_text_is_read_as_text(text: str) -> None:
    body = text.encode()
    assert _parsed(body, SNIFF) == _parsed(body, TEXT)


def test_pretty_printed_object() -> None:
    assert parse_records(b'{\n  "message": "x",\n  "n": 1\n}\n', SNIFF, LIMITS) == [{"message": "x", "n": 1}]


def test_fluent_bit_json_format() -> None:
    body = (
        b'[{"date":1796517901.123,"log":"payment failed","level":"error"},{"date":1796517902.0,"log":"ok"}]'
    )
    assert parse_records(body, SNIFF, LIMITS) == [
        {"date": 1796517901.123, "log": "payment failed", "level": "error"},
        {"date": 1796517902.0, "log": "ok"},
    ]


@pytest.mark.parametrize(
    ("body", "detail", "read_as"),
    [
        (b'{"m":1', {"line": 1}, "NDJSON"),
        (b'{"m":1}\n{"m":', {"line": 2}, "NDJSON"),
        (b'[{"m":1},', {}, "a JSON array"),
    ],
)
def test_json_looking_body_that_is_not_json_is_a_clear_400(
    body: bytes, detail: dict[str, Any], read_as: str
) -> None:
    with pytest.raises(ApiError) as info:
        parse_records(body, SNIFF, LIMITS)
    err = info.value
    assert (err.status, err.code) == (400, "invalid_json")
    assert detail.items() <= err.detail.items()
    assert f"read as {read_as}" in err.message and "text/plain" in err.message


def test_other_errors_of_a_sniffed_body_are_unchanged() -> None:
    with pytest.raises(ApiError) as info:
        parse_records(b"[1]", SNIFF, LIMITS)
    assert (info.value.status, info.value.code, info.value.detail) == (400, "invalid_record", {"index": 0})
    with pytest.raises(ApiError) as info:
        parse_records(b"", SNIFF, LIMITS)
    assert info.value.code == "empty_body"
