"""``logpipe stats``: a tenant's records counted over time, through ``GET /admin/stats``."""

from __future__ import annotations

import json
import shutil
import sys
from typing import Any

import click

from logpipe_cli.charts import format_stats
from logpipe_cli.display_options import TIME_HELP, display_options, make_view, resolve_time
from logpipe_cli.errors import handle_errors
from logpipe_cli.options import filter_options, reader_options, tenant_option
from logpipe_cli.output import say_no_match
from logpipe_cli.settings import open_reader


@click.command("stats")
@tenant_option
@click.option("--since", default="1h", show_default=True, help=f"From: {TIME_HELP}")
@click.option("--until", default=None, help="Up to (exclusive); same forms as --since.")
@click.option("--by", default="level", show_default=True, help="Group by level or a field (host, db.host).")
@click.option("--bucket", default=None, help="Bucket size: 30s, 1m, 5m, 1h, 1d (default: ~60 over the span).")
@filter_options
@display_options(outputs=("text", "json"))
@reader_options
@handle_errors
def command(
    tenant: str | None,
    since: str | None,
    until: str | None,
    by: str,
    bucket: str | None,
    filters: dict[str, Any],
    output: str,
    zone_name: str,
    color: str,
    connection: dict[str, Any],
) -> None:
    """Count a tenant's records per time bucket, by level or a field, drawn as bars."""
    view = make_view(color, zone_name)
    since_at = resolve_time("--since", since, view.zone)
    until_at = resolve_time("--until", until, view.zone)
    with open_reader(tenant, connection) as (admin, tenant_id):
        stats = admin.stats(
            tenant_id,
            by=by,
            bucket=bucket,
            since=since_at,
            until=until_at,
            **filters,
        )
    if output == "json":
        click.echo(json.dumps(stats, ensure_ascii=True, separators=(",", ":")))
        return
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 100
    click.echo(format_stats(stats, view, width=width), color=view.color)
    if not stats.get("records"):
        say_no_match()
