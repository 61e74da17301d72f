"""``logpipe backup DIR`` (operator; contract.md §4): a consistent copy of the local stack's data dir, taken
while ``logpipe serve`` keeps serving (``adapters/sqlite/backup.py``). Restore: ``logpipe serve --data-dir
DIR``."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from logpipe_cli.commands._local import data_dir_option, fail


@click.command("backup")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@data_dir_option
def command(target: Path, data_dir: str | None) -> None:
    """Copy the data dir (its databases, keys and admin token) into TARGET, a new or empty directory."""
    from logpipe_backend.adapters.sqlite.backup import BackupError, backup
    from logpipe_backend.adapters.sqlite.datadir import DataDir

    try:
        done = backup(DataDir.resolve(data_dir), target)
    except (BackupError, sqlite3.Error) as exc:
        fail(f"backup failed: {exc}")
    except OSError as exc:
        fail(f"backup failed: {exc.strerror or exc}")
    click.echo(
        f"backed up {', '.join(done.databases)} to {done.target}"
        f" ({done.bytes / 2**20:.1f} MiB in {done.seconds:.1f}s)"
    )
