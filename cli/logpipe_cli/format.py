"""Rendering records for people and for ``jq``: pure ``format_*`` functions returning text.

Log content is untrusted: a message may hold ESC sequences that recolour or rewrite the terminal, CR that
overwrites the line, or bidi overrides that reorder what is shown. Every such character is shown escaped
(``\\x1b``, ``\\r``, ``\\u202e``) in text and table output; ``--output json`` is NDJSON, where JSON's own
escaping applies (``ensure_ascii`` keeps even U+2028 escaped, for tools that split lines on it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import click

__all__ = [
    "LEVEL_COLOURS",
    "LEVEL_STYLES",
    "escape",
    "format_attributes",
    "format_record_json",
    "format_record_text",
    "format_summary",
    "format_table",
    "human_bytes",
    "render",
]

# C0 controls (tab and newline included: they would break the one-record-a-line layout), DEL, C1
# controls (0x9b is a one-byte CSI on some terminals), line/paragraph separators, bidi controls, BOM,
# and lone surrogates.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b"}

LEVEL_STYLES: dict[str, dict[str, Any]] = {
    "trace": {"fg": "bright_black"},
    "debug": {"fg": "blue"},
    "info": {"fg": "green"},
    "warn": {"fg": "yellow"},
    "error": {"fg": "red"},
    "fatal": {"fg": "white", "bg": "red", "bold": True},
}
# The same colours as rich styles, for the tables and charts rich draws.
LEVEL_COLOURS: dict[str, str] = {
    "trace": "bright_black",
    "debug": "blue",
    "info": "green",
    "warn": "yellow",
    "error": "red",
    "fatal": "bold white on red",
}
MAX_ATTRIBUTES_CHARS = 400  # key attributes on a line: enough to see, not a wall of JSON


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with every control, separator and bidi character shown as an escape."""
    return _UNSAFE.sub(_escape_char, text)


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if (not value or " " in value or "=" in value) else value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def format_attributes(attributes: Mapping[str, Any], limit: int = MAX_ATTRIBUTES_CHARS) -> str:
    """``k=v k2=v2`` (strings bare when they can be, everything else as compact JSON), escaped, capped."""
    text = " ".join(f"{key}={_scalar(value)}" for key, value in attributes.items())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return escape(text)


def format_record_text(
    record: Mapping[str, Any], *, color: bool = False, timestamp: str | None = None
) -> str:
    """One line: time, level, message, key attributes. ``timestamp``: the time already rendered (in the
    display zone, escaped); by default the record's own."""
    shown = escape(str(record.get("timestamp", ""))) if timestamp is None else timestamp
    level = str(record.get("level", "info"))
    label = escape(level.upper()).ljust(5)
    if color:
        label = click.style(label, **LEVEL_STYLES.get(level, {}))
        shown = click.style(shown, dim=True)
    parts = [shown, label, escape(str(record.get("message", "")))]
    attributes = record.get("attributes")
    if isinstance(attributes, Mapping) and attributes:
        attrs = format_attributes(attributes)
        parts.append(click.style(attrs, fg="cyan") if color else attrs)
    return " ".join(parts)


def format_record_json(record: Mapping[str, Any]) -> str:
    """One NDJSON line (ASCII-only: no raw control or separator character can reach the terminal)."""
    return json.dumps(record, ensure_ascii=True, separators=(",", ":"), default=str)


def format_table(
    records: Iterable[Mapping[str, Any]],
    *,
    color: bool = False,
    width: int = 160,
    timestamp: Callable[[Mapping[str, Any]], str] | None = None,
) -> str:
    """A rich table (time, level, message, attributes) rendered to text; ``timestamp`` renders the time
    column (escaped), by default the record's own."""
    from rich.table import Table
    from rich.text import Text

    table = Table(show_header=True, header_style="bold", expand=False)
    table.add_column("time", no_wrap=True)
    table.add_column("level", no_wrap=True)
    table.add_column("message", overflow="fold")
    table.add_column("attributes", overflow="fold")
    for record in records:
        level = str(record.get("level", "info"))
        attributes = record.get("attributes")
        attrs = format_attributes(attributes) if isinstance(attributes, Mapping) else ""
        # Text(...) never interprets markup: "[bold]" in a message stays literal.
        table.add_row(
            Text(escape(str(record.get("timestamp", ""))) if timestamp is None else timestamp(record)),
            Text(escape(level), style=LEVEL_COLOURS.get(level, "")),
            Text(escape(str(record.get("message", "")))),
            Text(attrs, style="cyan"),
        )
    return render(table, color=color, width=width)


def render(renderable: Any, *, color: bool, width: int) -> str:
    """A rich renderable (a table) as text ``width`` columns wide, with ANSI colours only when ``color``; rich
    interprets neither markup nor emoji codes in it (log content is data)."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
        emoji=False,
        markup=False,
    )
    console.print(renderable)
    return buffer.getvalue().rstrip("\n")


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"  # pragma: no cover


def format_summary(
    *,
    lines: int,
    nbytes: int,
    seconds: float,
    accepted: int,
    rejected: int,
    failed: int,
    blank: int = 0,
    joined: int = 0,
    interrupted: bool = False,
) -> str:
    """The one line ``logpipe send`` ends with."""
    rate = lines / seconds if seconds > 0 else 0.0
    head = "interrupted after reading" if interrupted else "read"
    text = (
        f"{head} {lines:,} line{'' if lines == 1 else 's'} ({human_bytes(nbytes)}) in {seconds:.1f}s "
        f"({rate:,.0f} lines/s): {accepted:,} accepted"
    )
    if rejected:
        text += f", {rejected:,} rejected"
    if failed:
        text += f", {failed:,} not accepted"
    if joined:
        text += f" ({joined:,} lines joined into multi-line records)"
    if blank:
        text += f" ({blank:,} blank lines skipped)"
    return text
