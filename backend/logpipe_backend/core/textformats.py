"""Text formats recognised in a text line: syslog, access logs, logfmt, Python logging (issue 14).

:func:`recognise` is asked about every text line that does not start with a timestamp in the record's own
format, so it must say "none of them" cheaply: it looks at the first character (and for a few candidates
the first word) before any regex runs. A line is one of:

- **syslog**, RFC 5424 or RFC 3164, with or without PRI (:mod:`.syslog`): starts with ``<`` + digit, or a
  month abbreviation and a blank;
- **nginx/Apache access log**, common or combined: ``host ident user [dd/Mon/yyyy:hh:mm:ss zone] "request"
  status bytes ["referrer" "user agent"]``; level ``error`` for 5xx, ``warn`` for 4xx, else ``info``;
- **Python logging**: its default ``LEVEL:logger:message`` (``logging.basicConfig()``) and the cookbook's
  ``asctime - logger - LEVEL - message``;
- **logfmt**: every token ``key=value`` or ``key="quoted value"`` (a line with a bare word among its pairs,
  ``count=5 items done``, is prose and stays plain). The pairs are a record like a JSON object (the
  caller maps ``level``/``msg``/``time``/``ts`` alike).

Anything else is a plain line, as before: the message is the line, with a leading timestamp and level word
read from it. Where a format has a free-text part (syslog's MSG, Python's message) that is the message and
the header's parts are fields and attributes; an access log line has none, so the line is the message.
"""

from __future__ import annotations

import re
from typing import Any, Final

from logpipe_backend.core.levels import LEVEL_ALIASES
from logpipe_backend.core.syslog import MONTHS, TextParts, parse_rfc3164, parse_rfc5424
from logpipe_backend.core.timefmt import leading_timestamp

# Common Log Format (+ combined's referrer and user agent), as nginx's and Apache's default `combined`.
_ACCESS_RE: Final = re.compile(
    r"(\S+) (\S+) (\S+) \[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "
    r'"((?:[^"\\]|\\.)*+)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*+)" "((?:[^"\\]|\\.)*+)")?(.*)',
    re.DOTALL,
)
_REQUEST_RE: Final = re.compile(r"([A-Z]+) (\S+)(?: (HTTP/[\d.]+))?")
# logfmt: key=value or key="quoted \\" value", separated by blanks. The line is checked whole in one
# possessive (linear) match, then its pairs are read in one findall: no Python step per character.
_LOGFMT_VALUE: Final = r'(?:"(?:[^"\\]|\\.)*+"|[^\s"]*+)'
_LOGFMT_LINE_RE: Final = re.compile(rf'[^\s="]++={_LOGFMT_VALUE}(?:\s++[^\s="]++={_LOGFMT_VALUE})*+\s*+')
_LOGFMT_PAIR_RE: Final = re.compile(r'([^\s="]++)=(?:"((?:[^"\\]|\\.)*+)"|([^\s"]*+))')
_LOGFMT_ESCAPE_RE: Final = re.compile(r'\\(["\\])')
_PYTHON_LEVELS: Final = r"(DEBUG|INFO|WARNING|ERROR|CRITICAL)"
_PYTHON_DEFAULT_RE: Final = re.compile(_PYTHON_LEVELS + r":([^:\s]*):(.*)", re.DOTALL)
_PYTHON_COOKBOOK_RE: Final = re.compile(r" - (\S+) - " + _PYTHON_LEVELS + r" - (.*)", re.DOTALL)
_ACCESS_FIRST: Final = frozenset("0123456789abcdefABCDEF:")  # an IPv4 or IPv6 address


def _unquote(value: str | None) -> str | None:
    if value is None or value == "-":
        return None
    return value.replace('\\"', '"').replace("\\\\", "\\") if "\\" in value else value


def parse_access_log(line: str) -> TextParts | None:
    m = _ACCESS_RE.fullmatch(line)
    if m is None:
        return None
    (remote, _ident, user, day, month_name, year, hh, mi, ss, sign, off_h, off_m, request, status, size,
     referrer, agent, _rest) = m.groups()  # fmt: skip
    # The access time, through the one ISO parser (it checks the date and the offset).
    month = MONTHS.get(month_name)
    iso = f"{year}-{month or 0:02d}-{day}T{hh}:{mi}:{ss}{sign}{off_h}:{off_m}"
    event_ms, end = leading_timestamp(iso)
    if month is None or event_ms is None or end != len(iso):
        return None
    attributes: dict[str, Any] = {"remote_addr": remote}
    if user != "-":
        attributes["user"] = user
    request_text = _unquote(request) or ""
    req = _REQUEST_RE.fullmatch(request_text)
    if req is not None:
        attributes["method"], attributes["path"] = req.group(1), req.group(2)
        if req.group(3):
            attributes["protocol"] = req.group(3)
    elif request_text:
        attributes["request"] = request_text  # e.g. a TLS handshake sent to a plain-HTTP port
    code = int(status)
    attributes["status"] = code
    if size != "-":
        attributes["bytes"] = int(size)
    for name, value in (("referrer", referrer), ("user_agent", agent)):
        text = _unquote(value)
        if text is not None:
            attributes[name] = text
    level = "error" if code >= 500 else "warn" if code >= 400 else "info"
    return TextParts(event_ms, level, line, attributes)


def parse_logfmt(line: str) -> dict[str, Any] | None:
    """The pairs of a logfmt line (values as strings), or None when it is not one."""
    if _LOGFMT_LINE_RE.fullmatch(line) is None:
        return None
    return {
        key: (_LOGFMT_ESCAPE_RE.sub(r"\1", quoted) if "\\" in quoted else quoted) if quoted else bare
        for key, quoted, bare in _LOGFMT_PAIR_RE.findall(line)
    }


def parse_python_default(line: str) -> TextParts | None:
    m = _PYTHON_DEFAULT_RE.fullmatch(line)
    if m is None:
        return None
    level_name, logger, message = m.groups()
    return TextParts(None, LEVEL_ALIASES[level_name.lower()], message, {"logger": logger} if logger else {})


def parse_python_cookbook(line: str, event_ms: int, after_ts: int) -> TextParts | None:
    """``2026-12-06 00:25:01,123 - name - ERROR - message``: the part after the timestamp."""
    m = _PYTHON_COOKBOOK_RE.match(line, after_ts)
    if m is None or m.end() != len(line):
        return None
    logger, level_name, message = m.groups()
    return TextParts(event_ms, LEVEL_ALIASES[level_name.lower()], message, {"logger": logger})


def recognise(
    line: str, received_ms: int, event_ms: int | None = None, after_ts: int = 0
) -> TextParts | dict[str, Any] | None:
    """The parts of ``line`` in a format above (a dict of pairs for logfmt), or None for a plain line.
    ``event_ms`` and ``after_ts``: the line's leading ISO timestamp, as ``leading_timestamp`` read it."""
    if event_ms is not None:  # only Python's cookbook format starts with one
        if line.startswith(" - ", after_ts):
            return parse_python_cookbook(line, event_ms, after_ts)
        return None
    first = line[:1]
    if first == "<":
        if line[1:2].isdigit():
            return parse_rfc5424(line) or parse_rfc3164(line, received_ms)
        return None
    if line[3:4] == " " and line[:3] in MONTHS:
        return parse_rfc3164(line, received_ms)
    if first in _ACCESS_FIRST and '" ' in line:
        parts = parse_access_log(line)
        if parts is not None:
            return parts
    if first in "DIWEC" and ":" in line[:9]:
        parts = parse_python_default(line)
        if parts is not None:
            return parts
    if "=" in line:
        return parse_logfmt(line)
    return None
