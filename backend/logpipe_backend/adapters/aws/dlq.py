"""The dead-letter queue on SQS, for the operator (``logpipe dlq list | redrive --backend aws``).

A message lands in the DLQ after ``maxReceiveCount`` (5) receives that the worker reported as failed. SQS
keeps its body, a receive count and its original ``SentTimestamp`` — but not *why* it failed: SQS has no
place for an error on a message. What "last error" means on AWS:

- The worker logs every failure with the message's ``messageId`` in the line (``handlers/worker.py``:
  ``message <id> failed`` plus the exception), in the worker's CloudWatch log group. CloudWatch Logs
  Insights finds it with ``fields @timestamp, @message | filter @message like "<messageId>"``.
- :func:`list_dlq` shows what SQS knows (id, tenant and record count read from the envelope, receive
  count, first-sent time) and, only when given a CloudWatch Logs client and the worker's log group, looks
  up the latest log event that names each message id (``FilterLogEvents``, quoted-term pattern) as its
  ``last_error``. Without them, or when the log has expired or holds nothing, ``last_error`` is None.

Redrive, two ways:

- :func:`redrive` (what the CLI uses): receive from the DLQ → ``SendMessageBatch`` to the source queue
  (within SQS's 10 entries and 1 MiB per call) →
  ``DeleteMessageBatch`` from the DLQ of exactly the entries that were sent. Send first, delete after: a
  crash or a failed delete in between leaves a copy in both queues, never in neither; the copy is harmless
  because the worker's write is an upsert on ``(tenant_id, log_id)``. It can move only chosen message ids.
- :func:`start_move_task`: SQS's own ``StartMessageMoveTask`` (DLQ → source, server-side, all messages).
  moto does not implement it, so it is tested only against a stubbed client.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from logpipe_backend.adapters.aws.sqs import plan_batches
from logpipe_backend.core.envelope import expand

log = logging.getLogger(__name__)

BATCH: Final = 10  # SQS's maximum per receive / send / delete / change-visibility batch
LEASE_SECONDS: Final = 60  # a message being listed or moved stays hidden from others this long
MAX_REDRIVE: Final = 10_000  # one redrive moves at most this many messages (run it again for more)
REDRIVE_DEADLINE_SECONDS: Final = 300.0
MAX_ERROR_LOOKUPS: Final = 100  # FilterLogEvents calls are per message: bound them
MAX_LOG_PAGES: Final = 10
MAX_ERROR_CHARS: Final = 2000


@dataclass(frozen=True)
class DeadLetter:
    """One DLQ message; the same fields as the CLI's local listing."""

    message_id: str
    tenant_id: str  # from the envelope; "?" when the body is not one
    records: int
    receive_count: int  # SQS's ApproximateReceiveCount, which counts this listing's own receive too
    moved_at: str  # SQS records no move time: this is the message's original SentTimestamp (RFC 3339)
    last_error: str | None


@dataclass(frozen=True)
class RedriveResult:
    moved: int  # sent to the source queue and deleted from the DLQ
    send_failed: int  # could not be sent: left in the DLQ
    delete_failed: int  # sent, but still in the DLQ too (a harmless duplicate on the next redrive)


def _summary(body: str) -> tuple[str, int]:
    """(tenant, record count) of an envelope, without trusting it to be well-formed."""
    try:
        data = json.loads(expand(body))  # a compressed (v2) envelope holds a v1 one
        records = data.get("records", [])
        return str(data.get("tenant_id", "?")), len(records) if isinstance(records, list) else 0
    except (ValueError, AttributeError, TypeError):
        return "?", 0


def _rfc3339(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def dlq_url_for(sqs: Any, queue_url: str) -> str:
    """The DLQ named by the source queue's redrive policy."""
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    policy = attrs.get("Attributes", {}).get("RedrivePolicy")
    if not policy:
        raise ValueError(f"{queue_url} has no dead-letter queue (no RedrivePolicy)")
    dlq_arn = str(json.loads(policy)["deadLetterTargetArn"])
    _, _, _, _, account, name = dlq_arn.split(":", 5)
    url: str = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
    return url


def _receive(sqs: Any, url: str, count: int, wait_seconds: int) -> list[dict[str, Any]]:
    response = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=max(1, min(BATCH, count)),
        VisibilityTimeout=LEASE_SECONDS,
        WaitTimeSeconds=wait_seconds,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def release(sqs: Any, url: str, messages: Sequence[dict[str, Any]]) -> None:
    """Make leased messages visible again at once (a listing must not hide them from a redrive)."""
    for start in range(0, len(messages), BATCH):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + BATCH])
        ]
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)


def last_error_in_logs(
    logs: Any, log_group: str, message_id: str, *, since_ms: int | None = None
) -> str | None:
    """The latest event in the worker's log group that names ``message_id``, or None."""
    params: dict[str, Any] = {"logGroupName": log_group, "filterPattern": f'"{message_id}"'}
    if since_ms is not None:
        params["startTime"] = since_ms
    latest: tuple[int, str] | None = None
    for _ in range(MAX_LOG_PAGES):
        response = logs.filter_log_events(**params)
        for event in response.get("events", []):
            stamp = int(event.get("timestamp", 0))
            if latest is None or stamp >= latest[0]:
                latest = (stamp, str(event.get("message", "")))
        token = response.get("nextToken")
        if not token:
            break
        params["nextToken"] = token
    if latest is None:
        return None
    return latest[1].strip()[:MAX_ERROR_CHARS]


def list_dlq(
    sqs: Any,
    queue_url: str,
    *,
    limit: int = 100,
    logs: Any = None,
    worker_log_group: str | None = None,
    since_ms: int | None = None,
    wait_seconds: int = 1,
    dlq_url: str | None = None,
) -> list[DeadLetter]:
    """Up to ``limit`` messages of ``queue_url``'s DLQ, each leased for a moment and released again.

    ``logs`` (a CloudWatch Logs client) and ``worker_log_group`` turn on the ``last_error`` look-up (at
    most ``MAX_ERROR_LOOKUPS`` messages; ``since_ms`` narrows the search, e.g. to the queue's retention).
    """
    url = dlq_url or dlq_url_for(sqs, queue_url)
    seen: list[dict[str, Any]] = []
    try:
        for _ in range(limit // BATCH + 2):  # bounded; an empty receive ends it sooner
            if len(seen) >= limit:
                break
            got = _receive(sqs, url, limit - len(seen), wait_seconds)
            if not got:
                break
            seen += got
    finally:
        release(sqs, url, seen)
    letters: list[DeadLetter] = []
    for index, message in enumerate(seen[:limit]):
        tenant, count = _summary(message.get("Body", ""))
        attrs = message.get("Attributes", {})
        error = None
        if logs is not None and worker_log_group and index < MAX_ERROR_LOOKUPS:
            error = last_error_in_logs(logs, worker_log_group, message["MessageId"], since_ms=since_ms)
        letters.append(
            DeadLetter(
                message_id=message["MessageId"],
                tenant_id=tenant,
                records=count,
                receive_count=int(attrs.get("ApproximateReceiveCount", "0")),
                moved_at=_rfc3339(int(attrs.get("SentTimestamp", "0"))),
                last_error=error,
            )
        )
    return letters


def redrive(
    sqs: Any,
    queue_url: str,
    *,
    message_ids: Sequence[str] | None = None,
    max_messages: int = MAX_REDRIVE,
    deadline_seconds: float = REDRIVE_DEADLINE_SECONDS,
    wait_seconds: int = 1,
    dlq_url: str | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RedriveResult:
    """Move DLQ messages (all, or those in ``message_ids``) back to ``queue_url``.

    Send first, delete after; bounded by ``max_messages``, ``deadline_seconds`` and a number of rounds. Each
    ``SendMessageBatch`` holds at most 10 entries and 1 MiB of bodies (``sqs.plan_batches``; SQS refuses a
    larger one whole, with ``BatchRequestTooLong``). A message whose send fails (the whole call, or its
    entry) is made visible in the DLQ again at once and not tried again in this run; the run ends when a
    receive brings only such messages. Messages leased but not chosen, or sent but not deleted, are made
    visible again at the end.
    """
    url = dlq_url or dlq_url_for(sqs, queue_url)
    wanted = set(message_ids) if message_ids else None
    keep: list[dict[str, Any]] = []  # leased but not moved: released at the end
    failed_ids: set[str] = set()  # sends that failed in this run: visible again, not retried
    moved = delete_failed = 0
    started = clock()
    try:
        for _ in range(max_messages // BATCH + 100):  # bounded in rounds as well as count and time
            if moved >= max_messages or clock() - started > deadline_seconds:
                break
            got = _receive(sqs, url, min(BATCH, max_messages - moved), wait_seconds)
            if not got:
                break
            again = [m for m in got if m["MessageId"] in failed_ids]
            release(sqs, url, again)
            if len(again) == len(got):
                break
            fresh = [m for m in got if m["MessageId"] not in failed_ids]
            batch = [m for m in fresh if wanted is None or m["MessageId"] in wanted]
            keep += [m for m in fresh if not (wanted is None or m["MessageId"] in wanted)]
            for group in _send_groups(batch):
                sent = _send(sqs, queue_url, group)
                not_sent = [m for m in group if m["MessageId"] not in sent]
                if not_sent:
                    release(sqs, url, not_sent)  # at once: not hidden until the lease runs out
                    failed_ids.update(m["MessageId"] for m in not_sent)
                done = [m for m in group if m["MessageId"] in sent]
                undeleted = _delete(sqs, url, done)
                # Sent but still in the DLQ: made visible again at the end, so the operator sees it
                # there (a later redrive sends a duplicate, which the store's upsert absorbs).
                keep += undeleted
                delete_failed += len(undeleted)
                moved += len(done) - len(undeleted)
    finally:
        release(sqs, url, keep)
    return RedriveResult(moved=moved, send_failed=len(failed_ids), delete_failed=delete_failed)


def _send_groups(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The messages in consecutive groups that one SendMessageBatch takes (the queue adapter's planner).

    Our messages carry no message attributes, which would count toward the 1 MiB too; one that did and
    went past it fails its batch, which is then released like any failed send."""
    groups: list[list[dict[str, Any]]] = []
    start = 0
    for bodies in plan_batches([m["Body"] for m in messages]):
        groups.append(messages[start : start + len(bodies)])
        start += len(bodies)
    return groups


def _send(sqs: Any, queue_url: str, group: list[dict[str, Any]]) -> set[str]:
    """Send one group; the message ids SQS took. A call that fails takes none."""
    entries = []
    for i, m in enumerate(group):
        entry: dict[str, Any] = {"Id": str(i), "MessageBody": m["Body"]}
        if m.get("MessageAttributes"):
            entry["MessageAttributes"] = m["MessageAttributes"]
        entries.append(entry)
    try:
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    except (ClientError, BotoCoreError):
        log.warning("SendMessageBatch of %d DLQ message(s) failed", len(group), exc_info=True)
        return set()
    return {group[int(e["Id"])]["MessageId"] for e in response.get("Successful", [])}


def _delete(sqs: Any, url: str, done: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Delete sent messages from the DLQ; those whose delete failed."""
    if not done:
        return []
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
    )
    undeleted = {int(e["Id"]) for e in deleted.get("Failed", [])}
    return [m for i, m in enumerate(done) if i in undeleted]


def start_move_task(sqs: Any, queue_url: str, *, max_per_second: int | None = None) -> str:
    """Start SQS's server-side move of every DLQ message back to ``queue_url``; returns the task handle.

    Needs the DLQ's redrive-allow policy to name the source queue (infra/terraform/queue.tf does).
    """
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "RedrivePolicy"])[
        "Attributes"
    ]
    policy = attrs.get("RedrivePolicy")
    if not policy:
        raise ValueError(f"{queue_url} has no dead-letter queue (no RedrivePolicy)")
    params: dict[str, Any] = {
        "SourceArn": str(json.loads(policy)["deadLetterTargetArn"]),
        "DestinationArn": attrs["QueueArn"],
    }
    if max_per_second is not None:
        params["MaxNumberOfMessagesPerSecond"] = max_per_second
    handle: str = sqs.start_message_move_task(**params)["TaskHandle"]
    return handle
