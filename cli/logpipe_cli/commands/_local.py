"""Options shared by the operator commands that act on the local stack (``serve``, ``tenants``, ``dlq``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def data_dir_option(func: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="The local stack's data dir (default: $LOGPIPE_DATA_DIR, else the XDG data dir).",
    )(func)


def backend_option(func: F) -> F:
    return click.option(
        "--backend",
        type=click.Choice(["local", "aws"]),
        default="local",
        show_default=True,
        help="local: the data dir of `logpipe serve`; aws: the tables and queues of the LOGPIPE_* variables.",
    )(func)


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr, no traceback, and the exit code of docs/contract.md §4."""
    click.echo(f"logpipe: {message}", err=True)
    raise SystemExit(code)
