"""``print_*``: writing rendered records to stdout (line-buffered so ``tail -f | grep`` sees each line)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import click

from logpipe_cli.format import format_record_json, format_record_text, format_table


def use_color() -> bool:
    return sys.stdout.isatty()


def print_records(records: Iterable[Mapping[str, Any]], output: str) -> int:
    """Print records as text, NDJSON or a table; returns how many."""
    count = 0
    if output == "table":
        items = list(records)
        if items:
            width = shutil.get_terminal_size().columns if use_color() else 160
            click.echo(format_table(items, color=use_color(), width=width))
        return len(items)
    color = use_color()
    for record in records:
        line = format_record_json(record) if output == "json" else format_record_text(record, color=color)
        click.echo(line, color=color)
        sys.stdout.flush()
        count += 1
    return count
