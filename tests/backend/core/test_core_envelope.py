"""core.envelope: packing records into SQS-valid messages and back."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import envelope
from logpipe_backend.core.envelope import (
    MAX_EXPANDED_BYTES,
    MAX_MESSAGE_BYTES,
    compress,
    expand,
    pack,
    sqs_safe,
    unpack,
    unpack_with_text,
)
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.ingest import prepare, serialize
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.redact import Redactor

NOW = 1_764_128_696_123


def _records(messages: list[str], tenant: str = "acme") -> list[bytes]:
    raws: list[Any] = [{"message": m} for m in messages]
    return prepare(
        raws, tenant_id=tenant, received_ms=NOW, log_ids=new_log_ids(len(raws), NOW), limits=Limits()
    ).records()


def test_round_trip_one_message() -> None:
    records = _records(["a", "b", "c"])
    bodies = pack("acme", records)
    assert len(bodies) == 1
    assert json.loads(bodies[0])["v"] == 1
    tenant, out = unpack(bodies[0])
    assert tenant == "acme"
    assert out == [json.loads(r) for r in records]


def test_format() -> None:
    [body] = pack("acme", [b'{"x":1}', b'{"y":2}'])
    assert body == '{"v":1,"tenant_id":"acme","records":[{"x":1},{"y":2}]}'


def test_splits_at_max_bytes_in_order() -> None:
    records = _records([f"message {i} " + "x" * 500 for i in range(200)])
    bodies = pack("acme", records, max_bytes=10_000)
    assert len(bodies) > 10
    assert all(len(b.encode()) <= 10_000 for b in bodies)
    unpacked = [r for body in bodies for r in unpack(body)[1]]
    assert [r["message"] for r in unpacked] == [f"message {i} " + "x" * 500 for i in range(200)]


def test_fills_messages_greedily() -> None:
    records = [b'{"i":%d}' % i for i in range(10)]  # 7 bytes each
    head = len('{"v":1,"tenant_id":"acme","records":[') + len("]}")
    bodies = pack("acme", records, max_bytes=head + 7 * 3 + 2)  # exactly three records
    assert [len(json.loads(b)["records"]) for b in bodies] == [3, 3, 3, 1]
    assert all(len(b.encode()) <= head + 23 for b in bodies)


def test_empty() -> None:
    assert pack("acme", []) == []


def test_record_too_big_for_any_message() -> None:
    with pytest.raises(ValueError):
        pack("acme", [b'{"m":"' + b"x" * 200 + b'"}'], max_bytes=100)


def test_default_max_fits_sqs() -> None:
    assert MAX_MESSAGE_BYTES <= 1024 * 1024 - 24 * 1024
    records = _records(["y" * 200_000] * 12)
    bodies = pack("acme", records)
    assert len(bodies) == 3
    assert all(len(b.encode()) <= MAX_MESSAGE_BYTES for b in bodies)


def test_unsafe_characters_are_escaped() -> None:
    text = "a\ufffeb\uffffc\x00d\x1fe\x7ff\ud7ff\ue000\U0010ffff\t\n\r"
    [body] = pack("acme", _records([text]))
    assert sqs_safe(body)
    assert "\\ufffe" in body and "\\uffff" in body
    assert unpack(body)[1][0]["message"] == text


def test_raw_unsafe_bytes_in_a_record_are_escaped() -> None:
    # A record serialized elsewhere, with raw control characters inside a string (valid for strict=False).
    record = '{"m":"a\x01b\ufffe"}'.encode()
    [body] = pack("acme", [record])
    assert sqs_safe(body)
    assert json.loads(body)["records"][0]["m"] == "a\x01b\ufffe"


def test_escaping_counts_toward_size() -> None:
    record = serialize({"m": "\ufffe" * 100})  # 300 bytes raw, 600 escaped
    head = len('{"v":1,"tenant_id":"acme","records":[]}')
    bodies = pack("acme", [record, record], max_bytes=head + 620)
    assert len(bodies) == 2
    assert all(len(b.encode()) <= head + 620 for b in bodies)


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("plain", True),
        ("tab\tnl\ncr\r", True),
        ("\x00", False),
        ("\x08", False),
        ("\x1f", False),
        ("\ufffe", False),
        ("\uffff", False),
        ("\ud800", False),
        ("\ufffd", True),
        ("\U0001f600", True),
        ("", True),
    ],
)
def test_sqs_safe(text: str, safe: bool) -> None:
    assert sqs_safe(text) is safe


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        '{"v":2,"tenant_id":"acme","records":[]}',
        '{"v":1,"records":[]}',
        '{"v":1,"tenant_id":"acme"}',
        '{"v":1,"tenant_id":"acme","records":{}}',
        '{"v":1,"tenant_id":"acme","records":[1]}',
        '{"v":1,"tenant_id":"acme","records":[{"log_id":"x"}]}',
        "[" * 100_000,
    ],
)
def test_unpack_malformed(body: str) -> None:
    with pytest.raises(ValueError):
        unpack(body)


def test_unpack_refuses_a_record_of_another_tenant() -> None:
    [body] = pack("acme", _records(["x"], tenant="other"))
    with pytest.raises(ValueError):
        unpack(body)


@settings(max_examples=200)
@given(
    st.lists(st.text(alphabet=st.characters(codec=None, exclude_categories=["Cs"])), max_size=20),
    st.integers(2_000, 20_000),
)
def test_property_round_trip_sqs_safe_and_sized(messages: list[str], max_bytes: int) -> None:
    messages = [m[:300] for m in messages]
    records = _records(messages)
    bodies = pack("acme", records, max_bytes=max_bytes)
    for body in bodies:
        assert sqs_safe(body)
        assert len(body.encode("utf-8")) <= max_bytes
    out = [r for body in bodies for r in unpack(body)[1]]
    assert [r["message"] for r in out] == messages


@given(st.text(alphabet=st.sampled_from("\ufffe\uffff\x00\x01\x1f\t\n\r a\u2028\U0001f600")))
def test_property_special_characters(text: str) -> None:
    [body] = pack("acme", _records([text]))
    assert sqs_safe(body)
    assert unpack(body)[1][0]["message"] == text


# The compressed (v2) transport form the SQS adapter sends.


def test_compressed_round_trip_is_ascii_smaller_and_reads_like_v1() -> None:
    messages = [f"request {i} served in {i % 97} ms \u00e9\U0001f600\ufffe\x01" for i in range(2_000)]
    [body] = pack("acme", _records(messages), max_bytes=MAX_MESSAGE_BYTES)
    compact = compress(body)
    assert compact.isascii() and sqs_safe(compact)
    assert len(compact) * 3 < len(body.encode("utf-8"))  # repetitive logs compress well
    data = json.loads(compact)
    assert data["v"] == 2 and set(data) == {"v", "z"}
    assert expand(compact) == body
    assert unpack(compact) == unpack(body)


def test_expand_leaves_other_bodies_alone() -> None:
    [body] = pack("acme", _records(["a"]))
    assert expand(body) == body


def _v2(raw: bytes) -> str:
    return json.dumps({"v": 2, "z": base64.b64encode(raw).decode()})


@pytest.mark.parametrize(
    "body",
    [
        '{"v":2}',
        '{"v":2,"z":1}',
        '{"v":2,"z":"not base64!"}',
        '{"v":2,"z":"eJw=","tenant_id":"acme"}',  # exactly v and z
        _v2(b"not zlib at all"),
        _v2(zlib.compress(b'{"v":1,"tenant_id":"acme","records":[]}')[:-6]),  # truncated
        _v2(zlib.compress(b'{"v":1,"tenant_id":"acme","records":[]}') + b"junk"),  # trailing data
        _v2(zlib.compress(b"\xff\xfe not utf-8")),
        _v2(zlib.compress(b"[1, 2]")),  # inflates to something that is not an envelope
        _v2(zlib.compress(compress('{"v":1,"tenant_id":"acme","records":[]}').encode())),  # v2 in v2
    ],
)
def test_unpack_malformed_compressed(body: str) -> None:
    with pytest.raises(ValueError):
        unpack(body)


def test_a_compressed_body_inflating_past_the_bound_is_refused_without_inflating_it_all() -> None:
    bomb = _v2(zlib.compress(b" " * (MAX_EXPANDED_BYTES + 1), 9))
    assert len(bomb) < 20_000
    with pytest.raises(ValueError, match="too large"):
        unpack(bomb)


@settings(max_examples=100)
@given(st.lists(st.text(alphabet=st.characters(codec=None, exclude_categories=["Cs"])), max_size=20))
def test_property_compressed_round_trip(messages: list[str]) -> None:
    bodies = pack("acme", _records([m[:300] for m in messages]), max_bytes=5_000)
    for body in bodies:
        compact = compress(body)
        assert sqs_safe(compact)
        assert unpack(compact) == unpack(body)


# --- unpack_with_text: the C-level check of complete records against _checked's loop --------------------

COMPLETE = {
    "tenant_id": "acme", "log_id": "01KAZ479SV65DH4C98VGTRN853", "timestamp": "2026-11-26T03:44:56.123Z",
    "received_at": "2026-11-26T03:44:56.123Z", "level": "info", "message": "m", "attributes": {},
    "source": "json", "redactions": 0,
}  # fmt: skip
A_RECORD = st.builds(
    lambda dropped, tenant, order, extra: {
        **{k: tenant if k == "tenant_id" else COMPLETE[k] for k in order if k not in dropped},
        **extra,
    },
    st.sets(st.sampled_from(sorted(COMPLETE)), max_size=2) | st.just(set()),
    st.sampled_from(["acme", "acme", "other", "", 5, None, ["acme"], {"a": 1}]),
    # Mostly ingest's layout (the same keys in the same order: _complete's fast path), sometimes another.
    st.just(list(COMPLETE)) | st.permutations(list(COMPLETE)),
    st.just({}) | st.just({"extra": 1}),
)


SCREEN = Redactor().json_to_redact  # the worker's screen


def _unpacked(body: str) -> tuple[str, Any]:
    try:
        return "ok", unpack_with_text(body, SCREEN)
    except ValueError as exc:
        return "error", str(exc)


@settings(max_examples=300)
@given(st.lists(A_RECORD | st.sampled_from([1, "x", None, [], [COMPLETE]]), max_size=5))
def test_property_complete_records_unpack_as_the_loop_unpacks_them(records: list[Any]) -> None:
    body = '{"v":1,"tenant_id":"acme","records":[' + ",".join(json.dumps(r) for r in records) + "]}"
    fast = _unpacked(body)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(envelope, "_complete", lambda tenant_id, records: False)
        slow = _unpacked(body)
    assert fast == slow  # same records, texts and errors (which record, and why)
    if fast[0] == "ok":
        _, (tenant_id, unpacked, texts, _) = fast
        assert (tenant_id, unpacked) == unpack(body)
        for record, text in zip(unpacked, texts, strict=True):
            assert text is None or json.loads(text) == record  # a text stands for its record exactly


def test_a_record_without_redactions_or_source_gets_them_and_no_text() -> None:
    partial = {k: v for k, v in COMPLETE.items() if k != "source"}
    body = '{"v":1,"tenant_id":"acme","records":[' + json.dumps(COMPLETE) + "," + json.dumps(partial) + "]}"
    _, records, texts, _ = unpack_with_text(body, SCREEN)
    assert records == [COMPLETE, COMPLETE] and texts[0] is not None and texts[1] is None


def test_the_record_head_invariant_is_checked_against_the_one_constructor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """envelope cuts packed bodies at "," + RECORD_HEAD: a record constructor that put another key first
    must fail loudly (at import), not split messages in the middle of records."""
    from logpipe_backend.core import envelope, record

    envelope._check_record_head()  # the layout as it is passes
    original = record.new_record

    def reordered(*args: Any) -> Any:
        built = original(*args)
        return {"log_id": built.pop("log_id"), **built}

    monkeypatch.setattr(envelope, "new_record", reordered)
    with pytest.raises(RuntimeError, match=r"RECORD_HEAD|lay records out differently"):
        envelope._check_record_head()
