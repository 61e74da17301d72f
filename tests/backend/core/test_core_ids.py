"""core.ids: ULID log ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_backend.core.ids import (
    CROCKFORD,
    MAX_TIME_MS,
    is_log_id,
    log_id_time_ms,
    new_log_ids,
)

NOW = 1_764_128_696_123  # 2025-11-26T03:44:56.123Z


def test_shape_and_alphabet() -> None:
    ids = new_log_ids(100, NOW)
    assert len(ids) == 100
    for log_id in ids:
        assert len(log_id) == 26
        assert set(log_id) <= set(CROCKFORD)
        assert not set(log_id) & set("ILOU")
        assert is_log_id(log_id)


def test_sorted_in_record_order_and_distinct() -> None:
    ids = new_log_ids(10_000, NOW)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_time_part() -> None:
    for log_id in new_log_ids(5, NOW):
        assert log_id_time_ms(log_id) == NOW
    assert log_id_time_ms(new_log_ids(1, 0)[0]) == 0
    assert log_id_time_ms(new_log_ids(1, MAX_TIME_MS)[0]) == MAX_TIME_MS


def test_deterministic_with_seed() -> None:
    seed = b"\x01" * 32
    assert new_log_ids(50, NOW, seed) == new_log_ids(50, NOW, seed)
    # A prefix of the request gets the same prefix of ids (index i always maps to the same id).
    assert new_log_ids(3, NOW, seed) == new_log_ids(50, NOW, seed)[:3]
    assert new_log_ids(5, NOW, seed) != new_log_ids(5, NOW, b"\x02" * 32)
    assert new_log_ids(5, NOW, seed) != new_log_ids(5, NOW + 1, seed)


def test_unique_across_calls_without_seed() -> None:
    seen: set[str] = set()
    for _ in range(500):
        seen.update(new_log_ids(4, NOW))  # same millisecond every time
    assert len(seen) == 2000


def test_later_time_sorts_after() -> None:
    assert max(new_log_ids(100, NOW)) < min(new_log_ids(100, NOW + 1))


def test_zero_count() -> None:
    assert new_log_ids(0, NOW) == []


@pytest.mark.parametrize("bad", [-1, MAX_TIME_MS + 1])
def test_time_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError):
        new_log_ids(1, bad)


def test_negative_count() -> None:
    with pytest.raises(ValueError):
        new_log_ids(-1, NOW)


@pytest.mark.parametrize(
    "value",
    ["", "0" * 25, "0" * 27, "8" + "0" * 25, "0" * 25 + "I", "0" * 25 + "u", "01ARZ3NDEKTSV4RRFFQ69G5FA!"],
)
def test_is_log_id_rejects(value: str) -> None:
    assert not is_log_id(value)


def test_log_id_time_ms_rejects_non_ids() -> None:
    with pytest.raises(ValueError):
        log_id_time_ms("nope")


def test_known_ulid_time_encoding() -> None:
    # oklog/ulid's example: time 1469918176385 encodes as 01ARYZ6S41.
    assert log_id_time_ms("01ARYZ6S41TSV4RRFFQ69G5FAV") == 1_469_918_176_385
    assert new_log_ids(1, 1_469_918_176_385)[0].startswith("01ARYZ6S41")


@given(st.integers(0, MAX_TIME_MS), st.integers(1, 50), st.binary(max_size=40))
def test_properties(time_ms: int, count: int, seed: bytes) -> None:
    ids = new_log_ids(count, time_ms, seed)
    assert ids == sorted(ids)
    assert len(set(ids)) == count
    assert all(is_log_id(i) and log_id_time_ms(i) == time_ms for i in ids)


def _reference_ids(count: int, time_ms: int, raw: bytes) -> list[str]:
    """The ids as the first implementation made them: base64.b32encode of each 80-bit value, in Crockford."""
    import base64

    from logpipe_backend.core import ids

    to_crockford = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", CROCKFORD.encode("ascii"))
    base = int.from_bytes(raw, "big") & ids._BASE_MASK
    packed = b"".join((base + i).to_bytes(10, "big") for i in range(count))
    encoded = base64.b32encode(packed).translate(to_crockford).decode("ascii")
    return [ids._encode_time(time_ms) + encoded[i : i + 16] for i in range(0, 16 * count, 16)]


@given(
    st.binary(min_size=10, max_size=10)
    | st.sampled_from([b"\x00" * 10, b"\xff" * 10, b"\x7f" + b"\xff" * 9, b"\x12" * 8 + b"\x03\xf0"]),
    st.integers(min_value=0, max_value=3000) | st.sampled_from([1023, 1024, 1025, 2048, 10_000]),
    st.integers(min_value=0, max_value=MAX_TIME_MS),
)
def test_ids_equal_the_base32_reference(raw: bytes, count: int, time_ms: int) -> None:
    from logpipe_backend.core import ids

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ids.os, "urandom", lambda _n: raw)
        assert new_log_ids(count, time_ms) == _reference_ids(count, time_ms, raw)
