"""``logpipe serve``: the whole pipeline on this machine (docs/contract.md §4)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import click

from logpipe_cli.commands._local import data_dir_option, fail
from logpipe_cli.exit_codes import ExitCode

if TYPE_CHECKING:
    from logpipe_backend.runtime.diskspace import MinFree


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0: any free port."
)
@data_dir_option
@click.option("--workers", default=2, show_default=True, type=click.IntRange(0, 64), help="Worker processes.")
@click.option(
    "--visibility-timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0.5),
    help="Seconds a leased message stays invisible before it is delivered again.",
)
@click.option(
    "--max-receives",
    default=5,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Receives before the DLQ.",
)
@click.option(
    "--retention",
    envvar="LOGPIPE_LOG_RETENTION",
    default="30d",
    show_default=True,
    help="Keep records this long after they were received (90s, 12h, 30d; 0: forever)."
    " A tenant's own retention (tenants set-retention) wins. Env: LOGPIPE_LOG_RETENTION.",
)
@click.option(
    "--retention-sweep",
    envvar="LOGPIPE_RETENTION_SWEEP",
    default="60s",
    show_default=True,
    help="How often expired records are deleted. Env: LOGPIPE_RETENTION_SWEEP.",
)
@click.option(
    "--min-free",
    envvar="LOGPIPE_MIN_FREE",
    default="default",
    show_default=True,
    help="Below this much free disk, ingest answers 507: a size (1GiB), a percentage (5%) or 0 (never);"
    " default: the smaller of 1 GiB and 5 %. Env: LOGPIPE_MIN_FREE.",
)
@click.option("-v", "--verbose", count=True, help="-v: access log; -vv: debug.")
def command(
    host: str,
    port: int,
    data_dir: str | None,
    workers: int,
    visibility_timeout: float,
    max_receives: int,
    retention: str,
    retention_sweep: str,
    min_free: str,
    verbose: int,
) -> None:
    """Run the HTTP API, the queue and the workers locally, until Ctrl-C or SIGTERM."""
    from logpipe_backend.core.retention import parse_duration
    from logpipe_backend.runtime.diskspace import MinFree

    try:
        retention_s = parse_duration(retention)
        sweep_s = parse_duration(retention_sweep)
        threshold = MinFree.parse(min_free)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    if sweep_s < 1:
        raise click.UsageError("--retention-sweep must be at least 1s")
    raise SystemExit(
        serve(
            host,
            port,
            data_dir,
            workers,
            visibility_timeout,
            max_receives,
            verbose,
            retention_s=retention_s,
            retention_sweep_s=float(sweep_s),
            min_free=threshold,
        )
    )


def serve(
    host: str,
    port: int,
    data_dir: str | None,
    workers: int,
    visibility_timeout: float,
    max_receives: int,
    verbose: int,
    *,
    retention_s: int,
    retention_sweep_s: float,
    min_free: MinFree,
) -> int:
    # The backend is imported here so that other commands never pay for it.
    from logpipe_backend import settings
    from logpipe_backend.adapters.sqlite.datadir import DataDir, DataDirError
    from logpipe_backend.runtime.stack import LocalStack, StackOptions

    level = ("WARNING", "INFO", "DEBUG")[min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    directory = DataDir.resolve(data_dir)
    try:
        # Not writable, full, or not a directory: one clear line now, not 503s on the first requests.
        directory.check(settings.min_free_bytes())
    except (DataDirError, settings.ConfigError) as exc:
        fail(str(exc))
    try:
        env_token = settings.admin_token()
        token = env_token or directory.ensure_admin_token()[0]
    except OSError as exc:
        fail(f"cannot use data dir {directory.root}: {exc.strerror or exc}")

    def on_ready(url: str) -> None:
        if not env_token:  # before the line below: whoever waits for it may use the profile at once
            _save_local_profile(url, token)
        click.echo(f"logpipe serving on {url} (data: {directory.root}, workers: {workers})")

    options = StackOptions(
        data_dir=directory,
        host=host,
        port=port,
        workers=workers,
        visibility_timeout_s=visibility_timeout,
        max_receives=max_receives,
        admin_token=token,
        log_level=level,
        retention_s=retention_s,
        retention_sweep_s=retention_sweep_s,
        min_free=min_free,
    )
    try:
        return LocalStack(options, on_ready=on_ready).run()
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}", int(ExitCode.NOT_ACCEPTED))


def _save_local_profile(url: str, token: str) -> None:
    """Write the endpoint and admin token into the ``local`` profile, so the CLI finds this stack."""
    try:
        from logpipe._config import save_profile

        save_profile("local", {"endpoint": url, "admin_token": token})
    except Exception as exc:  # a read-only config dir must not stop the server
        click.echo(f"logpipe: warning: could not write the local profile: {exc}", err=True)
