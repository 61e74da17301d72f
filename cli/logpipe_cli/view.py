"""How ``query`` and ``tail`` show records: the output format, the time zone and colour (docs/contract.md §4).

A :class:`View` is chosen once from the flags; each format is one pure ``format_*`` function picked from
:data:`FORMATS`, as ``aws logs tail --format`` picks a formatter. Every one of them escapes log content
(see ``format.escape``); ``raw`` and ``detailed`` keep a message's own line breaks and tabs, shown as lines
of their own, because a traceback is only readable that way — every other control character is still
escaped, so no record can move the cursor or recolour the terminal.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from logpipe_cli.format import LEVEL_STYLES, escape, format_record_json
from logpipe_cli.format import format_record_text as format_text_line

__all__ = [
    "FORMATS",
    "OUTPUTS",
    "View",
    "format_record_detailed",
    "format_record_raw",
    "format_record_short",
    "resolve_color",
    "resolve_zone",
]

INDENT: Final = "    "


@dataclass(frozen=True)
class View:
    color: bool = False
    zone: tzinfo | None = UTC  # None: the system's local zone

    def when(self, timestamp: object) -> datetime | None:
        """The record's timestamp in the display zone; None when it is not a time (shown as it is)."""
        if not isinstance(timestamp, str):
            return None
        try:
            moment = datetime.fromisoformat(timestamp)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.zone)

    def timestamp(self, record: Mapping[str, Any], *, time_of_day: bool = False) -> str:
        raw = record.get("timestamp", "")
        moment = self.when(raw)
        if moment is None:
            return escape(str(raw))
        millis = f"{moment.microsecond // 1000:03d}"
        if time_of_day:
            return moment.strftime("%H:%M:%S.") + millis
        if self.zone is UTC:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + "Z"  # the stored form, unchanged
        offset = moment.strftime("%z")
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + millis + f"{offset[:3]}:{offset[3:]}"

    def level(self, record: Mapping[str, Any]) -> str:
        level = str(record.get("level", "info"))
        label = escape(level.upper()).ljust(5)
        return click.style(label, **LEVEL_STYLES.get(level, {})) if self.color else label

    def dim(self, text: str) -> str:
        return click.style(text, dim=True) if self.color else text


def resolve_zone(name: str) -> tzinfo | None:
    """``local`` (None: the system's zone, DST included), ``utc``, or an IANA name; raises BadParameter."""
    lowered = name.strip().lower()
    if lowered == "local":
        return None
    if lowered in ("utc", "z", "gmt"):
        return UTC
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"unknown time zone {name!r} (use local, utc, or an IANA name like Europe/Paris)",
            param_hint="'--timezone'",
        ) from None


def resolve_color(choice: str, *, isatty: bool, environ: Mapping[str, str] | None = None) -> bool:
    """``always``/``never`` win; ``auto`` colours a terminal unless ``NO_COLOR`` is set (no-color.org)."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    env = os.environ if environ is None else environ
    return isatty and not env.get("NO_COLOR")


def _lines(text: str) -> list[str]:
    """``text`` split at its own line breaks, each line escaped (tabs kept: they cannot move the cursor)."""
    return [escape(line).replace("\\t", "\t") for line in text.replace("\r\n", "\n").split("\n")]


def format_record_raw(record: Mapping[str, Any], view: View) -> str:
    """The message alone (``logcli -o raw``), its lines kept."""
    return "\n".join(_lines(str(record.get("message", ""))))


def format_record_short(record: Mapping[str, Any], view: View) -> str:
    """Time of day, level, message on one line (``aws logs tail --format short``)."""
    message = escape(str(record.get("message", "")))
    return f"{view.dim(view.timestamp(record, time_of_day=True))} {view.level(record)} {message}"


def format_record_text(record: Mapping[str, Any], view: View) -> str:
    """One line: time (in the display zone), level, message, key attributes."""
    return format_text_line(record, color=view.color, timestamp=view.timestamp(record))


def _flatten(attributes: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested objects as dotted keys (``db.host``), the names ``--where`` takes."""
    for key, value in attributes.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{name}.")
        else:
            yield name, value


def _field_lines(name: str, value: Any, view: View) -> list[str]:
    label = click.style(escape(name), fg="cyan") if view.color else escape(name)
    if isinstance(value, str):
        lines = _lines(value)
        if len(lines) > 1:  # a traceback: every line on its own, under its name
            return [f"{INDENT}{label}:"] + [f"{INDENT * 2}{line}" for line in lines]
        return [f"{INDENT}{label}: {lines[0]}"]
    shown = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return [f"{INDENT}{label}: {escape(shown)}"]


def format_record_detailed(record: Mapping[str, Any], view: View) -> str:
    """A header line, then the rest of the message and every attribute on indented lines of their own."""
    first, *rest = _lines(str(record.get("message", "")))
    out = [f"{view.dim(view.timestamp(record))} {view.level(record)} {first}"]
    out += [f"{INDENT}{line}" for line in rest]
    for name in ("log_id", "source", "client_log_id", "redactions"):
        if name in record and record[name] not in (None, 0):
            out += _field_lines(name, record[name], view)
    attributes = record.get("attributes")
    if isinstance(attributes, Mapping):
        for name, value in _flatten(attributes):
            out += _field_lines(name, value, view)
    return "\n".join(out)


FORMATS: Final[dict[str, Callable[[Mapping[str, Any], View], str]]] = {
    "text": format_record_text,
    "short": format_record_short,
    "detailed": format_record_detailed,
    "raw": format_record_raw,
    "json": lambda record, view: format_record_json(record),
}
OUTPUTS: Final = (*FORMATS, "table")  # table renders all records at once (format.format_table)
