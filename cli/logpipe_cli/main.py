"""The ``logpipe`` console script: a click group whose commands live in ``logpipe_cli.commands``.

Commands are imported lazily so that ``logpipe send`` never pays for the backend's imports.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# command name -> module under logpipe_cli.commands exposing ``command``
_COMMANDS: dict[str, str] = {
    "serve": "serve",
    "send": "send",
    "tail": "tail",
    "query": "query",
    "tenants": "tenants",
    "dlq": "dlq",
    "config": "config",
    "stats": "stats",
    "fields": "fields",
    "backup": "backup",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = _COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"logpipe_cli.commands.{module_name}")
        command: click.Command = module.command
        return command


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="logpipe")
def cli() -> None:
    """logpipe: multi-tenant log ingestion, on AWS or on one machine."""


def main(*args: Any, **kwargs: Any) -> Any:
    return cli(*args, **kwargs)
