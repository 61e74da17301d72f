"""Joining the lines of one log record before it is sent: ``send_lines(multiline=...)``, ``logpipe send
--multiline auto|none|REGEX`` (issue 14).

A stack trace is one event written over many lines; sent line by line it becomes a dozen ``info`` records
with the level and time on the first only. Here a line either starts a record or continues the one before:

- ``auto``: a line continues the record when it is indented (Java's ``\\tat …`` and ``\\t... 3 more``,
  Python's frames, Node's ``    at fn (file:1:2)``, Go's ``\\t/src/x.go:8 +0x1d``, any indented
  continuation), or is one of the unindented lines of a trace: Java's ``Caused by:`` / ``Suppressed:``
  and a qualified exception name (``java.lang.IllegalStateException: boom``), Python's ``Traceback (most
  recent call last):``, its chaining sentences and the ``XxxError: message`` line that ends a traceback,
  Go's ``goroutine 1 [running]:`` and, after it, its unindented frames (``main.main()``, ``created by``).
  Blank lines inside a record (between Go's or Python's parts) belong to it when the record goes on after
  them. A JSON object line is a record of its own (joined, it would be sent as text).
- ``REGEX``: a line matching it (``re.match``: at the line's start) starts a record; any other continues.
- ``none``: every line is a record (as before).

A joined record is its lines joined with ``\\n``; the server reads its time, level and format from the
first line (contract.md §3: sent as a JSON string). Memory is bounded: a record that would grow past what the
server takes (256 KiB as a JSON string) is cut there and the line starts a new record. A record whose next
line has not come within ``HOLD_SECONDS`` (a slow stream) is released as it is.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from operator import itemgetter
from typing import Final

__all__ = ["HOLD_SECONDS", "LineJoiner", "joiner_for"]

MAX_JOINED_BYTES: Final = 256 * 1024 - 2  # the server's record limit, less a JSON string's quotes
# A logger writes one record's lines together (one write), so a short quiet means the record is complete; it
# adds to the batch age limit on a slow stream (`tail -f`), so it is kept well under it.
HOLD_SECONDS: Final = 0.3

_BLANKS: Final = " \t"
# First characters of a line that may continue a record in auto mode. Any other first character (a digit,
# "{", "[", "<") starts a record without a further look, which keeps ordinary lines cheap.
_MAY_CONTINUE: Final = frozenset(
    ["", *" \t\r\n\f\v$_", *"abcdefghijklmnopqrstuvwxyz", *"ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
)
_FIRST_CHAR: Final = itemgetter(slice(0, 1))
# Unindented lines that always continue a trace (Java, Python, Go).
_CONTINUES_RE: Final = re.compile(
    r"Caused by: |Suppressed: |Traceback \(most recent call last\):"
    r"|During handling of the above exception|The above exception was the direct cause"
    r"|goroutine \d+ \[[^\]]*\]:"
    # A qualified Java/Kotlin/Scala exception name, alone or with its message.
    r"|(?:[A-Za-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)(?::|\s*$)"
)
# Python's last traceback line: an exception name, maybe qualified, alone or with ": message".
_PYTHON_EXCEPTION_RE: Final = re.compile(r"[A-Za-z_][\w.]*(?::|\s*$)")
# Go's unindented frame lines after a goroutine header: a call (``main.(*T).run(...)``: a name, maybe
# holding parentheses, up to an opening one, and a line ending in ")"), or where the goroutine was created.
# No ".*" before a ")": on a line of "(((…" that would try every pair.
_GO_CALL_RE: Final = re.compile(r"[\w./*()\[\]-]+\(")


def _json_bytes(line: str) -> int:
    """Bytes ``line`` takes inside a JSON string, plus 2 for the ``\\n`` escape joining it."""
    return len(json.dumps(line, ensure_ascii=False).encode("utf-8", "replace"))


class LineJoiner:
    """Joins the lines of ``send_lines`` into records; not thread-safe (``send_lines`` holds a lock).

    :meth:`feed` takes lines as read (with their line endings) and returns what is complete: single-line
    records as the very line objects given (so the classify fast path sees what it always saw), joined
    ones as one str without a final line ending, blank lines that are no part of a record as they came
    (so they are counted blank). One record is held back until the line after it shows whether it goes on.
    """

    def __init__(self, starts: re.Pattern[str] | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._starts = starts  # None: auto
        self._clock = clock
        self._lines: list[str] = []  # the held record's lines, without line endings (when over one)
        self._first: str | None = None  # the held record's first line, as read
        self._size = 0  # its bytes as a JSON string, once it has more than one line
        self._blanks: list[str] = []  # blank lines after it, not yet known to be part of it
        self._trace = ""  # auto: "python" or "go" once the held record shows such a trace
        self._held_at = 0.0
        self.joined = 0  # lines that went into a record after its first (counted once released)

    def feed(self, lines: list[str]) -> list[str]:
        out: list[str] = []
        # Common case: no line here can continue anything, so each one starts a record: what is held and
        # all but the last line are complete (C-level passes instead of a Python step a line).
        if (
            lines
            and not self._blanks
            and self._starts is None
            and set(map(_FIRST_CHAR, lines)).isdisjoint(_MAY_CONTINUE)
        ):
            self._release(out)
            out += lines[:-1]
            self._hold(lines[-1])
            return out
        for line in lines:
            self._add(line, out)
        return out

    def take(self, lines: list[str], final: bool = False) -> tuple[list[str], int]:
        """:meth:`feed` of ``lines`` and what is then complete (all of it when the input ended: ``final``);
        and how many lines went into those records after their first."""
        before = self.joined
        out = self.feed(lines) if lines else []
        out += self.flush() if final else self.due()
        return out, self.joined - before

    def due(self) -> list[str]:
        """The held record, when no line has come for it within HOLD_SECONDS; else nothing."""
        if self._first is not None and self._clock() - self._held_at >= HOLD_SECONDS:
            return self.flush()
        return []

    def flush(self) -> list[str]:
        """Everything held (at the end of the input)."""
        out: list[str] = []
        self._release(out)
        out.extend(self._blanks)
        self._blanks = []
        return out

    def pending(self) -> bool:
        return self._first is not None

    # -- one line at a time --------------------------------------------------------------------------------

    def _hold(self, line: str) -> None:
        self._first = line
        self._lines = []
        self._size = 0
        self._trace = ""
        self._held_at = self._clock()

    def _release(self, out: list[str]) -> None:
        if self._first is None:
            return
        if self._lines:
            out.append("\n".join(self._lines))
            self.joined += len(self._lines) - 1
        else:
            out.append(self._first)
        self._first = None
        self._lines = []

    def _add(self, line: str, out: list[str]) -> None:
        if type(line) is not str:  # a caller's bad line: a record of its own, for classify to refuse
            self._release(out)
            out += self._blanks
            self._blanks = []
            out.append(line)
            return
        if not line or line.isspace():
            if self._first is None:
                out.append(line)
            else:
                self._blanks.append(line)
            return
        if self._first is not None and self._continues(line):
            text = line.rstrip("\r\n")
            if not self._lines:
                self._lines = [self._first.rstrip("\r\n")]
                self._size = _json_bytes(self._lines[0]) - 2
            blanks = [b.rstrip("\r\n") for b in self._blanks]
            size = self._size + sum(map(_json_bytes, blanks)) + _json_bytes(text)
            if size <= MAX_JOINED_BYTES:
                self._lines += blanks
                self._lines.append(text)
                self._size = size
                self._blanks = []
                self._held_at = self._clock()
                self._note_trace(text)
                return
            # Over the limit: the record is cut here, and this line starts the next one.
        self._release(out)
        out.extend(self._blanks)
        self._blanks = []
        self._hold(line)
        if self._starts is None:
            self._note_trace(line)

    def _continues(self, line: str) -> bool:
        if self._starts is not None:
            return self._starts.match(line) is None
        if self._first is not None and self._first.startswith("{"):
            return False  # a JSON object line is a record of its own: joined, it would be sent as text
        first = line[0]
        if first in _BLANKS:
            return True
        if first not in _MAY_CONTINUE:
            return False
        if _CONTINUES_RE.match(line):
            return True
        if self._trace == "python":
            return _PYTHON_EXCEPTION_RE.match(line) is not None
        if self._trace == "go":
            if line.startswith("created by "):
                return True
            return line.rstrip().endswith(")") and _GO_CALL_RE.match(line) is not None
        return False

    def _note_trace(self, text: str) -> None:
        if self._starts is not None:
            return
        if text.startswith("Traceback (most recent call last):"):
            self._trace = "python"
        elif text.startswith("goroutine "):
            self._trace = "go"
        elif (
            self._trace == "python"
            and text[:1] not in _BLANKS
            and not text.startswith(("During", "The above"))
        ):
            self._trace = ""  # the exception line ended this traceback; a chained one may follow


def joiner_for(multiline: str, clock: Callable[[], float] = time.monotonic) -> LineJoiner | None:
    """The joiner for ``auto``, ``none`` (None: no joining) or a regex; ValueError for a bad regex."""
    if multiline == "none":
        return None
    if multiline == "auto":
        return LineJoiner(None, clock)
    try:
        starts = re.compile(multiline)
    except re.error as exc:
        raise ValueError(f"--multiline: not a regular expression: {exc}") from None
    return LineJoiner(starts, clock)
