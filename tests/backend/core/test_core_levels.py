"""core.levels: level from a field value and from a text line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from logpipe_backend.core import levels
from logpipe_backend.core.levels import LEVEL_ALIASES, level_from_text, level_from_value
from logpipe_backend.core.record import LEVELS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("trace", "trace"),
        ("DEBUG", "debug"),
        ("Info", "info"),
        ("warn", "warn"),
        ("WARNING", "warn"),
        ("error", "error"),
        ("err", "error"),
        ("fatal", "fatal"),
        ("critical", "fatal"),
        ("crit", "fatal"),
        ("alert", "fatal"),
        ("emerg", "fatal"),
        ("emergency", "fatal"),
        ("panic", "fatal"),
        ("notice", "info"),
        ("informational", "info"),
        (" error ", "error"),
        ("E", "error"),
        ("w", "warn"),
        ("severe", "error"),
        ("finest", "trace"),
        # pino / bunyan
        (10, "trace"),
        (20, "debug"),
        (30, "info"),
        (40, "warn"),
        (50, "error"),
        (60, "fatal"),
        (35, "info"),
        (30.0, "info"),
        ("40", "warn"),
        # syslog severities
        (0, "fatal"),
        (1, "fatal"),
        (2, "fatal"),
        (3, "error"),
        (4, "warn"),
        (5, "info"),
        (6, "info"),
        (7, "debug"),
        ("3", "error"),
    ],
)
def test_level_from_value(value: object, expected: str) -> None:
    assert level_from_value(value) == expected


@pytest.mark.parametrize(
    "value", [None, True, False, "", "loud", 8, 9, 70, 100, -1, 30.5, float("nan"), [], {}, "1000", "info!"]
)
def test_level_from_value_unknown(value: object) -> None:
    assert level_from_value(value) is None


@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans()))
def test_level_from_value_total(value: object) -> None:
    assert level_from_value(value) in (*LEVELS, None)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ERROR disk full", "error"),
        ("error: disk full", "error"),
        ("Warning: low memory", "warn"),
        ("[warn] low memory", "warn"),
        ("[ ERROR ] boom", "error"),
        ("<info> started", "info"),
        ("(debug) x", "debug"),
        ("[E] x", "error"),
        ("2025-11-26T03:44:56.123Z ERROR disk full", "error"),
        ("2025-11-26 03:44:56,123 WARN [main] x", "warn"),
        ("[2025-11-26T03:44:56Z] [fatal] x", "fatal"),
        ("level=error msg=boom", "error"),
        ('time=2025-11-26T03:44:56Z level="warn" msg=x', "warn"),
        ("ts=1 lvl=debug x", "debug"),
        ("severity: ERROR something", "error"),
        ("E1126 03:44:56.123456 12345 main.go:42] boom", "error"),
        ("W1126 03:44:56.123456 12345 main.go:42] careful", "warn"),
        ("I1126 03:44:56.123456 1 x.cc:1] hi", "info"),
        ("F1126 03:44:56.123456 1 x.cc:1] dead", "fatal"),
        ("panic: runtime error: index out of range", "fatal"),
        ("CRITICAL the reactor", "fatal"),
        ("TRACE enter", "trace"),
        ("ERROR", "error"),
    ],
)
def test_level_from_text(line: str, expected: str) -> None:
    assert level_from_text(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "",
        "hello world",
        "Errors are rare",  # a longer word, not a level token
        "I think so",  # single letters count only in brackets or glog form
        "A quick note",
        "Fine, thanks",
        "Alert sent to on-call",
        "Config loaded",
        "a long message" + " x" * 200 + " level=error",  # far from the start: prose, not a field
        "E12 short",
        "[main] started",
    ],
)
def test_level_from_text_none(line: str) -> None:
    assert level_from_text(line) is None


@given(st.text(max_size=300))
def test_level_from_text_total(line: str) -> None:
    assert level_from_text(line) in (*LEVELS, None)


def _level_reference(value: object) -> str | None:
    """level_from_value before its exact-key shortcut."""
    if isinstance(value, str):
        key = value.strip().lower()
        level = LEVEL_ALIASES.get(key)
        if level is None and levels._INT_RE.fullmatch(key):
            return levels._from_int(int(key))
        return level
    return level_from_value(value)


@given(
    st.sampled_from([*LEVEL_ALIASES, "WARN", " info", "Error ", "30", "007", "1000", "\u0663"])
    | st.text(max_size=8)
)
def test_level_from_value_strings(value: str) -> None:
    assert level_from_value(value) == _level_reference(value)


# Pieces of a line's start: bare words (levels, aliases kept for brackets only, prose), brackets, glog
# headers, key=value pairs, blanks and separators.
LINE_PIECES = st.sampled_from(
    [
        "ERROR", "warn", "Warning", "INFO", "info:", "fine", "Fine,", "E", "I", "x", "hello", "panic:",
        "[warn]", "<ERROR>", "(info)", "[ debug ]", "E1126 ", "W0101 ", "level=error", "lvl=\"warn\"", " ",
        "\t", ":", "|", "-", ",", "[", "]", "12", "Ωmega", "ERRORS",
    ]
)  # fmt: skip


@given(st.lists(st.lists(LINE_PIECES, max_size=5).map("".join), min_size=1, max_size=6), st.integers(0, 3))
def test_levels_from_text_is_level_from_text_of_each(lines: list[str], start: int) -> None:
    assert levels.levels_from_text(lines, start) == [level_from_text(line, start) for line in lines]


def test_levels_from_text_of_bare_words_and_others() -> None:
    assert levels.levels_from_text(["T ERROR x", "T Warning: y", "T info"], 2) == ["error", "warn", "info"]
    assert levels.levels_from_text(["T ERROR x", "T hi lvl=debug", "T fine"], 2) == ["error", "debug", None]
    assert levels.levels_from_text(["T ERROR x", "T [warn] y", "T hello lvl=debug"], 2) == [
        "error",
        "warn",
        "debug",
    ]
