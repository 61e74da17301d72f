"""core.ingest: normalize + serialize with the per-record size limit."""

from __future__ import annotations

import json
from typing import Any

import pytest
from logpipe_backend.core.body import parse_records
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.ingest import prepare, serialize
from logpipe_backend.core.limits import Limits

NOW = 1_764_128_696_123
LIMITS = Limits()


def _prepare(raws: list[Any], limits: Limits = LIMITS, tenant: str = "acme") -> list[bytes]:
    return prepare(
        raws, tenant_id=tenant, received_ms=NOW, log_ids=new_log_ids(len(raws), NOW), limits=limits
    )


def test_prepare_serializes_compact_utf8_in_order() -> None:
    raws: list[Any] = [{"message": "héllo 😀", "n": 1}, "2025-11-26T00:00:00Z WARN plain line"]
    ids = new_log_ids(2, NOW)
    out = prepare(raws, tenant_id="acme", received_ms=NOW, log_ids=ids, limits=LIMITS)
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
