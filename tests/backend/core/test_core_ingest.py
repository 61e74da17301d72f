"""core.ingest: normalize + serialize with the per-record size limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import codec
from logpipe_backend.core import ingest as core_ingest
from logpipe_backend.core.body import parse_records
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.http import json_response
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.ingest import prepare, serialize
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.normalize import CLIENT_ID_FIELDS, LEVEL_FIELDS, MESSAGE_FIELDS, TIMESTAMP_FIELDS

NOW = 1_764_128_696_123
LIMITS = Limits()


def _prepare(raws: list[Any], limits: Limits = LIMITS, tenant: str = "acme") -> list[bytes]:
    return prepare(
        raws, tenant_id=tenant, received_ms=NOW, log_ids=new_log_ids(len(raws), NOW), limits=limits
    ).records()


def test_prepare_serializes_compact_utf8_in_order() -> None:
    raws: list[Any] = [{"message": "héllo 😀", "n": 1}, "2025-11-26T00:00:00Z WARN plain line"]
    ids = new_log_ids(2, NOW)
    out = prepare(raws, tenant_id="acme", received_ms=NOW, log_ids=ids, limits=LIMITS).records()
    assert len(out) == 2
    assert "héllo 😀".encode() in out[0]  # ensure_ascii=False
    assert b", " not in out[0] and b": " not in out[0]
    first, second = (json.loads(b) for b in out)
    assert first["log_id"] == ids[0] and second["log_id"] == ids[1]
    assert first["message"] == "héllo 😀" and first["attributes"] == {"n": 1}
    assert second["source"] == "text" and second["level"] == "warn"
    assert second["timestamp"] == "2025-11-26T00:00:00.000Z"


def test_prepare_seed_example() -> None:
    [data] = _prepare(parse_records(b'{"tenant_id":"acme","log_id":"123","text":"hello"}', "json", LIMITS))
    record = json.loads(data)
    assert (record["message"], record["client_log_id"], record["source"], record["attributes"]) == (
        "hello",
        "123",
        "json",
        {},
    )


def test_record_bytes_limit_names_the_index() -> None:
    probe = _prepare([{"message": ""}])[0]
    limits = Limits(record_bytes=len(probe) + 10)
    assert _prepare([{"message": "x" * 10}], limits)
    with pytest.raises(ApiError) as info:
        _prepare([{"message": "x"}, {"message": "x" * 11}], limits)
    assert info.value.status == 413
    assert info.value.detail == {"limit": "record_bytes", "max": limits.record_bytes, "index": 1}


def test_record_bytes_counts_utf8_bytes() -> None:
    probe = _prepare([{"message": ""}])[0]
    limits = Limits(record_bytes=len(probe) + 10)
    with pytest.raises(ApiError):
        _prepare([{"message": "é" * 6}], limits)  # 6 chars, 12 bytes


def test_tenant_mismatch_gets_index() -> None:
    with pytest.raises(ApiError) as info:
        _prepare([{"a": 1}, {"a": 2}, {"tenant_id": "evil"}])
    assert (info.value.status, info.value.code, info.value.detail["index"]) == (403, "tenant_mismatch", 2)


def test_unserializable_from_python_caller_is_400() -> None:
    with pytest.raises(ApiError) as info:
        _prepare([{"ok": 1}, {"x": float("nan")}])
    assert (info.value.status, info.value.code, info.value.detail["index"]) == (400, "invalid_record", 1)
    with pytest.raises(ApiError):
        _prepare(["lone \ud800 surrogate"])


def test_log_ids_must_match() -> None:
    with pytest.raises(ValueError):
        prepare([{}], tenant_id="acme", received_ms=NOW, log_ids=[], limits=LIMITS)


def test_retry_is_byte_identical() -> None:
    raws: list[Any] = [{"message": "m", "level": "error"}, "text line"]
    seed = b"seed"
    a = prepare(raws, tenant_id="acme", received_ms=NOW, log_ids=new_log_ids(2, NOW, seed), limits=LIMITS)
    b = prepare(raws, tenant_id="acme", received_ms=NOW, log_ids=new_log_ids(2, NOW, seed), limits=LIMITS)
    assert a == b


def test_serialize() -> None:
    assert serialize({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()


def test_prepare_10000_records_is_quick() -> None:
    import time

    raws: list[Any] = [
        {"message": f"request {i}", "level": "info", "host": "web-1", "ms": i} for i in range(10_000)
    ]
    started = time.perf_counter()
    out = _prepare(raws)
    assert len(out) == 10_000
    assert time.perf_counter() - started < 2.0  # generous: shared CI machine


# --- prepare's one path (a chunk at a time) against the per-record error path (_serialize_each) -----------

FIELDS = st.sampled_from([*MESSAGE_FIELDS, *TIMESTAMP_FIELDS, *LEVEL_FIELDS, *CLIENT_ID_FIELDS])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**65), max_value=2**65)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["acme", "null", "\ud800", "2026-11-26T03:44:56.123Z", "WARN", 1_764_128_696, 1e-7])
    | st.sampled_from([float("nan"), float("-inf"), 2**64, [{"tenant_id": "acme"}], [1, {"tenant_id": 2}]])
)
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(FIELDS | st.just("tenant_id") | st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=10,
)
# A record may name the tenant (rarely another one: that is an error, which ends the comparison early).
RAW_DICTS = st.builds(
    lambda fields, tenant: fields if tenant is None else {"tenant_id": tenant, **fields},
    st.dictionaries(FIELDS | st.text(max_size=4) | st.integers(), VALUES, max_size=6),
    st.sampled_from([None, None, None, "acme", "evil"]),
)
RAWS = st.lists(
    RAW_DICTS | st.text(max_size=30) | st.just("2026-11-26T03:44:56.123Z ERROR boom"), min_size=1, max_size=8
)


def _has_float(value: Any) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_float(v) for v in value)
    return False


def _outcome(prepare_fn: Any, raws: list[Any], limits: Limits) -> Any:
    try:
        out = prepare_fn(raws, "acme", NOW, new_log_ids(len(raws), NOW, b"seed"), limits)
    except ApiError as exc:
        return ("error", exc.status, exc.code, exc.message, exc.detail)
    return ("ok", out)


def _prepare_fast(raws: list[Any], tenant: str, now: int, ids: list[str], limits: Limits) -> list[bytes]:
    return prepare(raws, tenant_id=tenant, received_ms=now, log_ids=ids, limits=limits).records()


def assert_same_as_each(raws: list[Any], limits: Limits = LIMITS) -> None:
    fast = _outcome(_prepare_fast, raws, limits)
    slow = _outcome(core_ingest._serialize_each, raws, limits)
    with pytest.MonkeyPatch.context() as mp:  # the Lambda zip's codec: json only, the same outcome
        mp.setattr(codec, "orjson", None)
        assert _outcome(_prepare_fast, raws, limits) == slow
    if fast[0] == "error" or slow[0] == "error":
        assert fast == slow
        return
    assert len(fast[1]) == len(slow[1]) == len(raws)
    for a, b in zip(fast[1], slow[1], strict=True):
        if not _has_float(json.loads(b)):
            assert a == b
        # The same value and types; orjson spells some floats differently (1e-7 for 1e-07).
        assert serialize(json.loads(a)) == serialize(json.loads(b))


@settings(max_examples=500, deadline=None)
@given(RAWS)
def test_at_once_gives_what_each_gives(raws: list[Any]) -> None:
    assert_same_as_each(raws)


@settings(max_examples=200, deadline=None)
@given(RAWS.filter(lambda raws: not _has_float(raws)), st.integers(min_value=200, max_value=400))
def test_at_once_keeps_the_record_limit(raws: list[Any], record_bytes: int) -> None:
    assert_same_as_each(raws, Limits(record_bytes=record_bytes))


def _serialized(raws: list[Any], ids: list[str], **options: Any) -> Any:
    return prepare(raws, tenant_id="acme", received_ms=NOW, log_ids=ids, limits=LIMITS, **options)


def test_chunks_are_cut_at_separators_and_a_record_holding_one_is_serialized_alone() -> None:
    raws: list[Any] = [{"msg": "m", "level": "warn", "n": [1, None, {"a": 2.5}]}, "text", {"x": 1e-7}] * 300
    ids = new_log_ids(len(raws), NOW)
    expected = core_ingest._serialize_each(raws, "acme", NOW, ids, LIMITS)
    serialized = _serialized(raws, ids)
    assert len(serialized.chunks) == 4  # 900 records in chunks of 256
    fast = serialized.records()
    assert len(fast) == len(expected) == len(serialized) and serialized.sizes is None  # cut at separators
    assert fast[:2] == expected[:2] and fast[2] in (expected[2], expected[2].replace(b"1e-07", b"1e-7"))
    # What orjson refuses and json writes: still one path, the same bytes as record by record.
    for exact in ({"big": 2**64}, {1: "key that is not a string"}):
        one = _serialized([*raws, exact], [*ids, ids[0]])
        assert one.sizes is None and one.records()[-1] == serialize(json.loads(one.records()[-1]))
        assert one.records()[-1] == core_ingest._serialize_each([exact], "acme", NOW, [ids[0]], LIMITS)[0]
    # The separator inside a record: its chunk cannot be cut, so every record is serialized alone.
    inside = _serialized([*raws, {"a": [1, {"tenant_id": "acme"}]}], [*ids, ids[0]])
    assert inside.sizes is not None and len(inside) == len(raws) + 1
    for error in ({"n": float("nan")}, {"tenant_id": "evil"}):
        with pytest.raises(ApiError) as err:
            _serialized([*raws, error], [*ids, ids[0]])
        assert err.value.detail["index"] == len(raws)


def _prepare_finite(raws: list[Any], tenant: str, now: int, ids: list[str], limits: Limits) -> list[bytes]:
    return prepare(
        raws, tenant_id=tenant, received_ms=now, log_ids=ids, limits=limits, finite_floats=True
    ).records()


@settings(max_examples=300, deadline=None)
@given(RAWS)
def test_finite_floats_changes_nothing_for_parsed_records(raws: list[Any]) -> None:
    # What the handler vouches for: records parsed from a body. The same bytes without the search for null.
    lines = [json.dumps(raw if isinstance(raw, dict) else {"m": raw}) for raw in raws]
    try:
        parsed = parse_records("\n".join(lines).encode(), "ndjson", LIMITS)
    except ApiError:
        return  # NaN or an infinity (json.dumps writes them, the parser refuses them), or another refusal
    assert _outcome(_prepare_finite, parsed, LIMITS) == _outcome(_prepare_fast, parsed, LIMITS)


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("kind", ["json", "ndjson"])
def test_parsed_records_hold_no_nan_or_infinity(token: str, kind: str) -> None:
    with pytest.raises(ApiError) as err:
        parse_records(f'{{"a":1,"x":{token}}}'.encode(), kind, LIMITS)
    assert err.value.code == "invalid_json"


def test_finite_floats_trusts_the_caller() -> None:
    if codec.orjson is None:
        pytest.skip("orjson is not installed")
    ids = new_log_ids(1, NOW)
    nan: list[Any] = [{"n": float("nan")}]
    with pytest.raises(ApiError):
        _serialized(nan, ids)  # json decides: refused
    vouched = _serialized(nan, ids, finite_floats=True)
    assert b'"n":null' in vouched.chunks[0]  # what a false vouch would store


@given(
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=0, max_value=(1 << 48) - 1),
    st.binary(min_size=32, max_size=32) | st.none(),
    st.text(),
)
def test_accepted_json_is_json_responses(count: int, ms: int, seed: bytes | None, rid: str) -> None:
    log_ids = new_log_ids(count, ms, seed=seed)
    body = {"accepted": count, "log_ids": log_ids, "request_id": rid}
    assert core_ingest.accepted_json(log_ids, rid) == json_response(202, body)["body"]
    assert json.loads(core_ingest.accepted_json(log_ids, rid)) == body


def test_chunks_hold_no_raw_control_character() -> None:
    # What pack relies on for chunks without sizes: it looks only for U+FFFE/U+FFFF in them.
    controls = "".join(map(chr, range(0x20))) + "\x7f\ufffe"
    raws: list[Any] = [{"msg": controls, controls: [controls, {controls: 1}]}, controls, "x" + controls]
    serialized = _serialized(raws, new_log_ids(3, NOW))
    assert serialized.sizes is None
    assert not any(byte < 0x20 for chunk in serialized.chunks for byte in chunk)
