"""The worker: SQS event in, ``{"batchItemFailures": [...]}`` out.

For each message: unpack the envelope → redact every record → the simulated work
(``LOGPIPE_SIMULATED_WORK_PER_CHAR`` seconds × characters of each message) → ``store.put_records`` (an
upsert, so a redelivered message stores no second copy). A message that fails is data, not an exception:
its ``messageId`` goes into ``batchItemFailures`` and the others go on, so one poison message neither sinks
its batch nor is retried with it. Near the invocation's deadline, the messages not yet started are reported
as failures instead of being cut off half-way (they come back after the visibility timeout).

The local worker loop calls :func:`process` to also learn *why* a message failed (kept with the message and
shown by ``logpipe dlq list``); Lambda gets :func:`handle`'s response.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from logpipe_backend.core.envelope import unpack_with_text
from logpipe_backend.core.record import Record
from logpipe_backend.core.redact import Redactor
from logpipe_backend.ports import Store

log = logging.getLogger("logpipe.worker")

DEFAULT_TIME_MARGIN_MS = 3_000  # leave this much of the invocation unused: a store write must finish


class LambdaContext(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True)
class WorkerDeps:
    store: Store
    redactor: Redactor = field(default_factory=Redactor)
    work_per_char_s: float = 0.0  # the seed's simulated CPU work
    time_margin_ms: int = DEFAULT_TIME_MARGIN_MS
    sleep: Callable[[float], None] = time.sleep


def work_per_char_from_env(environ: Mapping[str, str] | None = None) -> float:
    env = os.environ if environ is None else environ
    raw = env.get("LOGPIPE_SIMULATED_WORK_PER_CHAR", "").strip()
    value = float(raw) if raw else 0.0
    if value < 0 or value != value:  # negative or NaN
        raise ValueError("LOGPIPE_SIMULATED_WORK_PER_CHAR must be a number of seconds >= 0")
    return value


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
            tenant_id, records, texts, flagged = _unpack(message, deps.redactor)
            work_s = 0.0  # the sum is a Python step per record: only when there is simulated work
            if deps.work_per_char_s:
                work_s = deps.work_per_char_s * sum(len(r["message"]) for r in records)
            if context is not None:
                remaining = context.get_remaining_time_in_millis()
                if remaining - work_s * 1000 < deps.time_margin_ms:
                    failures[message_id] = "not started: too little time left in this invocation"
                    continue
            _redact(deps.redactor, records, texts, flagged)
            if work_s > 0:
                deps.sleep(work_s)
            deps.store.put_records(records, texts)
            log.debug("stored %d records of %s from %s", len(records), tenant_id, message_id)
        except Exception as exc:
            log.exception("message %s failed", message_id)
            failures[message_id] = f"{type(exc).__name__}: {exc}"[:2000]
    return failures


def _unpack(
    message: Mapping[str, Any], redactor: Redactor
) -> tuple[str, list[Record], list[str | None], list[int]]:
    body = message.get("body")
    if not isinstance(body, str):
        raise PoisonMessage("message has no body")
    # A message is one tenant's: unpack refuses a record whose tenant_id differs from the envelope's.
    # The secret pre-scan runs on the records' texts before they are parsed: it flags every run of 13+
    # digits too, so unpack looks for integers past 64 bits in the flagged texts only.
    return unpack_with_text(body, redactor.json_to_redact)


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


_deps: WorkerDeps | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point; dependencies are built once per process (cold start)."""
    global _deps
    if _deps is None:
        from logpipe_backend.wiring import worker as wiring

        _deps = wiring.deps()
    return handle(event, _deps, context)
