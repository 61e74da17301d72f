"""core.codec's parsing: orjson where installed, json where not, and the strict parser's results the same.

Every case runs ``parse_json``/``parse_ndjson`` twice, with orjson and with the module forced onto its
stdlib fallback (as on Lambda), and compares the values or the errors (status, code, message, detail).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import codec, envelope, json_records, redact
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.json_records import parse_json, parse_ndjson
from logpipe_backend.core.limits import Limits

LIMITS = Limits()
needs_orjson = pytest.mark.skipif(codec.orjson is None, reason="orjson is not installed")


@pytest.fixture
def stdlib_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The module as on Lambda: no orjson, so the parse functions are json's own."""
    monkeypatch.setattr(codec, "orjson", None)
    monkeypatch.setattr(json_records, "_FAST_DECODE", codec.loads_with(json_records._DECODER.decode))
    yield


def _outcome(parse: Callable[[str, Limits], Any], text: str) -> Any:
    try:
        return ("ok", parse(text, LIMITS))
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.message, exc.detail)


def _both(parse: Callable[[str, Limits], Any], text: str) -> tuple[Any, Any]:
    fast = _outcome(parse, text)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codec, "orjson", None)
        mp.setattr(json_records, "_FAST_DECODE", codec.loads_with(json_records._DECODER.decode))
        slow = _outcome(parse, text)
    return fast, slow


def _same(fast: Any, slow: Any) -> None:
    assert fast == slow
    # == says 1 == 1.0: the types must agree too (a big integer must not come back as a float).
    assert json.dumps(fast, default=repr) == json.dumps(slow, default=repr)


BIG = "123456789012345678901234567890"
TEXTS = [
    '{"a":1}',
    '{"a":1.5,"b":"x","c":[1,{"d":null}],"e":true}',
    f'{{"big":{BIG}}}',
    f'{{"big":-{BIG}}}',
    '{"u64":18446744073709551615,"over":18446744073709551616,"neg":-9223372036854775809}',
    '{"f":0.1234567890123456789012}',
    '{"n":NaN}',
    '{"n":Infinity}',
    '{"n":-Infinity}',
    '{"f":1e400}',
    '{"f":-1e400}',
    '{"s":"\\ud800"}',
    '{"s":"\\udc00\\ud800"}',
    '{"s":"\\ud83d\\ude00"}',
    '{"s":"a\tb"}',
    '{"a":1,}',
    "[1,]",
    '{"a":1} x',
    "",
    "   ",
    "[]",
    "[{}]",
    "[1]",
    '"str"',
    "01",
    '{"a":1,"a":2,"b":3,"a":4}',
    '{"tenant_id":"a","tenant_id":"b"}',
    '{"x":' + "[" * 64 + "]" * 64 + "}",
    '{"x":' + "[" * 65 + "]" * 65 + "}",
    "[" * 2000 + "]" * 2000,
    '{"x":' + "[" * 2000 + "]" * 2000 + "}",
    '{"é":"ü€😀","\\u00e9":"\\u20ac"}',
    '{"a":1}\n{"b":2}\n\n{"c":' + BIG + "}",
    '{"a":1}\n{"b":NaN}',
    '{"a":1}\n[1]',
    '{"a":1}\n{"b":"\\ud800"}',
    '{"a":1}\n{',
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("parse", [parse_json, parse_ndjson])
def test_same_values_and_errors_with_and_without_orjson(
    parse: Callable[[str, Limits], Any], text: str
) -> None:
    _same(*_both(parse, text))


def test_big_integers_stay_exact() -> None:
    assert parse_json(f'{{"big":{BIG},"f":1.5}}', LIMITS) == [{"big": int(BIG), "f": 1.5}]
    assert parse_ndjson(f'{{"a":1}}\n{{"big":{BIG}}}', LIMITS)[1] == {"big": int(BIG)}


def test_may_hold_big_int() -> None:
    assert codec.may_hold_big_int("x" + "9" * 19)
    assert codec.may_hold_big_int('{"a":"1234567890123456789"}')  # in a string too: only slower
    assert not codec.may_hold_big_int("1" * 18 + "x" + "1" * 18)
    assert not codec.may_hold_big_int("")


@given(st.text(alphabet=st.sampled_from([*"0123456789[{]}x", "\u0663", "é"]), max_size=60))
def test_bytes_shape(text: str) -> None:
    # The byte form of may_hold_big_int, and one count for both opening brackets.
    data = text.encode("utf-8")
    shape = codec.bytes_shape(data)
    assert codec.shape_may_hold_big_int(shape) is codec.may_hold_big_int(text)
    assert shape.count(b"{") == data.count(b"{") + data.count(b"[")


def test_without_orjson_the_parse_function_is_the_fallback(stdlib_only: None) -> None:
    def fallback(text: str) -> Any:
        return text

    assert codec.loads_with(fallback) is fallback
    assert parse_json(f'{{"big":{BIG}}}', LIMITS) == [{"big": int(BIG)}]


@needs_orjson
def test_orjson_is_used_when_installed() -> None:
    calls: list[str] = []

    def fallback(text: str) -> Any:
        calls.append(text)
        return json.loads(text)

    loads = codec.loads_with(fallback)
    assert loads('{"a":[1,2.5]}') == {"a": [1, 2.5]}
    assert calls == []
    assert math.isnan(loads('{"a":NaN}')["a"])  # refused by orjson: json's value
    assert calls == ['{"a":NaN}']


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)
RECORDS = st.lists(st.dictionaries(st.text(), JSON_VALUES, max_size=5), min_size=1, max_size=5)


@settings(max_examples=300, deadline=None)
@given(RECORDS, st.booleans())
def test_random_records_parse_alike(records: list[dict[str, Any]], ascii_only: bool) -> None:
    ndjson = "\n".join(json.dumps(r, ensure_ascii=ascii_only) for r in records)
    _same(*_both(parse_ndjson, ndjson))
    _same(*_both(parse_json, json.dumps(records, ensure_ascii=ascii_only)))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from('{}[]",:0123456789.eE-+ \\tnulNaIfiyrsx\u00e9\ud800'), max_size=40))
def test_random_near_json_texts_parse_alike(text: str) -> None:
    for parse in (parse_json, parse_ndjson):
        _same(*_both(parse, text))


# --- the worker's envelope split (core/envelope.py _split_packed), against unpack (json.loads of the body)

RECORD = {
    "tenant_id": "acme",
    "log_id": "01KAZ479SV65DH4C98VGTRN853",
    "timestamp": "2026-11-26T03:44:56.123Z",
    "received_at": "2026-11-26T03:44:56.123Z",
    "level": "info",
    "message": "hi",
    "attributes": {},
    "source": "json",
    "redactions": 0,
}


def _record(**attributes: Any) -> bytes:
    return json.dumps(
        {**RECORD, "attributes": attributes}, ensure_ascii=False, separators=(",", ":")
    ).encode()


SCREEN = redact.Redactor().json_to_redact  # the worker's screen (its pre-scan for secrets)


def _must_flag(texts: list[str | None]) -> set[int]:
    return {i for i, text in enumerate(texts) if text is None or codec.may_hold_big_int(text)}


def _unpacked_both_ways(body: str) -> tuple[Any, Any]:
    """unpack_with_text with orjson and without; with orjson, the screen with RE2 (where installed) and
    with re (the Lambda's), which must give the same. The records are also those of the plain oracle,
    unpack (json.loads of the whole body), and each text kept parses to its record."""

    def outcome() -> Any:
        try:
            tenant_id, records, texts, flagged = envelope.unpack_with_text(body, SCREEN)
        except ValueError as exc:
            return ("error", str(exc))
        assert _must_flag(texts) <= set(flagged)
        oracle = envelope.unpack(body)
        assert json.dumps((tenant_id, records), default=repr) == json.dumps(oracle, default=repr)
        for text, record in zip(texts, records, strict=True):
            assert text is None or json.dumps(json.loads(text), default=repr) == json.dumps(
                record, default=repr
            )
        # Texts may differ (a text None where one library refused the piece: it is only encoded again).
        return ("ok", (tenant_id, records))

    fast = outcome()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codec, "re2", None)
        mp.setattr(redact, "_MESSAGE_HINTS", redact._message_hints())
        assert json.dumps(outcome(), default=repr) == json.dumps(fast, default=repr)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codec, "orjson", None)
        slow = outcome()
    return fast, slow


HEAD = '{"v":1,"tenant_id":"acme","records":['
BODIES = [
    envelope.pack("acme", [_record()])[0],
    envelope.pack("acme", [_record(), _record(a=1), _record(b=[1, {"c": 2.5}])])[0],
    # The separator's text inside a record: a nested object whose first key is tenant_id.
    envelope.pack("acme", [_record(x=[1, {"tenant_id": "acme"}]), _record(y={"tenant_id": 1})])[0],
    envelope.pack("acme", [_record(big=int(BIG)), _record(n=-(10**30))])[0],
    envelope.pack("acme", [_record(s='\U0001f600 é ,{"tenant_id":')])[0],
    envelope.compress(envelope.pack("acme", [_record(), _record(a=1)])[0]),
    HEAD + "]}",
    HEAD + _record().decode() + " ]}",
    HEAD + _record().decode() + " ," + _record().decode() + "]}",
    HEAD + _record().decode()[:-1] + " }]}",
    HEAD + _record().decode().replace('"hi"', '"\\ud800"') + "]}",
    HEAD + _record().decode().replace('"hi"', "NaN") + "]}",
    HEAD + _record().decode().replace('"attributes":{}', '"attributes":{"f":1e400}') + "]}",
    HEAD + _record().decode() + "," + _record().decode()[:-1] + "]}",
    HEAD + _record().decode() + ',{"log_id":"x","tenant_id":"acme"}]}',
    HEAD + '{"tenant_id":"acme"}]}',
    HEAD + '{"tenant_id":"other","log_id":"x","timestamp":"t","received_at":"t","level":"info",'
    '"message":"m","attributes":{}}]}',
    HEAD + _record().decode() + "]} ",
    '{"v":1,"tenant_id":"acme","records":[' + _record().decode() + "]}",
]


@pytest.mark.parametrize("body", BODIES)
def test_envelope_split_gives_what_unpack_gives(body: str) -> None:
    fast, slow = _unpacked_both_ways(body)
    assert fast == slow
    assert json.dumps(fast, default=repr) == json.dumps(slow, default=repr)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.dictionaries(st.sampled_from(["tenant_id", "a", "b"]) | st.text(), JSON_VALUES), max_size=6)
)
def test_random_envelopes_unpack_alike(attributes: list[dict[str, Any]]) -> None:
    body = envelope.pack("acme", [_record(**a) for a in attributes])[0] if attributes else HEAD + "]}"
    fast, slow = _unpacked_both_ways(body)
    assert json.dumps(fast, default=repr) == json.dumps(slow, default=repr)


def test_the_split_is_taken_when_it_can_be_sure_and_left_when_not() -> None:
    found = envelope._split_packed(BODIES[1], SCREEN)
    assert found is not None and (found[0], found[1]) == envelope.unpack(BODIES[1])
    assert (
        envelope._split_packed(BODIES[2], SCREEN) is None
    )  # split inside a record: a piece is not one object
    found = envelope._split_packed(BODIES[3], SCREEN)  # big integers: the screen flags them, json reads them
    assert found is not None and found[1][0]["attributes"]["big"] == int(BIG)


@needs_orjson
@pytest.mark.parametrize("engine", ["re2", "re"])
def test_the_screen_is_what_keeps_big_integers_from_orjson(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine == "re":
        monkeypatch.setattr(codec, "re2", None)
        monkeypatch.setattr(redact, "_MESSAGE_HINTS", redact._message_hints())
    # Can fail: a screen that does not return the texts holding big integers lets orjson make them floats.
    found = envelope._split_packed(BODIES[3], lambda texts: [])
    assert found is not None and isinstance(found[1][0]["attributes"]["big"], float)
    _, records, _, flagged = envelope.unpack_with_text(BODIES[3], SCREEN)
    assert records[0]["attributes"]["big"] == int(BIG) and records[1]["attributes"]["n"] == -(10**30)
    assert flagged == [0, 1]


def test_the_screen_flags_big_integers_by_its_own_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not by the accident of the card hint (any 13 digits): with a card hint narrowed to what a card can
    start with (2-6, as the card regex itself), a 20-digit integer starting with 1 is still flagged."""
    monkeypatch.setattr(
        redact, "_MESSAGE_HINTS", redact._message_hints(card_hint=rb"[2-6](?:[ \-]?[0-9]){12}")
    )
    texts = ['{"n":10000000000000000001}', '{"n":1000000000000}', '{"n":7}']
    assert SCREEN(texts) == [0]
    body = envelope.pack("acme", [_record(n=10**19 + 1), _record(n=7)])[0]
    _, records, _, flagged = envelope.unpack_with_text(body, SCREEN)
    assert records[0]["attributes"]["n"] == 10**19 + 1 and flagged == [0]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.integers(min_value=-(10**40), max_value=10**40) | st.text("0123456789 -x"), min_size=1, max_size=5
    )
)
def test_property_a_record_holding_a_long_digit_run_is_screened(values: list[Any]) -> None:
    body = envelope.pack("acme", [_record(**{f"k{i}": v}) for i, v in enumerate(values)])[0]
    fast, slow = _unpacked_both_ways(body)
    assert json.dumps(fast, default=repr) == json.dumps(slow, default=repr)
    if fast[0] == "ok":
        assert [r["attributes"] for r in fast[1][1]] == [{f"k{i}": v} for i, v in enumerate(values)]
