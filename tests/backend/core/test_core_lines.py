"""core.lines: numbered non-blank lines in bounded memory; long-line detection in linear time."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_backend.core.body import parse_records
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.limits import MIB, Limits
from logpipe_backend.core.lines import first_line_longer_than, nonblank_lines


def test_nonblank_lines_numbers_and_skips_blank_lines() -> None:
    text = "a\n\n  \n\tb \r\n\r\nc"
    expected = [(1, "a"), (4, "\tb \r"), (6, "c")]
    assert list(nonblank_lines(text, 1000)) == expected
    assert list(nonblank_lines(text, 0)) == expected  # the scanning path


LINE_TEXT = st.lists(
    st.text(
        alphabet=st.sampled_from(["a", " ", "\t", "\r", "\u2028", "\u00a0", "é", "{", "\x0b"]), max_size=5
    ),
    max_size=12,
).map("\n".join)


@given(LINE_TEXT)
def test_both_paths_agree(text: str) -> None:
    split_path = list(nonblank_lines(text, 10**6))
    scan_path = list(nonblank_lines(text, 0))
    assert split_path == scan_path
    naive = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    assert split_path == naive


def _naive_longest(data: bytes, limit: int) -> int | None:
    for number, line in enumerate(data.split(b"\n"), 1):
        if len(line.removesuffix(b"\r")) > limit:
            return number
    return None


@given(
    st.lists(st.sampled_from([b"", b"a", b"ab", b"abc", b"ab\r", b"abcd", b"\r", b"abc\r"]), max_size=10),
    st.integers(0, 4),
)
def test_first_line_longer_than_matches_naive(lines: list[bytes], limit: int) -> None:
    data = b"\n".join(lines)
    assert first_line_longer_than(data, limit) == _naive_longest(data, limit)


def test_first_line_longer_than_is_linear() -> None:
    data = (b"x" * 999 + b"\n") * 16_000  # 16 MB of lines just under the limit
    started = time.perf_counter()
    assert first_line_longer_than(data, 1000) is None
    assert first_line_longer_than(data + b"y" * 1001, 1000) == 16_001
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    ("data", "kind", "limit"),
    [
        (b"\n" * (16 * MIB - 1) + b"x", "text", None),
        (b"a\n" * (8 * MIB), "text", "records"),
        (b"{}\n" * (5 * MIB), "ndjson", "records"),
        (b" \r\n" * (5 * MIB) + b"{}", "ndjson", None),
    ],
)
def test_millions_of_lines_in_bounded_memory(data: bytes, kind: str, limit: str | None) -> None:
    tracemalloc.start()
    try:
        started = time.perf_counter()
        try:
            records = parse_records(data, kind, Limits())
        except ApiError as err:
            assert err.detail["limit"] == limit
        else:
            assert limit is None
            assert len(records) == 1
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * len(data), peak  # the body as bytes and as str, not a list of millions of lines
    assert elapsed < 3.0
