"""Options ``query`` and ``tail`` share: what they print, and the times they read (docs/contract.md §4)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar

import click

from logpipe_cli.times import TimeSyntaxError, format_rfc3339, parse_when
from logpipe_cli.view import OUTPUTS, View, resolve_color, resolve_zone

F = TypeVar("F", bound=Callable[..., Any])

TIME_HELP = "RFC 3339, a date, 30s, 15m, 90min, 2h, 7d, '1 hour ago', today, yesterday."


def display_options(*, outputs: tuple[str, ...] = OUTPUTS) -> Callable[[F], F]:
    """``--output``, ``--timezone`` and ``--color``."""

    def decorate(func: F) -> F:
        func = click.option(
            "--color",
            type=click.Choice(["auto", "always", "never"]),
            default="auto",
            show_default=True,
            help="Colour levels; auto: on a terminal, unless NO_COLOR is set.",
        )(func)
        func = click.option(
            "--timezone",
            "--tz",
            "zone_name",
            default="utc",
            show_default=True,
            help="Show times (and read plain dates) in: local, utc, or an IANA name (Europe/Paris).",
        )(func)
        func = click.option(
            "--output", "-o", type=click.Choice(list(outputs)), default="text", show_default=True
        )(func)
        return func

    return decorate


def make_view(color: str, zone_name: str) -> View:
    return View(color=resolve_color(color, isatty=sys.stdout.isatty()), zone=resolve_zone(zone_name))


def resolve_time(flag: str, value: str | None, zone: tzinfo | None) -> str | None:
    """``value`` as the RFC 3339 UTC instant the API takes; a bad one is a usage error (exit 2)."""
    if value is None or not value.strip():
        return None
    try:
        moment = parse_when(value, now=datetime.now(UTC), zone=zone)
    except TimeSyntaxError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{flag}'") from None
    return format_rfc3339(moment)
