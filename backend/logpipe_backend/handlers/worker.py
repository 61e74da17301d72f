"""The worker: SQS event in, ``{"batchItemFailures": [...]}`` out.

For each message: unpack the envelope → redact every record → the simulated work
(``LOGPIPE_SIMULATED_WORK_PER_CHAR`` seconds × characters of each record's message) → ``store.put_records``
(an upsert, so a redelivered message stores no second copy). A message that fails is data, not an exception:
its ``messageId`` goes into ``batchItemFailures`` and the others go on, so one poison message neither sinks
its batch nor is retried with it.

Time (issue 12): the work of one message can outlast any invocation, and a message reported as failed
comes back with one more receive toward the DLQ's ``maxReceiveCount``. So a message is never failed for
lack of time. The worker does the work that fits before the invocation's deadline (less a margin for the
writes), stores the records it finished, and sends the rest to ``deps.requeue`` as a new message carrying
the work already spent on its first record (``core.envelope.with_work_done``); a message it cannot start
at all is re-queued as it is. The original is acknowledged only once that send succeeded; if the send
fails, the original is reported as failed and comes back whole (re-storing its first records is an upsert).
Without a ``requeue`` queue, a message that does not fit is reported as failed, as before.

The local worker loop calls :func:`process` to also learn *why* a message failed (kept with the message and
shown by ``logpipe dlq list``); Lambda gets :func:`handle`'s response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from logpipe_backend.core import simwork
from logpipe_backend.core.codec import compact_encoder
from logpipe_backend.core.envelope import (
    MAX_MESSAGE_BYTES,
    pack,
    take_work_done,
    unpack_with_text,
    with_work_done,
)
from logpipe_backend.core.record import Record
from logpipe_backend.core.redact import Redactor
from logpipe_backend.ports import Queue, WorkerDeps

log = logging.getLogger("logpipe.worker")

# A re-queued remainder gains a work_done_s mark in front (a few dozen bytes): pack it that much smaller
# than a fresh message, so it stays within SQS's 1 MiB.
REQUEUE_MAX_BYTES = MAX_MESSAGE_BYTES - 1_000
NOT_STARTED = "not started: too little time left in this invocation"
_encode = compact_encoder()


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


# The redactor of a WorkerDeps that names none: the built-in patterns only.
_BUILT_IN_REDACTOR = Redactor()


def _redactor(deps: WorkerDeps) -> Redactor:
    return _BUILT_IN_REDACTOR if deps.redactor is None else deps.redactor


class PoisonMessage(ValueError):
    """A message that can never succeed (malformed envelope, records of another tenant)."""


def process(
    event: Mapping[str, Any], deps: WorkerDeps, context: LambdaContext | None = None
) -> dict[str, str]:
    """Handle every message of an SQS event; return {messageId: reason} for those that failed."""
    failures: dict[str, str] = {}
    for message in event.get("Records") or []:
        message_id = str(message.get("messageId", ""))
        try:
            reason = _process_one(message, deps, context)
        except Exception as exc:
            log.exception("message %s failed", message_id)
            reason = f"{type(exc).__name__}: {exc}"[:2000]
        if reason is not None:
            failures[message_id] = reason
    return failures


def _process_one(message: Mapping[str, Any], deps: WorkerDeps, context: LambdaContext | None) -> str | None:
    """Store what fits in the time left and re-queue the rest; the reason it failed, or None when the
    message may be acknowledged."""
    body = message.get("body")
    if not isinstance(body, str):
        raise PoisonMessage("message has no body")
    body, done_s = take_work_done(body)
    # A message is one tenant's: unpack refuses a record whose tenant_id differs from the envelope's.
    # The secret pre-scan runs on the records' texts before they are parsed; by its own rule it also flags
    # every text that may hold an integer past 64 bits (Redactor.json_to_redact), which unpack needs.
    tenant_id, records, texts, flagged = unpack_with_text(body, _redactor(deps).json_to_redact)
    plan = _plan(records, done_s, deps, context)
    if plan.finished == len(records):
        _redact(_redactor(deps), records, texts, flagged)
        if plan.work_s > 0:
            deps.sleep(plan.work_s)
        deps.store.put_records(records, texts)
        return None
    if deps.requeue is None:
        return NOT_STARTED
    _store_part(deps, deps.requeue, plan, body, done_s, tenant_id, (records, texts, flagged))
    return None


def _store_part(
    deps: WorkerDeps,
    requeue: Queue,
    plan: simwork.WorkPlan,
    body: str,
    done_s: float,
    tenant_id: str,
    unpacked: tuple[list[Record], list[str | None], list[int]],
) -> None:
    """Do the work that fits, store the records finished, and send the rest to ``requeue``. An exception
    fails the original, which comes back whole: nothing is acknowledged that was not sent."""
    if not plan.started:
        # Re-queued as it came, rather than failed: a failure would count a receive toward the DLQ.
        requeue.send([with_work_done(body, done_s) if done_s else body])
        log.info("message of %s not started: re-queued", tenant_id)
        return
    records, texts, flagged = unpacked
    _redact(_redactor(deps), records, texts, flagged)
    deps.sleep(plan.work_s)
    if plan.finished:
        deps.store.put_records(records[: plan.finished], texts[: plan.finished])
    rest = [
        (text if text is not None else _encode(record)).encode()
        for record, text in zip(records[plan.finished :], texts[plan.finished :], strict=True)
    ]
    bodies = pack(tenant_id, rest, REQUEUE_MAX_BYTES)
    bodies[0] = with_work_done(bodies[0], plan.carried_s)
    requeue.send(bodies)
    log.info("stored %d records of %s; re-queued %d", plan.finished, tenant_id, len(rest))


def _plan(
    records: list[Record], done_s: float, deps: WorkerDeps, context: LambdaContext | None
) -> simwork.WorkPlan:
    budget_s = float("inf")
    if context is not None:
        budget_s = (context.get_remaining_time_in_millis() - deps.time_margin_ms) / 1000
        if budget_s <= 0:  # even without simulated work, the store write needs the margin
            return simwork.WorkPlan(finished=0, work_s=0.0, carried_s=done_s)
    if not deps.work_per_char_s:  # the costs are a Python step per record: only with simulated work
        return simwork.WorkPlan(finished=len(records), work_s=0.0, carried_s=0.0)
    return simwork.plan(
        simwork.costs([r["message"] for r in records], deps.work_per_char_s), done_s, budget_s
    )


def _redact(redactor: Redactor, records: list[Record], texts: list[str | None], flagged: list[int]) -> None:
    """Redact, in place, each record that may hold a secret, and drop its text (it no longer stands for it).

    ``flagged``: what ``json_to_redact`` (one scan of the whole message, run by unpack) returned. A record
    whose JSON holds nothing a secret needs (~99 % of them) keeps the text it arrived in, so it is neither
    walked through by the redactor nor encoded again: the store writes that text.
    """
    for index in flagged:
        records[index] = redactor.redact(records[index])
        texts[index] = None


def to_response(failures: Mapping[str, str]) -> dict[str, Any]:
    """The partial batch response Lambda's SQS event source mapping reads (ReportBatchItemFailures)."""
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failures]}


def handle(
    event: Mapping[str, Any], deps: WorkerDeps, context: LambdaContext | None = None
) -> dict[str, Any]:
    return to_response(process(event, deps, context))
