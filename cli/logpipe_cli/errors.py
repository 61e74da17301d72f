"""SDK exceptions → exit codes and one line on stderr, in one place (CONTRACT §4)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

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


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, APIError) and exc.status == 401:
        text += " (check the API key / admin token: --api-key, LOGPIPE_API_KEY, `logpipe config`)"
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
