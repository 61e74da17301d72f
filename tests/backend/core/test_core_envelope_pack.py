"""core.envelope.pack: the bisection over running sizes packs as the record-by-record loop it replaced."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import envelope
from logpipe_backend.core.envelope import Serialized, pack


def _pack_reference(tenant_id: str, records: list[bytes], max_bytes: int) -> list[str]:
    """pack as it was: one Python step per record."""
    head = f'{{"v":1,"tenant_id":{json.dumps(tenant_id)},"records":['.encode()
    tail = b"]}"
    overhead = len(head) + len(tail)
    bodies: list[str] = []
    batch: list[bytes] = []
    size = overhead
    check_each = envelope._UNSAFE_BYTES_RE.search(b"".join(records)) is not None
    for raw in records:
        record = envelope._make_safe(raw) if check_each else raw
        extra = len(record) + (1 if batch else 0)
        if batch and size + extra > max_bytes:
            bodies.append((head + b",".join(batch) + tail).decode("utf-8"))
            batch, size, extra = [], overhead, len(record)
        if size + extra > max_bytes:
            raise ValueError(f"a record of {len(record)} bytes does not fit in a {max_bytes}-byte message")
        batch.append(record)
        size += extra
    if batch:
        bodies.append((head + b",".join(batch) + tail).decode("utf-8"))
    return bodies


def _outcome(run: Any) -> Any:
    try:
        return ("ok", run())
    except ValueError as exc:
        return ("error", str(exc))


RECORDS = st.lists(
    st.builds(
        lambda text: json.dumps({"m": text}, ensure_ascii=False).encode("utf-8"),
        st.text(
            alphabet=st.sampled_from(["a", "é", "\x01", "\x1f", "\ufffe", "\uffff", "\t", "😀"]), max_size=30
        ),
    ),
    max_size=12,
)


def _chunked(records: list[bytes], cuts: list[int]) -> Serialized:
    """``records`` as ingest hands them over: consecutive records joined in chunks (cut at ``cuts``)."""
    bounds = [0, *sorted({cut % (len(records) + 1) for cut in cuts}), len(records)]
    chunks = [b",".join(records[a:b]) for a, b in pairwise(bounds) if a < b]
    return Serialized(chunks, list(map(len, records)))


@settings(max_examples=500)
@given(
    RECORDS,
    st.integers(min_value=30, max_value=400),
    st.sampled_from(["acme", 'q"\u00e9']),
    st.lists(st.integers(min_value=0, max_value=12), max_size=4),
)
def test_pack_packs_as_the_loop_did(
    records: list[bytes], max_bytes: int, tenant: str, cuts: list[int]
) -> None:
    fast = _outcome(lambda: pack(tenant, records, max_bytes))
    assert fast == _outcome(lambda: _pack_reference(tenant, records, max_bytes))
    # Records in chunks (messages then span chunks, or cut them) pack as the same records one by one.
    chunked = _chunked(records, cuts)
    assert chunked.records() == records and len(chunked) == len(records)
    assert _outcome(lambda: pack(tenant, chunked, max_bytes)) == fast
    if fast[0] == "ok":
        assert all(len(body.encode("utf-8")) <= max_bytes for body in fast[1])
        assert all(envelope.sqs_safe(body) for body in fast[1])


# Records as ingest makes them: each starting with RECORD_HEAD, none holding the separator inside.
HEADED = st.lists(
    st.builds(
        lambda text, n: json.dumps({"tenant_id": "acme", "m": text, "n": n}, ensure_ascii=False).encode(),
        st.text(alphabet=st.sampled_from(["a", "é", "\x01", "\ufffe", ",", "{", '"', "😀"]), max_size=30),
        st.lists(st.integers(), max_size=3),
    ),
    max_size=12,
)


def _separated(records: list[bytes], cuts: list[int]) -> Serialized:
    """``records`` as ingest hands them over: in chunks, without sizes (pack cuts at the separators)."""
    return Serialized(_chunked(records, cuts).chunks, None, len(records))


@settings(max_examples=500)
@given(
    HEADED,
    st.integers(min_value=30, max_value=400),
    st.lists(st.integers(min_value=0, max_value=12), max_size=4),
)
def test_records_cut_at_separators_pack_as_sized_ones(
    records: list[bytes], max_bytes: int, cuts: list[int]
) -> None:
    separated = _separated(records, cuts)
    assert separated.records() == records and len(separated) == len(records)
    fast = _outcome(lambda: pack("acme", separated, max_bytes))
    assert fast == _outcome(lambda: _pack_reference("acme", records, max_bytes))
    assert fast == _outcome(lambda: pack("acme", records, max_bytes))


def test_exact_fits_at_separators() -> None:
    records = [b'{"tenant_id":"a"}', b'{"tenant_id":"a","b":2}', b'{"tenant_id":"a","c":333}']
    head = len('{"v":1,"tenant_id":"acme","records":[') + 2
    for max_bytes in range(head + 10, head + 80):
        expected = _outcome(lambda: _pack_reference("acme", records, max_bytes))  # noqa: B023 (called at once)
        for cuts in ([], [1], [2], [1, 2]):
            separated = _separated(records, cuts)
            assert _outcome(lambda: pack("acme", separated, max_bytes)) == expected  # noqa: B023
    assert pack("acme", Serialized([], None, 0)) == []


def test_exact_fits() -> None:
    records = [b'{"a":1}', b'{"b":22}', b'{"c":333}']
    head = len('{"v":1,"tenant_id":"acme","records":[') + 2
    for max_bytes in range(head + 7, head + 30):
        fast = _outcome(lambda: pack("acme", records, max_bytes))  # noqa: B023 (called at once)
        assert fast == _outcome(lambda: _pack_reference("acme", records, max_bytes))  # noqa: B023
        for cuts in ([], [1], [2], [1, 2]):
            assert _outcome(lambda: pack("acme", _chunked(records, cuts), max_bytes)) == fast  # noqa: B023
