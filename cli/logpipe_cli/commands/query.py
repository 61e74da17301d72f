"""``logpipe query``: one tenant's records, newest first, through ``GET /admin/logs`` (or ``GET /logs`` with a
tenant's read key)."""

from __future__ import annotations

import click

from logpipe_cli.errors import handle_errors
from logpipe_cli.options import LEVEL_CHOICE, endpoint_options, tenant_option
from logpipe_cli.output import print_records
from logpipe_cli.settings import admin_client, require_tenant


@click.command("query")
@tenant_option
@click.option("--since", default=None, help="RFC 3339, or relative: 30s, 15m, 2h, 7d.")
@click.option("--until", default=None, help="RFC 3339, or relative.")
@click.option("--level", type=LEVEL_CHOICE, default=None, help="Minimum level (warn: warn, error, fatal).")
@click.option("--contains", default=None, help="Case-insensitive substring of the message.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0), help="0: no limit.")
@click.option("--order", type=click.Choice(["desc", "asc"]), default="desc", show_default=True)
@click.option(
    "--output", "-o", type=click.Choice(["text", "json", "table"]), default="text", show_default=True
)
@endpoint_options(admin=True)
@handle_errors
def command(
    tenant: str | None,
    since: str | None,
    until: str | None,
    level: str | None,
    contains: str | None,
    limit: int,
    order: str,
    output: str,
    endpoint: str | None,
    admin_token: str | None,
    auth: str | None,
    region: str | None,
    api_key: str | None,
    profile: str | None,
) -> None:
    """Print a tenant's records (pages through all of them up to --limit)."""
    with admin_client(
        endpoint=endpoint, admin_token=admin_token, auth=auth, region=region, profile=profile, api_key=api_key
    ) as admin:
        tenant_id = require_tenant(tenant, profile, admin)
        records = admin.query(
            tenant_id,
            since=since,
            until=until,
            level=level.lower() if level else None,
            contains=contains,
            order=order,
            limit=limit or None,
        )
        print_records(records, output)
