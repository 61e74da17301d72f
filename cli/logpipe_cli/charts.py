"""``logpipe stats`` and ``logpipe fields`` for people: pure ``format_*`` functions returning text.

The bars are drawn with rich into a string, as ``format.format_table`` does, so they are tested as text
and a pipe gets plain characters. Values from the server (field names, example values) are log content:
escaped like every other record field (``format.escape``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from rich.table import Table
from rich.text import Text

from logpipe_cli.format import LEVEL_COLOURS, escape, render
from logpipe_cli.view import View

BAR_WIDTH: Final = 40
OTHER_COLOURS: Final = ("cyan", "magenta", "blue", "green", "yellow", "red", "bright_black")


def _colour(group: str, order: Sequence[str], by_level: bool) -> str:
    if by_level and group in LEVEL_COLOURS:
        return LEVEL_COLOURS[group]
    return OTHER_COLOURS[order.index(group) % len(OTHER_COLOURS)] if group in order else ""


def _bar(counts: Mapping[str, int], order: Sequence[str], scale: float, by_level: bool) -> Text:
    """One stacked bar: a segment per group, in the legend's order, ``scale`` cells per record."""
    bar = Text()
    for group in order:
        cells = round(counts.get(group, 0) * scale)
        if cells:
            bar.append("█" * cells, style=_colour(group, order, by_level))
    return bar


def format_stats(stats: Mapping[str, Any], view: View, *, width: int = 100) -> str:
    """A bar per bucket (time in the display zone), stacked by group, with its counts; a legend of totals."""
    buckets: Sequence[Mapping[str, Any]] = stats.get("buckets") or []
    totals: Mapping[str, int] = stats.get("totals") or {}
    order = list(totals)
    by_level = stats.get("by") == "level"
    peak = max((sum(b.get("counts", {}).values()) for b in buckets), default=0)
    scale = BAR_WIDTH / peak if peak else 0.0
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("start", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column(f"by {escape(str(stats.get('by', 'level')))}", no_wrap=True)
    for bucket in buckets:
        counts: Mapping[str, int] = bucket.get("counts") or {}
        table.add_row(
            Text(view.timestamp({"timestamp": bucket.get("start", "")})),
            Text(f"{sum(counts.values()):,}"),
            _bar(counts, order, scale, by_level),
        )
    legend = Text("total: ")
    for group, count in totals.items():
        legend.append(f"{escape(group)} ", style=_colour(group, order, by_level))
        legend.append(f"{count:,}  ")
    text = render(table, color=view.color, width=width) + "\n" + _render_text(legend, view.color, width)
    if stats.get("partial"):
        text += f"\npartial: counted records received since {stats.get('complete_from')} (a read limit)"
    return text


def _render_text(text: Text, color: bool, width: int) -> str:
    table = Table.grid()
    table.add_row(text)
    return render(table, color=color, width=width)


def format_fields(fields: Mapping[str, Any], *, color: bool = False, width: int = 120) -> str:
    """One row per attribute key: in how many sampled records, distinct values, the most common ones."""
    table = Table(show_header=True, header_style="bold", expand=False)
    table.add_column("field", no_wrap=True, style="cyan")
    table.add_column("records", justify="right")
    table.add_column("distinct", justify="right")
    table.add_column("common values", overflow="fold")
    for entry in fields.get("fields") or []:
        values = ", ".join(
            f"{escape(str(v.get('value')))} ({v.get('count')})" for v in entry.get("values") or []
        )
        table.add_row(
            Text(escape(str(entry.get("name", "")))),
            Text(f"{entry.get('count', 0):,}"),
            Text(f"{entry.get('distinct', 0):,}"),
            Text(values),
        )
    return (
        render(table, color=color, width=width) + f"\nsampled the newest {fields.get('sampled', 0):,} records"
    )
