"""``logpipe send``: stream files, globs, ``.gz`` and stdin to ``POST /ingest``.

Ctrl-C (issue 15): the first stops reading and sends every line already read (each ends accepted, rejected
or counted "not accepted"; none is dropped unsaid), then names where to resume (``--skip-lines``). The
second leaves at once, whatever is in flight.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

import click
from logpipe import Client, SendResult, SendStats, TransportError

from logpipe_cli.errors import credential_hint, describe, fail, handle_errors
from logpipe_cli.exit_codes import ExitCode
from logpipe_cli.format import format_summary
from logpipe_cli.inputs import InputError, ReadPosition, expand, read_lines
from logpipe_cli.options import endpoint_options, tenant_option

MAX_ERRORS_SHOWN = 5


@click.command("send")
@click.argument("inputs", nargs=-1, metavar="[FILE|GLOB|-]...")
@tenant_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "json", "text"]),
    default="auto",
    show_default=True,
    help="auto: a line that is a JSON object is sent as JSON, any other as text.",
)
@click.option(
    "--multiline",
    default="auto",
    show_default=True,
    metavar="auto|none|REGEX",
    callback=lambda _ctx, _param, value: _multiline_option(value),
    help="Join the lines of one record (stack traces) before sending. auto: indented lines and the lines "
    "of Java, Python, Go and Node traces join the line before; REGEX: a line it matches starts a record, "
    "any other joins the one before; none: one record a line. Text lines only.",
)
@click.option("--batch-records", default=5000, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--in-flight", default=4, show_default=True, type=click.IntRange(1, 64), help="Requests at once."
)
@click.option(
    "--retries", default=5, show_default=True, type=click.IntRange(0, 100), help="Retries of one request."
)
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal)."
)
@click.option(
    "--skip-lines",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Skip the first N lines of the first input: resume an interrupted send (Ctrl-C prints the command).",
)
@endpoint_options(admin=False)
@handle_errors
def command(
    inputs: tuple[str, ...],
    tenant: str | None,
    fmt: str,
    multiline: str,
    batch_records: int,
    in_flight: int,
    retries: int,
    progress: bool | None,
    skip_lines: int,
    endpoint: str | None,
    api_key: str | None,
    profile: str | None,
) -> None:
    """Send log lines from files (plain or .gz), globs or stdin (`-`, the default)."""
    try:
        sources = expand(inputs)
    except InputError as exc:
        fail(str(exc), ExitCode.USAGE)
    if any(s.name == "-" for s in sources) and sys.stdin.isatty() and not inputs:
        fail("nothing to send: give FILE arguments or pipe lines into stdin", ExitCode.USAGE)
    from logpipe import BatchLimits, RetryPolicy, load_settings

    if not load_settings(endpoint=endpoint, api_key=api_key, profile=profile).api_key:
        # Said here in the CLI's words: the SDK's own message names its keyword argument.
        fail(
            "no API key: pass --api-key, set LOGPIPE_API_KEY, or `logpipe config set api_key KEY`"
            " (`logpipe tenants create T` prints a tenant's key)",
            ExitCode.USAGE,
        )
    client = Client(
        endpoint=endpoint,
        api_key=api_key,
        tenant=tenant,
        profile=profile,
        batch_limits=BatchLimits(max_records=batch_records),
        retry=RetryPolicy(max_attempts=retries + 1),
    )
    if not client.tenant:
        fail("--tenant is required (or LOGPIPE_TENANT, or `logpipe config set tenant T`)", ExitCode.USAGE)
    show_progress = sys.stderr.isatty() if progress is None else progress
    with client:
        code = send(
            client,
            sources,
            fmt=fmt,
            multiline=multiline,
            in_flight=in_flight,
            show_progress=show_progress,
            skip_lines=skip_lines,
        )
    raise SystemExit(int(code))


def _multiline_option(value: str) -> str:
    """``--multiline``'s value; a pattern that does not compile is a usage error, before anything is read."""
    if value not in ("auto", "none"):
        try:
            re.compile(value)
        except re.error as exc:
            raise click.BadParameter(f"not a regular expression: {exc}") from None
    return value


def send(
    client: Client,
    sources: list[Any],
    *,
    fmt: str,
    in_flight: int,
    show_progress: bool,
    multiline: str = "auto",
    skip_lines: int = 0,
) -> ExitCode:
    """Run the upload, print the summary line, and return the exit code."""
    stats = SendStats()
    position = ReadPosition(sources)
    skipped: list[str] = []
    stop = threading.Event()
    started = time.monotonic()

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        # First Ctrl-C: stop reading, send what was read, report. Second: leave now — os._exit, since a
        # KeyboardInterrupt would still wait at exit for the sending threads' requests to finish.
        if stop.is_set():
            click.echo("logpipe: aborted; what was in flight may or may not have been accepted", err=True)
            os._exit(int(ExitCode.INTERRUPTED))
        position.stopping = True
        stop.set()
        click.echo("logpipe: stopping: sending what was read (Ctrl-C again to quit at once)...", err=True)

    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        lines = read_lines(sources, stats, skipped, skip_lines=skip_lines, position=position)
        if show_progress:
            result = _with_progress(client, lines, stats, fmt, multiline, in_flight, stop)
        else:
            result = client.send_lines(
                lines, format=fmt, multiline=multiline, max_in_flight=in_flight, stop=stop, stats=stats
            )
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    elapsed = time.monotonic() - started
    for message in list(dict.fromkeys(skipped + result.errors))[:MAX_ERRORS_SHOWN]:
        click.echo(f"logpipe: {' '.join(message.split())}", err=True)
    hint = credential_hint(result.fatal)
    if hint:
        click.echo(f"logpipe: {hint}", err=True)
    click.echo(
        format_summary(
            lines=stats.lines_read,
            nbytes=stats.bytes_read,
            seconds=elapsed,
            accepted=result.accepted,
            rejected=result.rejected,
            failed=result.failed,
            blank=stats.blank,
            joined=stats.joined,
            interrupted=result.interrupted,
        ),
        err=True,
    )
    if result.interrupted:
        name = sources[position.index].name
        where = f"{'stdin' if name == '-' else name} line {position.lines_done(stats) + 1}"
        click.echo(
            f"logpipe: interrupted at {where}: the lines before it were sent (counted above); "
            f"resume with: {position.resume_command(stats)}",
            err=True,
        )
    return _exit_code(result)


def _exit_code(result: SendResult) -> ExitCode:
    if result.fatal is not None:
        if isinstance(result.fatal, TransportError):
            return ExitCode.UNREACHABLE
        if isinstance(result.fatal.__cause__, InputError) or "reading" in str(result.fatal):
            click.echo(f"logpipe: {describe(result.fatal)}", err=True)
        return ExitCode.NOT_ACCEPTED
    if result.rejected or result.failed or result.interrupted:
        return ExitCode.NOT_ACCEPTED
    return ExitCode.OK


def _with_progress(
    client: Client,
    lines: Any,
    stats: SendStats,
    fmt: str,
    multiline: str,
    in_flight: int,
    stop: threading.Event,
) -> SendResult:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.fields[lines]:>12,} lines"),
        TextColumn("{task.fields[size]:>10}"),
        TextColumn("{task.fields[rate]:>14} lines/s"),
        TextColumn("[green]{task.fields[accepted]:,} accepted"),
        TextColumn("{task.fields[problems]}"),
        TimeElapsedColumn(),
    )
    from logpipe_cli.format import human_bytes

    started = time.monotonic()
    with Progress(*columns, console=console, transient=True, refresh_per_second=8) as bar:
        task = bar.add_task("send", total=None, lines=0, size="0 B", rate="0", accepted=0, problems="")

        def tick(s: SendStats) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            problems = ""
            if s.rejected or s.failed:
                problems = f"[red]{s.rejected:,} rejected {s.failed:,} failed"
            if s.retries:
                problems += f" [yellow]{s.retries} retries"
            bar.update(
                task,
                lines=s.lines_read,
                size=human_bytes(s.bytes_read),
                rate=f"{s.lines_read / elapsed:,.0f}",
                accepted=s.accepted,
                problems=problems,
            )

        return client.send_lines(
            lines,
            format=fmt,
            multiline=multiline,
            max_in_flight=in_flight,
            stop=stop,
            stats=stats,
            on_tick=tick,
        )
