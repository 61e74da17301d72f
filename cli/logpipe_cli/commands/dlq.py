"""``logpipe dlq list | redrive`` (operator; docs/contract.md §4): the messages the workers gave up on.

``--backend local``: the ``dlq`` table of the data dir's queue.db (with each message's last error).
``--backend aws``: the dead-letter queue of ``LOGPIPE_QUEUE_URL`` (found from its redrive policy). ``list``
leases the messages only for a moment and makes them visible again; ``redrive`` sends each back to the
main queue and only then deletes it from the DLQ — a crash in between can only duplicate a message, which
the store's upsert makes harmless.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import click

from logpipe_cli.commands._local import backend_option, data_dir_option, fail


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    tenant_id: str
    records: int
    receive_count: int
    moved_at: str
    last_error: str | None


class DlqOps(Protocol):
    def list(self, limit: int) -> list[DeadLetter]: ...
    def redrive(self, message_ids: Sequence[str] | None) -> int: ...
    def close(self) -> None: ...


def _summary(body: str) -> tuple[str, int]:
    """(tenant, record count) of an envelope, without trusting it to be well-formed."""
    from logpipe_backend.core.envelope import expand  # lazy, like this command's other backend imports

    try:
        data = json.loads(expand(body))  # a compressed (v2) envelope holds a v1 one
        return str(data.get("tenant_id", "?")), len(data.get("records", []))
    except (ValueError, AttributeError, TypeError):
        return "?", 0


def _ts(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))


class _LocalDlq:
    def __init__(self, data_dir: str | None) -> None:
        from logpipe_backend.adapters.sqlite.datadir import DataDir
        from logpipe_backend.adapters.sqlite.queue import SqliteQueue

        directory = DataDir.resolve(data_dir)
        if not directory.queue_db.exists():
            fail(f"no local queue in {directory.root} (has `logpipe serve` run there?)")
        self._queue = SqliteQueue(directory.queue_db)

    def list(self, limit: int) -> list[DeadLetter]:
        out = []
        for d in self._queue.dead_letters(limit):
            tenant, count = _summary(d.body)
            out.append(
                DeadLetter(d.message_id, tenant, count, d.receive_count, _ts(d.moved_ms), d.last_error)
            )
        return out

    def redrive(self, message_ids: Sequence[str] | None) -> int:
        return self._queue.redrive(message_ids)

    def close(self) -> None:
        self._queue.close()


class _AwsDlq:
    """The SQS dead-letter queue, through ``adapters.aws.dlq`` (send first, delete after)."""

    def __init__(self, worker_log_group: str | None) -> None:
        import os

        from logpipe_backend.adapters.aws import dlq
        from logpipe_backend.wiring import aws as aws

        self._dlq = dlq
        self._sqs: Any = aws.client("sqs")
        self._queue_url = os.environ.get("LOGPIPE_QUEUE_URL", "").strip()
        if not self._queue_url:
            fail("LOGPIPE_QUEUE_URL is not set")
        self._dlq_url = dlq.dlq_url_for(self._sqs, self._queue_url)
        # SQS keeps no error with a message: the worker logs each failure with its message id, and the
        # listing finds the latest such line in the worker's log group when it is named.
        self._log_group = worker_log_group
        self._logs: Any = aws.client("logs") if worker_log_group else None

    def list(self, limit: int) -> list[DeadLetter]:
        letters = self._dlq.list_dlq(
            self._sqs,
            self._queue_url,
            limit=limit,
            logs=self._logs,
            worker_log_group=self._log_group,
            dlq_url=self._dlq_url,
        )
        return [DeadLetter(**vars(letter)) for letter in letters]

    def redrive(self, message_ids: Sequence[str] | None) -> int:
        result = self._dlq.redrive(self._sqs, self._queue_url, message_ids=message_ids, dlq_url=self._dlq_url)
        if result.send_failed or result.delete_failed:
            click.echo(
                f"{result.send_failed} could not be sent (still in the DLQ), "
                f"{result.delete_failed} sent but not deleted from the DLQ",
                err=True,
            )
        moved: int = result.moved
        return moved

    def start_move_task(self) -> str:
        handle: str = self._dlq.start_move_task(self._sqs, self._queue_url)
        return handle

    def close(self) -> None:
        pass


def _open(backend: str, data_dir: str | None, worker_log_group: str | None = None) -> DlqOps:
    try:
        return _AwsDlq(worker_log_group) if backend == "aws" else _LocalDlq(data_dir)
    except SystemExit:
        raise
    except Exception as exc:  # no credentials, unknown queue…: one line, no traceback
        fail(f"cannot reach the {backend} dead-letter queue: {exc}")


@click.group("dlq")
def command() -> None:
    """Inspect and redrive the dead-letter queue (operator)."""


@command.command("list")
@backend_option
@data_dir_option
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--worker-log-group",
    envvar="LOGPIPE_WORKER_LOG_GROUP",
    help="aws: the worker's CloudWatch log group (Terraform output worker_log_group_name), "
    "searched for each message's last error.",
)
def list_(backend: str, data_dir: str | None, limit: int, output: str, worker_log_group: str | None) -> None:
    """List dead letters: message id, tenant, records, receives, when, last error."""
    ops = _open(backend, data_dir, worker_log_group)
    try:
        letters = ops.list(limit)
    except Exception as exc:
        fail(f"{type(exc).__name__}: {exc}")
    finally:
        ops.close()
    for d in letters:
        if output == "json":
            click.echo(json.dumps(d.__dict__))
        else:
            error = (d.last_error or "").replace("\n", " ")[:200]
            click.echo(
                f"{d.message_id}\t{d.tenant_id}\trecords={d.records}\treceives={d.receive_count}"
                f"\t{d.moved_at}\t{error}"
            )


@command.command("redrive")
@click.argument("message_ids", nargs=-1)
@backend_option
@data_dir_option
@click.option(
    "--server-side",
    is_flag=True,
    help="aws: start SQS's own message move task (every message, moved by SQS; returns at once).",
)
def redrive(message_ids: tuple[str, ...], backend: str, data_dir: str | None, server_side: bool) -> None:
    """Move dead letters (all, or the MESSAGE_IDS given) back to the queue."""
    if server_side and (backend != "aws" or message_ids):
        raise click.UsageError("--server-side moves every message of the SQS DLQ: use --backend aws, no ids")
    ops = _open(backend, data_dir)
    if server_side and isinstance(ops, _AwsDlq):
        try:
            handle = ops.start_move_task()
        except Exception as exc:
            fail(f"{type(exc).__name__}: {exc}")
        click.echo(f"started SQS message move task {handle}", err=True)
        return
    try:
        moved = ops.redrive(list(message_ids) or None)
    except Exception as exc:
        fail(f"{type(exc).__name__}: {exc}")
    finally:
        ops.close()
    click.echo(f"redrove {moved} message(s)", err=True)
