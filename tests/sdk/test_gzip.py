"""logpipe._gzip: request bodies gzip-compressed by isal at the default level when installed, else by gzip."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe import _gzip

LINES = b"".join(b'{"level":"info","message":"request %d served","ms":%d}\n' % (i, i) for i in range(2000))


def test_isal_is_used_at_the_default_level() -> None:
    from isal import igzip  # a product dependency (optional at runtime only)

    assert _gzip.igzip is igzip
    body = _gzip.compress(LINES, 1)
    assert body == igzip.compress(LINES, compresslevel=1, mtime=0)
    assert body != gzip.compress(LINES, compresslevel=1, mtime=0)  # really isal's, not zlib's bytes
    assert gzip.decompress(body) == LINES


def test_other_levels_are_zlib_levels() -> None:
    assert _gzip.compress(LINES, 6) == gzip.compress(LINES, compresslevel=6, mtime=0)


def test_without_isal_the_standard_library(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_gzip, "igzip", None)
    assert _gzip.compress(LINES, 1) == gzip.compress(LINES, compresslevel=1, mtime=0)


@given(st.binary(max_size=5000))
def test_round_trip_and_deterministic(data: bytes) -> None:
    body = _gzip.compress(data, 1)
    assert gzip.decompress(body) == data
    assert _gzip.compress(data, 1) == body  # mtime 0: the same bytes for the same batch
