"""Syslog lines (RFC 5424 and RFC 3164) → the parts of a record.

Both start with ``<PRI>`` when they come off the wire; a 3164 line as written to a file (``Dec  6 00:25:01
host app[7]: …``) has no PRI. PRI = facility × 8 + severity (RFC 5424 §6.2.1). The record's level is the
level word that starts the message when there is one (``app[7]: ERROR payment failed`` → error: the
application knew better than the facility.severity its logger was configured with), else PRI's severity.
The message is what follows the header; every header part is kept (timestamp, ``host``, ``app``, ``pid``,
``msgid``, ``facility``, ``severity``, ``structured_data``), so nothing of the line is lost.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Final, NamedTuple

from logpipe_backend.core.levels import SYSLOG_SEVERITY, level_from_text
from logpipe_backend.core.timefmt import parse_event_time

FACILITIES: Final = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
    "ntp", "security", "console", "solaris-cron", "local0", "local1", "local2", "local3", "local4", "local5",
    "local6", "local7",
)  # fmt: skip
SEVERITIES: Final = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
_MONTH_NAMES: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS: Final = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}

_DAY_MS: Final = 86_400_000
_NIL: Final = "-"
# RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]; header
# fields are printable US-ASCII without blanks. SD is "-" or one or more [ID param="value"...] elements, in
# which `"`, `\` and `]` are escaped with a backslash (§6.3.3).
_SD_ELEMENT: Final = r'\[[^\s\]=" ]+(?:\s+[^\s=\]"]+="(?:[^"\\]|\\.)*+")*+\s*\]'
_RFC5424_RE: Final = re.compile(
    r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:" + _SD_ELEMENT + r")++)(?: (.*))?", re.DOTALL
)
_SD_ELEMENT_RE: Final = re.compile(r'\[([^\s\]=" ]+)((?:\s+[^\s=\]"]+="(?:[^"\\]|\\.)*+")*+)\s*\]')
_SD_PARAM_RE: Final = re.compile(r'([^\s=\]"]+)="((?:[^"\\]|\\.)*+)"')
_SD_ESCAPE_RE: Final = re.compile(r'\\(["\\\]])')
# RFC 3164 §4.1: [<PRI>]Mmm dd hh:mm:ss HOSTNAME TAG[PID]: MSG (the day is space-padded). The tag is up to
# 32 characters in the RFC; real ones are longer (systemd units), so any run without blanks, "[" or ":".
_RFC3164_RE: Final = re.compile(
    r"(?:<(\d{1,3})>)?([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\S+) "
    r"(?:([^\s\[:]+)(?:\[(\d+)\])?: ?)?(.*)",
    re.DOTALL,
)


class TextParts(NamedTuple):
    """What a recognised text format makes of a line (see :mod:`.textformats`)."""

    event_ms: int | None
    level: str | None
    message: str
    attributes: dict[str, Any]


def _pri(text: str | None, attributes: dict[str, Any]) -> str | None:
    """The level of PRI's severity, with facility and severity names put in ``attributes``."""
    if text is None:
        return None
    pri = int(text)
    facility, severity = divmod(pri, 8)
    if facility < len(FACILITIES):
        attributes["facility"] = FACILITIES[facility]
    attributes["severity"] = SEVERITIES[severity]
    return SYSLOG_SEVERITY[severity]


def _number_or_text(value: str) -> int | str:
    return int(value) if value.isdigit() and len(value) < 19 else value


def _structured_data(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for element in _SD_ELEMENT_RE.finditer(text):
        params = out.setdefault(element.group(1), {})
        for name, value in _SD_PARAM_RE.findall(element.group(2)):
            params[name] = _SD_ESCAPE_RE.sub(r"\1", value)
    return out


def _message_level(message: str) -> str | None:
    return level_from_text(message, 0) if message else None


def parse_rfc5424(line: str) -> TextParts | None:
    m = _RFC5424_RE.fullmatch(line)
    if m is None or int(m.group(1)) > 191:  # PRI is at most 23 × 8 + 7
        return None
    pri, timestamp, host, app, procid, msgid, sd, message = m.groups()
    attributes: dict[str, Any] = {}
    pri_level = _pri(pri, attributes)
    for name, value in (("host", host), ("app", app), ("pid", procid), ("msgid", msgid)):
        if value != _NIL:
            attributes[name] = _number_or_text(value) if name == "pid" else value
    if sd != _NIL:
        attributes["structured_data"] = _structured_data(sd)
    message = message or ""
    if message.startswith("\ufeff"):  # §6.4: a UTF-8 MSG may start with a BOM
        message = message[1:]
    event_ms = None if timestamp == _NIL else parse_event_time(timestamp)
    return TextParts(event_ms, _message_level(message) or pri_level, message, attributes)


def infer_year_ms(month: int, day: int, ms_of_day: int, received_ms: int) -> int | None:
    """Epoch ms of a yearless date: the most recent year in which it is at most a day after
    ``received_ms`` (a clock a little ahead of ours must not put today's line a year back). None when
    the date exists in none of the years tried (e.g. Feb 30)."""
    year = date.fromordinal(719_163 + received_ms // _DAY_MS).year  # 719_163: the ordinal of 1970-01-01
    for candidate in range(year + 1, year - 8, -1):  # Feb 29 recurs within 8 years
        try:
            days = date(candidate, month, day).toordinal() - 719_163
        except ValueError:
            continue
        ms = days * _DAY_MS + ms_of_day
        if ms <= received_ms + _DAY_MS:
            return ms
    return None


def parse_rfc3164(line: str, received_ms: int) -> TextParts | None:
    m = _RFC3164_RE.fullmatch(line)
    if m is None:
        return None
    pri, month_name, day, hh, mi, ss, host, tag, pid, message = m.groups()
    month = MONTHS.get(month_name)
    hours, minutes, seconds = int(hh), int(mi), int(ss)
    if month is None or hours > 23 or minutes > 59 or seconds > 60 or (pri is not None and int(pri) > 191):
        return None
    attributes: dict[str, Any] = {}
    pri_level = _pri(pri, attributes)
    attributes["host"] = host
    if tag is not None:
        attributes["app"] = tag
    if pid is not None:
        attributes["pid"] = _number_or_text(pid)
    # No zone in 3164: read as UTC, like a 5424 timestamp without an offset.
    ms_of_day = (hours * 3600 + minutes * 60 + seconds) * 1000
    event_ms = infer_year_ms(month, int(day), ms_of_day, received_ms)
    return TextParts(event_ms, _message_level(message) or pri_level, message, attributes)
