"""``ports.Queue`` on Amazon SQS.

Ingest packs many records per message (``core.envelope.pack``), so one request usually becomes a handful of
messages; they go out in ``SendMessageBatch`` calls of at most 10 entries and at most 1 MiB in total.
``SendMessageBatch`` answers HTTP 200 even when some entries failed: every entry's outcome is read from
``Successful``/``Failed``, and only the failed ones are retried (with backoff and jitter). moto accepts
characters that SQS refuses, so the character check is ours and runs before any call.

SQS bills each 64 KiB chunk of a message body as one request, and envelopes are ~1 MB: a body over one chunk
goes out in the envelope's compressed form (``core.envelope.compress``, v2: about 5x smaller, so 16 billed
chunks become 3 and the receive that the event source mapping makes is billed less too). A body within one
chunk is sent as it is: compressing it would cost CPU and save nothing. The worker's ``unpack`` reads both.

Only the ingest Lambda uses this class. On AWS the worker never calls SQS itself: the event source mapping
receives, deletes and redrives messages from the worker's ``batchItemFailures``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from logpipe_backend.adapters.aws._retry import full_jitter_delay
from logpipe_backend.core.envelope import compress, sqs_safe
from logpipe_backend.ports import QueueUnavailable

log = logging.getLogger(__name__)

# SQS limits (API reference, SendMessageBatch): 10 entries; each message and the sum of a batch's messages at
# most 1 MiB. The queue's MaximumMessageSize is set to the same value in infra/terraform/queue.tf.
MAX_BATCH_ENTRIES: Final = 10
MAX_MESSAGE_BYTES: Final = 1_048_576
MAX_BATCH_BYTES: Final = 1_048_576
# SQS bills every 64 KiB chunk of a payload as one request; bodies larger than that are sent compressed.
BILLED_CHUNK_BYTES: Final = 65_536
# Attempts per batch for entries SQS reports as failed with a server fault (throttling, internal error).
# botocore's own retries already cover whole-call failures.
SEND_ATTEMPTS: Final = 4
# Backpressure reads the depth on every ingest request; a few seconds of staleness is harmless and saves a
# GetQueueAttributes call (and its latency) per request.
DEPTH_CACHE_SECONDS: Final = 5.0
DEPTH_ATTRIBUTES: Final = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def plan_batches(bodies: Sequence[str]) -> list[list[str]]:
    """Group bodies, in order, into batches SQS accepts: ≤ 10 entries and ≤ 1 MiB of bodies per batch.

    Raises ``ValueError`` for a body SQS would refuse (too large, or a character outside SQS's set): that
    is a bug upstream (``envelope.pack`` guarantees both), and sending it would fail the whole request.
    """
    batches: list[list[str]] = []
    current: list[str] = []
    current_bytes = 0
    for index, body in enumerate(bodies):
        # The character check first: a lone surrogate (refused by SQS) cannot even be encoded as UTF-8.
        if not sqs_safe(body):
            raise ValueError(f"message {index} holds a character SQS refuses")
        size = len(body.encode("utf-8"))
        if size > MAX_MESSAGE_BYTES:
            raise ValueError(f"message {index} is {size} bytes; SQS takes at most {MAX_MESSAGE_BYTES}")
        if current and (len(current) == MAX_BATCH_ENTRIES or current_bytes + size > MAX_BATCH_BYTES):
            batches.append(current)
            current, current_bytes = [], 0
        current.append(body)
        current_bytes += size
    if current:
        batches.append(current)
    return batches


class SqsQueue:
    """The ingest side of the queue: send and depth."""

    def __init__(
        self,
        client: Any,
        queue_url: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        compress_over_bytes: int | None = BILLED_CHUNK_BYTES,
    ) -> None:
        self._client = client
        self._compress_over = compress_over_bytes  # None: never compress
        self._queue_url = queue_url
        self._sleep = sleep
        self._clock = clock
        self._depth: int | None = None
        self._depth_read_at = 0.0

    @property
    def queue_url(self) -> str:
        return self._queue_url

    def send(self, bodies: Sequence[str]) -> None:
        """Send every body, or raise ``QueueUnavailable``.

        SQS has no multi-batch transaction: if a later batch fails for good after earlier ones went out,
        those earlier messages stay queued and the client's retry (same ``Idempotency-Key``) yields the same
        log ids, so the store's upsert keeps a single copy.
        """
        for batch in plan_batches([self._transport_form(body) for body in bodies]):
            self._send_batch(batch)

    def _transport_form(self, body: str) -> str:
        """The compressed envelope when it saves billed chunks; else the body as it is. A body holding a
        character SQS refuses is left alone, so ``plan_batches`` refuses it rather than hiding it."""
        limit = self._compress_over
        if limit is None or not sqs_safe(body):
            return body
        if len(body) <= limit and len(body.encode("utf-8")) <= limit:  # chars ≤ bytes: encode only if needed
            return body
        compact = compress(body)
        return compact if len(compact) < len(body) else body

    def _send_batch(self, batch: list[str]) -> None:
        # Entry ids only need to be unique within one call; the index keeps them stable across retries.
        pending = {str(i): body for i, body in enumerate(batch)}
        for attempt in range(SEND_ATTEMPTS):
            try:
                response = self._client.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[{"Id": entry_id, "MessageBody": body} for entry_id, body in pending.items()],
                )
            except (ClientError, BotoCoreError) as exc:
                raise QueueUnavailable(f"SendMessageBatch failed: {exc}") from exc
            for ok in response.get("Successful", []):
                pending.pop(ok["Id"], None)
            failed = response.get("Failed", [])
            sender_faults = [f for f in failed if f.get("SenderFault")]
            if sender_faults:
                # Our request was wrong (it should be impossible after plan_batches); retrying cannot help.
                first = sender_faults[0]
                reason = f"{first.get('Code')}: {first.get('Message')}"
                raise RuntimeError(f"SQS refused {len(sender_faults)} message(s): {reason}")
            if not pending:
                return
            log.warning(
                "SendMessageBatch: %d of %d entries failed (attempt %d): %s",
                len(pending),
                len(batch),
                attempt + 1,
                ", ".join(sorted({str(f.get("Code")) for f in failed})) or "no outcome reported",
            )
            if attempt + 1 < SEND_ATTEMPTS:
                self._sleep(full_jitter_delay(attempt))
        raise QueueUnavailable(
            f"{len(pending)} message(s) could not be queued after {SEND_ATTEMPTS} attempts"
        )

    def approximate_depth(self) -> int:
        """Messages not yet deleted (waiting, in flight or delayed), cached for a few seconds."""
        now = self._clock()
        if self._depth is not None and now - self._depth_read_at < DEPTH_CACHE_SECONDS:
            return self._depth
        try:
            response = self._client.get_queue_attributes(
                QueueUrl=self._queue_url, AttributeNames=list(DEPTH_ATTRIBUTES)
            )
        except (ClientError, BotoCoreError) as exc:
            raise QueueUnavailable(f"GetQueueAttributes failed: {exc}") from exc
        attributes = response.get("Attributes", {})
        depth = sum(int(attributes.get(name, 0)) for name in DEPTH_ATTRIBUTES)
        self._depth, self._depth_read_at = depth, now
        return depth
