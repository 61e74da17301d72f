"""``logpipe dlq list | redrive`` (operator; CONTRACT §4): the messages the workers gave up on.

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

AWS_BATCH = 10  # SQS's maximum per receive / send / delete batch
AWS_LEASE_S = 60  # how long a message being listed or moved stays hidden from others
AWS_MAX_MESSAGES = 10_000  # one redrive moves at most this many (run it again for more)


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
        from logpipe_backend.adapters.local.datadir import DataDir
        from logpipe_backend.adapters.local.queue import SqliteQueue

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
    def __init__(self) -> None:
        import os

        from logpipe_backend.adapters.aws import wiring as aws

        self._sqs: Any = aws.client("sqs")
        self._queue_url = os.environ.get("LOGPIPE_QUEUE_URL", "").strip()
        if not self._queue_url:
            fail("LOGPIPE_QUEUE_URL is not set")
        attrs = self._sqs.get_queue_attributes(QueueUrl=self._queue_url, AttributeNames=["RedrivePolicy"])
        policy = attrs.get("Attributes", {}).get("RedrivePolicy")
        if not policy:
            fail(f"{self._queue_url} has no dead-letter queue (no RedrivePolicy)")
        dlq_arn = str(json.loads(policy)["deadLetterTargetArn"])
        _, _, _, _, account, name = dlq_arn.split(":", 5)
        self._dlq_url = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]

    def _receive(self, count: int) -> list[dict[str, Any]]:
        response = self._sqs.receive_message(
            QueueUrl=self._dlq_url,
            MaxNumberOfMessages=min(AWS_BATCH, count),
            VisibilityTimeout=AWS_LEASE_S,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        return messages

    def _release(self, messages: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(messages), AWS_BATCH):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages[start : start + AWS_BATCH])
            ]
            self._sqs.change_message_visibility_batch(QueueUrl=self._dlq_url, Entries=entries)

    def list(self, limit: int) -> list[DeadLetter]:
        seen: list[dict[str, Any]] = []
        while len(seen) < limit:
            got = self._receive(limit - len(seen))
            if not got:
                break
            seen += got
        self._release(seen)  # listing must not hide them from a redrive
        out = []
        for m in seen:
            tenant, count = _summary(m.get("Body", ""))
            attrs = m.get("Attributes", {})
            sent = int(attrs.get("SentTimestamp", "0"))
            receives = int(attrs.get("ApproximateReceiveCount", "0"))
            out.append(DeadLetter(m["MessageId"], tenant, count, receives, _ts(sent), None))
        return out

    def redrive(self, message_ids: Sequence[str] | None) -> int:
        wanted = set(message_ids) if message_ids else None
        skipped: list[dict[str, Any]] = []
        moved = 0
        deadline = time.monotonic() + 300
        while moved < AWS_MAX_MESSAGES and time.monotonic() < deadline:
            got = self._receive(AWS_BATCH)
            if not got:
                break
            batch = [m for m in got if wanted is None or m["MessageId"] in wanted]
            skipped += [m for m in got if not (wanted is None or m["MessageId"] in wanted)]
            if not batch:
                continue
            sent = self._sqs.send_message_batch(
                QueueUrl=self._queue_url,
                Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(batch)],
            )
            ok = {int(e["Id"]) for e in sent.get("Successful", [])}
            done = [m for i, m in enumerate(batch) if i in ok]
            skipped += [m for i, m in enumerate(batch) if i not in ok]
            if done:
                self._sqs.delete_message_batch(
                    QueueUrl=self._dlq_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
                )
            moved += len(done)
        self._release(skipped)
        return moved

    def close(self) -> None:
        pass


def _open(backend: str, data_dir: str | None) -> DlqOps:
    try:
        return _AwsDlq() if backend == "aws" else _LocalDlq(data_dir)
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
def list_(backend: str, data_dir: str | None, limit: int, output: str) -> None:
    """List dead letters: message id, tenant, records, receives, when, last error (local only)."""
    ops = _open(backend, data_dir)
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
def redrive(message_ids: tuple[str, ...], backend: str, data_dir: str | None) -> None:
    """Move dead letters (all, or the MESSAGE_IDS given) back to the queue."""
    ops = _open(backend, data_dir)
    try:
        moved = ops.redrive(list(message_ids) or None)
    except Exception as exc:
        fail(f"{type(exc).__name__}: {exc}")
    finally:
        ops.close()
    click.echo(f"redrove {moved} message(s)", err=True)
