"""``logpipe tenants purge TENANT --yes | --dry-run`` (operator; docs/contract.md §4): erase a tenant.

Revokes the tenant's keys, then deletes its queued and dead-lettered messages and every stored record
(``core/purge.py`` has the steps; ``adapters/sqlite/purge.py`` and ``adapters/aws/purge.py`` do them). A
progress bar on a terminal, one summary line at the end. Interrupted, it is run again the same way: the
tenant shows as ``purging`` in ``tenants list`` until a run finishes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any, Protocol

import click

from logpipe_cli.commands._local import backend_option, data_dir_option, fail

if TYPE_CHECKING:
    from logpipe_backend.core.purge import Progress, PurgeCounts

_LABELS = {"queued": "queued messages", "dead": "dead letters", "records": "records"}


class _Purger(Protocol):
    def plan(self, tenant_id: str) -> PurgeCounts: ...
    def purge(self, tenant_id: str, progress: Progress) -> PurgeCounts: ...


def _local(data_dir: str | None) -> tuple[_Purger, Callable[[], None]]:
    from logpipe_backend.adapters.sqlite.datadir import DataDir
    from logpipe_backend.adapters.sqlite.purge import LocalPurge

    purger = LocalPurge(DataDir.resolve(data_dir))
    return purger, purger.close


def _aws() -> tuple[_Purger, Callable[[], None]]:
    from logpipe_backend.adapters.aws.purge import AwsPurge
    from logpipe_backend.wiring import aws as aws

    table = os.environ.get(aws.ENV_TABLE_NAME, "").strip()
    queue_url = os.environ.get(aws.ENV_QUEUE_URL, "").strip()
    if not table or not queue_url:
        fail(f"{aws.ENV_TABLE_NAME} and {aws.ENV_QUEUE_URL} must be set (the logs table and the queue)")
    purger = AwsPurge(
        aws.client("dynamodb"),
        aws.client("sqs"),
        logs_table=table,
        keys=aws.key_store_from_env(),
        queue_url=queue_url,
    )
    return purger, lambda: None


def _bar(show: bool) -> AbstractContextManager[Any]:
    if not show:
        return nullcontext(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


@click.command("purge")
@click.argument("tenant")
@click.option("--yes", is_flag=True, help="Really erase: nothing of TENANT can be brought back.")
@click.option("--dry-run", is_flag=True, help="Show what would be deleted; delete nothing.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal)."
)
@backend_option
@data_dir_option
def purge(
    tenant: str, yes: bool, dry_run: bool, progress: bool | None, backend: str, data_dir: str | None
) -> None:
    """Erase TENANT: revoke its keys, delete its queued messages, dead letters and every stored record."""
    if not yes and not dry_run:
        raise click.UsageError("purge erases every record of the tenant: pass --yes (or --dry-run to look)")
    try:
        purger, close = _aws() if backend == "aws" else _local(data_dir)
    except SystemExit:
        raise
    except Exception as exc:  # no credentials, data dir unusable…: one line, no traceback
        fail(f"cannot reach the {backend} stack: {exc}")
    try:
        plan = purger.plan(tenant)
        if dry_run:
            click.echo(plan.summary(tenant, dry_run=True))
            return
        show = sys.stderr.isatty() if progress is None else progress
        with _bar(show) as bar:
            tasks = {}
            if bar is not None:
                tasks = {k: bar.add_task(label, total=getattr(plan, k)) for k, label in _LABELS.items()}

            def advance(kind: str, count: int) -> None:
                if bar is not None:
                    bar.advance(tasks[kind], count)

            done = purger.purge(tenant, advance)
        click.echo(done.summary(tenant, dry_run=False))
    except click.exceptions.Exit:
        raise
    except Exception as exc:
        from logpipe_backend.core.purge import UnknownTenant

        if isinstance(exc, UnknownTenant):
            fail(str(exc))
        fail(f"purge of {tenant} stopped: {type(exc).__name__}: {exc} (run it again to finish)")
    finally:
        close()
