"""``logpipe tail``: the last records of a tenant, and with ``-f`` every new one, exactly once.

The following algorithm lives in the SDK (``AdminClient.tail``) so scripts get the same guarantee.
"""

from __future__ import annotations

from typing import Any

import click
from logpipe import LogpipeError

from logpipe_cli.display_options import TIME_HELP, display_options, make_view, resolve_time
from logpipe_cli.errors import describe, handle_errors
from logpipe_cli.options import filter_options, reader_options, tenant_option
from logpipe_cli.output import print_records, say_no_match
from logpipe_cli.settings import open_reader
from logpipe_cli.view import FORMATS


@click.command("tail")
@tenant_option
@click.option("-f", "--follow", is_flag=True, help="Keep printing new records (across server restarts).")
@click.option("-n", "--lines", "n", default=10, show_default=True, type=click.IntRange(min=0))
@click.option("--since", default=None, help=f"Only records with a timestamp from then: {TIME_HELP}")
@filter_options
@display_options(outputs=tuple(FORMATS))
@click.option(
    "--interval", default=1.0, show_default=True, type=click.FloatRange(0.05, 60), help="Poll seconds."
)
@click.option(
    "--lookback",
    default=None,
    type=click.FloatRange(1, 86_400),
    help="Seconds below the newest record that -f re-checks for records stored late (redeliveries); "
    "default 300 locally, 900 on AWS.",
)
@reader_options
@handle_errors
def command(
    tenant: str | None,
    follow: bool,
    n: int,
    since: str | None,
    filters: dict[str, Any],
    output: str,
    zone_name: str,
    color: str,
    interval: float,
    lookback: float | None,
    connection: dict[str, Any],
) -> None:
    """Print the last N records, oldest first; -f follows."""
    view = make_view(color, zone_name)
    since_at = resolve_time("--since", since, view.zone)

    def on_error(exc: LogpipeError, delay: float) -> None:
        click.echo(f"logpipe: {describe(exc)}; retrying in {delay:.1f}s", err=True)

    with open_reader(tenant, connection) as (admin, tenant_id):
        records = admin.tail(
            tenant_id,
            n=n,
            follow=follow,
            since=since_at,
            **filters,
            poll_interval=interval,
            long_window=lookback,
            on_error=on_error,
        )
        try:
            shown = print_records(records, output, view)
        except KeyboardInterrupt:
            raise SystemExit(0) from None
        if shown == 0:
            say_no_match()
