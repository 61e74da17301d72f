"""The non-blank lines of a text/NDJSON body, numbered, without building a list of every line.

A 16 MiB body of newlines is 16 million lines: ``str.split`` would make a list of them (128 MB of pointers)
before the record limit could stop anything. Bodies with a plausible number of lines take the fast
``split`` path; others are scanned with a regex that steps over blank lines in C, so the caller can stop
at ``limits.records`` + 1 records.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Final

# Up to this many lines a body is split at once to find an over-long line (see first_line_longer_than).
_SPLIT_MAX_LINES: Final = 100_000
# Up to this many lines per allowed record (blank lines included) a body is split at once.
_SPLIT_LINES_PER_RECORD: Final = 4
# A line with a non-space character, anchored at the line start and possessive: linear on any input.
_NONBLANK_LINE_RE: Final = re.compile(r"(?m)^[^\S\n]*+\S[^\n]*+")


def nonblank_lines(text: str, max_records: int) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its ``\\n``) for each line holding a non-space character."""
    if text.count("\n") <= max_records * _SPLIT_LINES_PER_RECORD:
        for number, line in enumerate(text.split("\n"), 1):
            if line and not line.isspace():
                yield number, line
        return
    number = 1
    previous = 0
    for m in _NONBLANK_LINE_RE.finditer(text):
        start = m.start()
        number += text.count("\n", previous, start)
        previous = start
        yield number, m.group()


def plain_lines(text: str, max_lines: int) -> list[str] | None:
    """Every line of ``text`` (without its ``\n``; a final newline ends the last line), when there are at
    most ``max_lines`` and none is blank — then they are what :func:`nonblank_lines` yields, numbered from
    1 without a gap; else None. C-level calls only, where the generator takes a Python step a line."""
    if text.count("\n") > max_lines:
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    if len(lines) > max_lines or "" in lines or any(map(str.isspace, lines)):
        return None
    return lines


@lru_cache(maxsize=8)
def _line_longer_than(limit: int) -> re.Pattern[bytes]:
    # limit + 1 non-newline bytes from a line start; the look-behind keeps every search position but line
    # starts from being tried, so the scan is linear.
    return re.compile(rb"(?<![^\n])[^\n]{%d}" % (limit + 1))


def first_line_longer_than(data: bytes, limit: int) -> int | None:
    """The 1-based number of the first line over ``limit`` bytes (a final ``\\r`` not counted), or None."""
    if len(data) <= limit:
        return None
    if data.count(b"\n") <= _SPLIT_MAX_LINES:
        # Split, then one C-level max(), where the regex below is tried at every byte. Only for a bounded
        # number of lines, so a body of newlines never becomes a huge list.
        lines = data.split(b"\n")
        if max(map(len, lines)) <= limit:
            return None
        for number, line in enumerate(lines, 1):
            if len(line) - (1 if line.endswith(b"\r") else 0) > limit:
                return number
        return None
    regex = _line_longer_than(limit)
    m = regex.search(data)
    while m is not None:
        start = m.start()
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        length = end - start - (1 if data[end - 1 : end] == b"\r" else 0)
        if length > limit:
            return data.count(b"\n", 0, start) + 1
        m = regex.search(data, end)
    return None
