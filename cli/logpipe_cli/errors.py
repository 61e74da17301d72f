"""SDK exceptions → exit codes and one line on stderr, in one place (docs/contract.md §4)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final, NoReturn, TypeVar

import click
from logpipe import APIError, ConfigError, LogpipeError, TransportError

from logpipe_cli.exit_codes import ExitCode

F = TypeVar("F", bound=Callable[..., Any])


def exit_code_for(exc: BaseException) -> ExitCode:
    if isinstance(exc, TransportError):
        return ExitCode.UNREACHABLE
    if isinstance(exc, ConfigError | click.UsageError):
        return ExitCode.USAGE
    if isinstance(exc, APIError | LogpipeError):
        return ExitCode.NOT_ACCEPTED
    return ExitCode.NOT_ACCEPTED


# What a 401 means depends on which credential the command sent: name that one, and where it comes from.
_CREDENTIAL_HINTS: Final = {
    "send": "check the tenant key: --api-key, LOGPIPE_API_KEY, or `logpipe config set api_key KEY`",
    "query": "check the admin token: --admin-token, LOGPIPE_ADMIN_TOKEN,"
    " or `logpipe config set admin_token T`"
    " (on AWS: --auth sigv4 with credentials allowed to call the admin API)",
}
_CREDENTIAL_HINTS["tail"] = _CREDENTIAL_HINTS["query"]


def _command_name() -> str | None:
    context = click.get_current_context(silent=True)
    return context.info_name if context is not None else None


def credential_hint(exc: BaseException | None, command: str | None = None) -> str | None:
    """What to check after a 401, for ``command`` (by default the running click command); else None."""
    if not isinstance(exc, APIError) or exc.status != 401:
        return None
    return _CREDENTIAL_HINTS.get(command or _command_name() or "")


def describe(exc: BaseException, command: str | None = None) -> str:
    """One line for ``exc``; a 401 gets the hint of ``command`` (by default the running click command)."""
    text = str(exc) or type(exc).__name__
    hint = credential_hint(exc, command)
    if hint:
        text += f" ({hint})"
    return " ".join(text.split())  # one line, whatever the server said


def fail(message: str, code: ExitCode) -> NoReturn:
    click.echo(f"logpipe: {message}", err=True)
    raise SystemExit(int(code))


def handle_errors(func: F) -> F:
    """Turn an SDK error into its exit code and one line on stderr, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LogpipeError as exc:
            fail(describe(exc), exit_code_for(exc))
        except BrokenPipeError:
            # `logpipe query ... | head`: the reader left; that is not an error.
            import os
            import sys

            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise SystemExit(int(ExitCode.OK)) from None

    return wrapper  # type: ignore[return-value]
