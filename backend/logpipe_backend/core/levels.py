"""Log levels: from a record's level field, and from the start of a text line.

Every result is one of :data:`logpipe_backend.core.record.LEVELS`. Numbers follow two conventions:
pino/bunyan (10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal; values in between round down to
their decade) and syslog severities 0–7: 0 emerg, 1 alert, 2 crit → fatal; 3 err → error; 4 warning → warn;
5 notice, 6 info → info; 7 debug → debug.
"""

from __future__ import annotations

import re
from itertools import repeat
from operator import attrgetter, itemgetter
from typing import Final, cast

from logpipe_backend.core.timefmt import leading_timestamp

# Names in lower case → level. Besides the six levels: common spellings from syslog, Log4j/Logback,
# java.util.logging, Python logging, Go, .NET and Serilog, and single letters (glog, Android logcat).
LEVEL_ALIASES: Final[dict[str, str]] = {
    "trace": "trace", "trc": "trace", "finest": "trace", "finer": "trace", "verbose": "trace", "t": "trace",
    "v": "trace",
    "debug": "debug", "dbg": "debug", "fine": "debug", "d": "debug",
    "info": "info", "inf": "info", "information": "info", "informational": "info", "notice": "info",
    "config": "info", "i": "info", "n": "info",
    "warn": "warn", "warning": "warn", "wrn": "warn", "w": "warn",
    "error": "error", "err": "error", "eror": "error", "severe": "error", "e": "error",
    "fatal": "fatal", "critical": "fatal", "crit": "fatal", "alert": "fatal", "emerg": "fatal",
    "emergency": "fatal", "panic": "fatal", "ftl": "fatal", "f": "fatal", "c": "fatal",
}  # fmt: skip

# Single letters are fine in a level field, but too ambiguous as the first word of a text line ("A ...",
# "I think"); in text they count only in brackets or glog form.
# Likewise words that are common prose ("Fine, ...", "Config loaded", "Alert sent to ...").
_PROSE_WORDS: Final = frozenset(
    {"fine", "finer", "finest", "config", "alert", "severe", "verbose", "information"}
)
_TEXT_WORD_ALIASES: Final = {k: v for k, v in LEVEL_ALIASES.items() if len(k) > 1 and k not in _PROSE_WORDS}

SYSLOG_SEVERITY: Final = ("fatal", "fatal", "fatal", "error", "warn", "info", "info", "debug")
_PINO_DECADES: Final = {1: "trace", 2: "debug", 3: "info", 4: "warn", 5: "error", 6: "fatal"}

_INT_RE: Final = re.compile(r"\d{1,3}")
# After the optional timestamp: a token in brackets / angle brackets, a bare word followed by a separator,
# or a glog header (E1126 03:44:56.123456 ...).
_TEXT_LEVEL_RE: Final = re.compile(
    r"\s*(?:"
    r"[\[<(]\s*([A-Za-z]{1,13})\s*[\]>)]"  # [warn] <ERROR> (info)
    r"|([A-Za-z]{2,13})(?=$|[\s:|\]\-,;])"  # ERROR ..., Warning: ..., panic: ...
    r"|([IWEF])\d{4}[ ]"  # glog: severity letter + MMDD
    r")"
)
# logfmt / key=value style: level=error, lvl="warn", severity=ERROR, anywhere among leading key=value pairs.
_KV_LEVEL_RE: Final = re.compile(
    r"""(?:^|\s)(?:level|lvl|severity|loglevel)\s*[=:]\s*["']?([A-Za-z]+)""", re.IGNORECASE
)
_KV_SCAN_CHARS: Final = 256  # only the start of a line: a level mentioned deep inside a message is prose


def _from_int(n: int) -> str | None:
    if 0 <= n <= 7:
        return SYSLOG_SEVERITY[n]
    if 10 <= n < 70:
        return _PINO_DECADES[n // 10]
    return None


def level_from_value(value: object) -> str | None:
    """The level named by a field value (a name or alias in any case, or a pino/syslog number), or None."""
    if type(value) is str and value in LEVEL_ALIASES:  # already a key (lower case, no blanks): as below
        return LEVEL_ALIASES[value]
    if isinstance(value, str):
        key = value.strip().lower()
        level = LEVEL_ALIASES.get(key)
        if level is None and _INT_RE.fullmatch(key):
            return _from_int(int(key))
        return level
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return _from_int(value)
    if isinstance(value, float) and value.is_integer():
        return _from_int(int(value))
    return None


def level_from_text(line: str, start: int | None = None) -> str | None:
    """The level a text line announces near its start, after an optional leading timestamp, or None.

    Recognised: ``ERROR ...``, ``[warn] ...``, ``<info>``, ``level=error`` / ``lvl="warn"`` among leading
    key=value pairs, and glog's ``E1126 03:44:56.123456 ...``.
    """
    if start is None:  # normalize passes where its own leading_timestamp call ended: parsed once a line
        _, start = leading_timestamp(line)
    m = _TEXT_LEVEL_RE.match(line, start)
    if m:
        bracketed, word, glog = m.groups()
        if bracketed:
            level = LEVEL_ALIASES.get(bracketed.lower())
        elif word:
            level = _TEXT_WORD_ALIASES.get(word.lower())
        else:
            level = LEVEL_ALIASES[glog.lower()]
        if level:
            return level
    kv = _KV_LEVEL_RE.search(line, 0, _KV_SCAN_CHARS)
    if kv:
        return LEVEL_ALIASES.get(kv.group(1).lower())
    return None


_LAST_GROUP: Final = attrgetter("lastindex")
_WORD_GROUP: Final = itemgetter(2)
_WORDS_ONLY: Final = frozenset({2})


def levels_from_text(lines: list[str], start: int) -> list[str | None]:
    """``level_from_text(line, start)`` of each line; in C-level passes over all of them when every line's
    level is a known bare word there (``<timestamp> ERROR …``, the shape normalize's column path sees), else
    line by line: :func:`level_from_text` is the definition, the pass is only its common case at once."""
    matches = list(map(_TEXT_LEVEL_RE.match, lines, repeat(start)))
    found = cast(list[re.Match[str]], matches)
    if None not in matches and {*map(_LAST_GROUP, found)} == _WORDS_ONLY:  # group 2: the bare word
        levels = list(map(_TEXT_WORD_ALIASES.get, map(str.lower, map(_WORD_GROUP, found))))
        if None not in levels:
            return levels
    return list(map(level_from_text, lines, repeat(start)))
