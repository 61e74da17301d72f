"""``logpipe fields``: the attribute keys in a tenant's recent records, through ``GET /admin/fields``."""

from __future__ import annotations

import json
import shutil
import sys
from typing import Any

import click

from logpipe_cli.charts import format_fields
from logpipe_cli.display_options import TIME_HELP, display_options, make_view, resolve_time
from logpipe_cli.errors import handle_errors
from logpipe_cli.options import filter_options, reader_options, tenant_option
from logpipe_cli.output import say_no_match
from logpipe_cli.settings import open_reader


@click.command("fields")
@tenant_option
@click.option("--since", default=None, help=f"Only records from then: {TIME_HELP}")
@click.option(
    "--sample", default=1000, show_default=True, type=click.IntRange(1, 10_000), help="Records read."
)
@filter_options
@display_options(outputs=("text", "json"))
@reader_options
@handle_errors
def command(
    tenant: str | None,
    since: str | None,
    sample: int,
    filters: dict[str, Any],
    output: str,
    zone_name: str,
    color: str,
    connection: dict[str, Any],
) -> None:
    """List the fields of a tenant's newest records, with counts and common values (like logcli series)."""
    view = make_view(color, zone_name)
    since_at = resolve_time("--since", since, view.zone)
    with open_reader(tenant, connection) as (admin, tenant_id):
        fields = admin.fields(
            tenant_id,
            sample=sample,
            since=since_at,
            **filters,
        )
    if output == "json":
        click.echo(json.dumps(fields, ensure_ascii=True, separators=(",", ":")))
    elif fields.get("sampled"):
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else 120
        click.echo(format_fields(fields, color=view.color, width=width), color=view.color)
    if not fields.get("sampled"):
        say_no_match()
