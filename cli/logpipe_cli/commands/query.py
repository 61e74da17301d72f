"""``logpipe query``: one tenant's records, newest first, through ``GET /admin/logs`` (or ``GET /logs`` with a
tenant's read key)."""

from __future__ import annotations

import itertools
from typing import Any

import click

from logpipe_cli.display_options import TIME_HELP, display_options, make_view, resolve_time
from logpipe_cli.errors import handle_errors
from logpipe_cli.options import filter_options, reader_options, tenant_option
from logpipe_cli.output import print_records, say_no_match
from logpipe_cli.settings import open_reader


@click.command("query")
@tenant_option
@click.option("--since", default=None, help=f"From (inclusive): {TIME_HELP}")
@click.option("--until", default=None, help="Up to (exclusive); same forms as --since.")
@filter_options
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0), help="0: no limit.")
@click.option("--order", type=click.Choice(["desc", "asc"]), default="desc", show_default=True)
@display_options()
@reader_options
@handle_errors
def command(
    tenant: str | None,
    since: str | None,
    until: str | None,
    filters: dict[str, Any],
    limit: int,
    order: str,
    output: str,
    zone_name: str,
    color: str,
    connection: dict[str, Any],
) -> None:
    """Print a tenant's records (pages through all of them up to --limit)."""
    view = make_view(color, zone_name)
    since_at = resolve_time("--since", since, view.zone)
    until_at = resolve_time("--until", until, view.zone)
    if since_at is not None and until_at is not None and since_at >= until_at:
        raise click.BadParameter(f"{until!r} is not later than --since {since!r}", param_hint="'--until'")
    with open_reader(tenant, connection) as (admin, tenant_id):
        # One record past the limit tells whether the limit cut the answer, without a count query.
        records = admin.query(
            tenant_id,
            since=since_at,
            until=until_at,
            **filters,
            order=order,
            limit=limit + 1 if limit else None,
        )
        shown = print_records(itertools.islice(records, limit or None), output, view)
        if shown == 0:
            say_no_match()
        elif limit and next(records, None) is not None:
            click.echo(
                f"logpipe: showing the first {shown:,} records; more match"
                " (raise --limit, or --limit 0 for all)",
                err=True,
            )
