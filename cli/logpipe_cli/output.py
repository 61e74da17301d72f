"""``print_*``: writing rendered records to stdout (line-buffered so ``tail -f | grep`` sees each line)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import click

from logpipe_cli.format import format_table
from logpipe_cli.view import FORMATS, View

NO_MATCH = "no records match"


def print_records(records: Iterable[Mapping[str, Any]], output: str, view: View) -> int:
    """Print records in ``output`` (a key of ``view.FORMATS``, or ``table``); returns how many."""
    if output == "table":
        items = list(records)
        if items:
            width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 160
            click.echo(format_table(items, color=view.color, width=width, timestamp=view.timestamp))
        return len(items)
    render = FORMATS[output]
    count = 0
    for record in records:
        click.echo(render(record, view), color=view.color)
        sys.stdout.flush()
        count += 1
    return count


def say_no_match() -> None:
    """An empty answer is still an answer: say so on stderr (stdout stays empty for scripts)."""
    click.echo(f"logpipe: {NO_MATCH}", err=True)
