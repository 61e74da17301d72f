from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe._batcher import Batcher, BatchLimits, EncodeError, classify_line, encode_record


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_closes_on_count_bytes_and_age() -> None:
    clock = FakeClock()
    b = Batcher(BatchLimits(max_records=3, max_bytes=2048, max_age=1.0), clock=clock)
    assert b.add("text", b"a") == [] and b.add("text", b"b") == []
    [closed] = b.add("text", b"c")
    assert closed.count == 3 and bytes(closed.body) == b"a\nb\nc" and closed.idempotency_key
    b.add("text", b"x" * 1500)
    [by_bytes] = b.add("text", b"y" * 1000)  # would exceed 2048: the first closes alone
    assert by_bytes.count == 1
    assert b.due() == []
    clock.now = 1.5
    [aged] = b.due()
    assert aged.count == 1 and b.pending == 0


def test_kinds_are_batched_apart() -> None:
    b = Batcher(BatchLimits(max_records=10))
    b.add("json", b"{}")
    b.add("text", b"t")
    kinds = sorted(x.kind for x in b.flush())
    assert kinds == ["json", "text"]


def test_keys_are_unique_per_batch() -> None:
    b = Batcher(BatchLimits(max_records=1))
    keys = {b.add("text", b"x")[0].idempotency_key for _ in range(100)}
    assert len(keys) == 100


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ('{"message": "hi"}', "json"),
        ('  {"a": 1}  ', "json"),
        ("[1, 2]", "text"),
        ('{"x": NaN}', "text"),
        ('{"x": Infinity}', "text"),
        ('{"broken": ', "text"),
        ('{"s": "\\ud800"}', "text"),
        ("{" * 70 + "}" * 70, "text"),
        ('{"n": ' + "9" * 5000 + "}", "text"),
        ("ERROR plain", "text"),
    ],
)
def test_auto_format(line: str, kind: str) -> None:
    assert classify_line(line, "auto", "acme")[0] == kind


def test_json_format_refuses_text_and_foreign_tenant() -> None:
    with pytest.raises(EncodeError):
        classify_line("plain", "json")
    with pytest.raises(EncodeError, match="tenant"):
        classify_line('{"tenant_id": "other", "m": 1}', "auto", "acme")
    assert classify_line('{"tenant_id": "acme", "m": 1}', "auto", "acme")[0] == "json"
    assert classify_line('{"m": 1}', "text")[0] == "text"


def test_str_with_line_break_stays_one_record() -> None:
    kind, data = encode_record("two\nlines")
    # A JSON string: a text record that keeps its line break (docs/contract.md §3).
    assert kind == "json" and json.loads(data) == "two\nlines"
    assert encode_record("one line")[0] == "text"
    assert encode_record("   ")[0] == "json"  # blank text would be no record at all
    with pytest.raises(EncodeError):
        encode_record({"x": float("nan")})


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_classify_never_fails_unexpectedly(line: str) -> None:
    try:
        kind, data = classify_line(line, "auto", "acme")
    except EncodeError:
        return
    assert b"\n" not in data
    if kind == "json":
        value = json.loads(data)
        # An object, or a line the text body would not keep as it is, as a JSON string: a text record
        # (docs/contract.md §3).
        assert isinstance(value, dict) or value == line.encode("utf-8", "replace").decode("utf-8")
    else:
        assert data.decode("utf-8")


def _reference_batches(limits: BatchLimits, records: list[tuple[str, bytes]]) -> list[tuple[str, bytes, int]]:
    """The batching rules as a plain model (one growing body per kind): what Batcher must produce."""
    out: list[tuple[str, bytes, int]] = []
    open_: dict[str, tuple[bytes, int]] = {}
    for kind, data in records:
        if kind in open_ and len(open_[kind][0]) + 1 + len(data) > limits.max_bytes:
            out.append((kind, *open_.pop(kind)))
        body, count = open_.get(kind, (b"", 0))
        body, count = (body + b"\n" + data if count else data), count + 1
        open_[kind] = (body, count)
        if count >= limits.max_records or len(body) >= limits.max_bytes:
            out.append((kind, *open_.pop(kind)))
    return out + [(kind, body, count) for kind, (body, count) in open_.items()]


@settings(max_examples=500, deadline=None)
@given(
    st.integers(min_value=1, max_value=6),
    st.integers(min_value=1024, max_value=1030),
    # Sizes near the limit and small ones, so that bodies land on max_bytes and one past it.
    st.lists(
        st.tuples(
            st.sampled_from(["json", "text"]),
            st.one_of(st.integers(min_value=0, max_value=6), st.integers(min_value=1010, max_value=1031)),
        ),
        max_size=40,
    ),
)
def test_batches_follow_the_limits_exactly(
    max_records: int, max_bytes: int, sizes: list[tuple[str, int]]
) -> None:
    limits = BatchLimits(max_records=max_records, max_bytes=max_bytes)
    records = [(kind, bytes([97 + i % 26]) * size) for i, (kind, size) in enumerate(sizes)]
    b = Batcher(limits)
    got = [x for kind, data in records for x in b.add(kind, data)]  # type: ignore[arg-type]
    got += b.flush()
    assert [(x.kind, x.body, x.count) for x in got] == _reference_batches(limits, records)
    for kind in ("json", "text"):
        assert [i for x in got if x.kind == kind for i in x.items()] == [d for k, d in records if k == kind]


# Sizes around the limits' edges (a body of exactly max_bytes, one byte over) as well as any.
SIZES = st.sampled_from([0, 1, 2, 255, 510, 511, 1022, 1023, 1024, 1025]) | st.integers(0, 700)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(SIZES, max_size=12), max_size=8),
    st.integers(1, 12),
    st.sampled_from([1024, 1025, 2047, 3000]),
)
def test_add_many_is_add_of_each(chunks: list[list[int]], max_records: int, max_bytes: int) -> None:
    """The same batches (count, body, age) as adding the items one by one, whatever the chunks."""
    limits = BatchLimits(max_records=max_records, max_bytes=max_bytes)
    clock = FakeClock()
    one, many = Batcher(limits, clock=clock), Batcher(limits, clock=clock)
    by_one: list[tuple[int, bytes, float]] = []
    by_many: list[tuple[int, bytes, float]] = []
    for i, sizes in enumerate(chunks):
        clock.now = float(i)
        items = [bytes([97 + j % 26]) * size for j, size in enumerate(sizes)]
        for data in items:
            by_one += [(b.count, b.body, b.created) for b in one.add("text", data)]
        by_many += [(b.count, b.body, b.created) for b in many.add_many("text", items)]
        assert by_many == by_one and many.pending == one.pending
    assert [(b.count, b.body, b.created) for b in many.flush()] == [
        (b.count, b.body, b.created) for b in one.flush()
    ]
