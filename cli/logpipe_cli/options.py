"""Options shared by the tenant-facing commands (send, tail, query, stats, fields)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

LEVEL_CHOICE = click.Choice(["trace", "debug", "info", "warn", "error", "fatal"], case_sensitive=False)


def endpoint_options(*, admin: bool) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        func = click.option("--profile", default=None, help="Settings profile (default: $LOGPIPE_PROFILE).")(
            func
        )
        if admin:
            func = click.option(
                "--admin-token", default=None, help="Admin token (default: $LOGPIPE_ADMIN_TOKEN, profile)."
            )(func)
            func = click.option(
                "--auth",
                type=click.Choice(["token", "sigv4"]),
                default=None,
                help="token (local) or sigv4 (AWS IAM, boto3's default credentials).",
            )(func)
            func = click.option("--region", default=None, help="AWS region for sigv4.")(func)
            func = click.option(
                "--api-key",
                default=None,
                help="A tenant's read key, instead of an admin token: reads that tenant's own logs "
                "(GET /logs; default: $LOGPIPE_API_KEY, profile).",
            )(func)
        else:
            func = click.option(
                "--api-key", default=None, help="Tenant API key (default: $LOGPIPE_API_KEY)."
            )(func)
        func = click.option(
            "--endpoint",
            default=None,
            help="Base URL (default: $LOGPIPE_ENDPOINT, profile, http://127.0.0.1:8080).",
        )(func)
        return func

    return decorate


def tenant_option(func: F) -> F:
    return click.option(
        "--tenant", "-t", default=None, help="Tenant id (default: $LOGPIPE_TENANT, profile)."
    )(func)


LEVEL_NAMES = ("trace", "debug", "info", "warn", "error", "fatal")


def _levels(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    bad = [name for name in names if name not in LEVEL_NAMES]
    if bad or not names:
        raise click.BadParameter(f"{value!r}: a comma list of {', '.join(LEVEL_NAMES)}")
    return ",".join(names)


FILTER_NAMES = ("level", "levels", "where", "contains", "not_contains", "regex")


def filter_options(func: F) -> F:
    """The record filters of the read commands, run by the server (docs/contract.md §3). The command gets
    them as one ``filters`` argument: the keyword arguments of ``AdminClient.query``/``stats``/``fields``."""
    options = [
        click.option(
            "--level", type=LEVEL_CHOICE, default=None, help="Minimum level (warn: warn, error, fatal)."
        ),
        click.option("--levels", default=None, callback=_levels, help="Exactly these levels: warn,error."),
        click.option(
            "--where",
            multiple=True,
            help="FIELD=V, FIELD!=V, FIELD>N (>=, <, <=), FIELD~REGEX, or FIELD (exists). FIELD: level, "
            "message, source... or an attribute path (host, db.host). Repeat: all must hold.",
        ),
        click.option(
            "--contains",
            multiple=True,
            help="Case-insensitive substring of the message. Repeat: all of them.",
        ),
        click.option(
            "--not-contains", multiple=True, help="Leave out messages holding this (any case). Repeatable."
        ),
        click.option("--regex", default=None, help="RE2 regular expression searched in the message."),
    ]

    def lowered(filters: dict[str, Any]) -> dict[str, Any]:
        return {**filters, "level": filters["level"].lower() if filters["level"] else None}

    wrapped: Any = _gathered(func, FILTER_NAMES, "filters", lowered)
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped  # type: ignore[no-any-return]


CONNECTION_NAMES = ("endpoint", "admin_token", "auth", "region", "api_key", "profile")


def reader_options(func: F) -> F:
    """``endpoint_options(admin=True)`` of the read commands, given to the command as one ``connection``
    argument: the keyword arguments of ``settings.open_reader``."""
    return endpoint_options(admin=True)(_gathered(func, CONNECTION_NAMES, "connection"))


def _gathered(
    func: F,
    names: tuple[str, ...],
    into: str,
    transform: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> F:
    """``func`` taking the options ``names`` as one dict argument ``into`` (after ``transform``)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        gathered = {name: kwargs.pop(name) for name in names}
        return func(*args, **{into: transform(gathered) if transform else gathered}, **kwargs)

    return wrapper  # type: ignore[return-value]
