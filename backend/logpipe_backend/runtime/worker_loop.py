"""A local worker process: lease messages from the SQLite queue, call the worker handler, acknowledge.

This is what Lambda's SQS event source mapping does on AWS: receive a batch, hand the worker handler an
SQS-shaped event, delete the messages it did not report in ``batchItemFailures``, and leave the failed ones
to come back (here after a short backoff, never later than the visibility timeout). A message received
``max_receives`` times goes to the DLQ on its next receive, as with an SQS redrive policy.

Run as ``python -m logpipe_backend.runtime.worker_loop --data-dir D``; ``logpipe serve`` starts and
supervises these. SIGTERM/SIGINT: finish the current batch, then exit 0. If the parent dies (even by
SIGKILL) the worker notices and stops too, rather than run orphaned.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType
from typing import Any

from logpipe_backend.handlers import worker as worker_handler
from logpipe_backend.ports import WorkerDeps
from logpipe_backend.runtime import malloc_tuning
from logpipe_backend.runtime.gc_tuning import tune_gc
from logpipe_backend.wiring import worker as worker_wiring
from logpipe_backend.wiring.local import (
    DEFAULT_MAX_RECEIVES,
    DEFAULT_VISIBILITY_TIMEOUT_S,
    DataDir,
    ReceivedMessage,
    SqliteQueue,
    worker_ports,
)

log = logging.getLogger("logpipe.worker_loop")

DEFAULT_BATCH_SIZE = 10  # SQS's maximum per receive
DEFAULT_POLL_INTERVAL_S = 0.2  # the longest wait between two looks at an empty queue
MIN_POLL_INTERVAL_S = 0.01  # the first wait after work; doubled while the queue stays empty
MAX_RETRY_DELAY_S = 30.0
DEFAULT_FUNCTION_TIMEOUT_S = 900.0  # Lambda's maximum; the handler's time guard works against it
QUEUE_ARN = "arn:aws:sqs:local:000000000000:logpipe-ingest"


def build_sqs_event(messages: Sequence[ReceivedMessage]) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers, for these messages, but for ``md5OfBody``: SQS's
    check of a body in transit, which nothing here reads (the handler neither, on AWS): hashing every ~1 MB
    body would be pure overhead on the worker's hot path."""
    return {
        "Records": [
            {
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": str(m.receive_count),
                    "SentTimestamp": str(m.sent_ms),
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": str(m.first_receive_ms),
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": "local",
            }
            for m in messages
        ]
    }


class LocalContext:
    """The part of Lambda's context object the worker uses: time left in this "invocation"."""

    def __init__(self, budget_s: float) -> None:
        self._deadline = time.monotonic() + budget_s
        self.function_name = "logpipe-worker-local"
        self.aws_request_id = os.urandom(8).hex()

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class WorkerLoop:
    """Receive → handler → delete / back off, one batch at a time.

    While the handler works, a heartbeat keeps the batch's leases alive (ChangeMessageVisibility every third
    of the visibility timeout, as long-running SQS consumers do), so slow work — the simulated work of
    ``LOGPIPE_SIMULATED_WORK_PER_CHAR`` — is not delivered twice, while a worker that dies stops renewing
    and its messages come back after one visibility timeout. ``function_timeout_s`` plays Lambda's
    timeout: the handler does the work that fits within it and re-queues the rest (to ``deps.requeue``,
    this queue when built by :func:`main`), as on AWS.
    """

    def __init__(
        self,
        queue: SqliteQueue,
        deps: WorkerDeps,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S,
        function_timeout_s: float = DEFAULT_FUNCTION_TIMEOUT_S,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
    ) -> None:
        self.queue = queue
        # Keep the handler's safety margin a small part of the budget, however short the budget is.
        margin = min(deps.time_margin_ms, int(function_timeout_s * 1000) // 4)
        self.deps = replace(deps, time_margin_ms=margin)
        self.batch_size = batch_size
        self.visibility_timeout_s = visibility_timeout_s
        self.function_timeout_s = function_timeout_s
        self.poll_interval_s = poll_interval_s

    def run_once(self) -> int:
        """Lease one batch and process it; the number of messages received."""
        messages = self.queue.receive(self.batch_size, self.visibility_timeout_s)
        if not messages:
            return 0
        for m in messages:
            if m.receive_count > 1:
                # A redelivery: an earlier attempt failed, or its worker died or stalled past the lease.
                log.warning("message %s delivered again (receive %d)", m.message_id, m.receive_count)
        done = threading.Event()
        heartbeat = threading.Thread(target=self._keep_leases, args=(messages, done), daemon=True)
        heartbeat.start()
        try:
            context = LocalContext(self.function_timeout_s)
            failures = worker_handler.process(build_sqs_event(messages), self.deps, context)
        finally:
            done.set()
            heartbeat.join()
        stored = [m for m in messages if m.message_id not in failures]
        deleted = self.queue.delete_batch([m.receipt_handle for m in stored])  # one transaction for all
        for m in stored:
            if m.receipt_handle not in deleted:
                # Our lease expired (we stalled) and another worker holds the message now: it will
                # acknowledge it; what we stored meanwhile is an upsert of the same records.
                log.warning("lease of message %s was lost before it was acknowledged", m.message_id)
        for m in messages:
            error = failures.get(m.message_id)
            if error is not None:
                # Exponential backoff (1, 2, 4 … s), capped by the visibility timeout as on SQS.
                delay = min(self.visibility_timeout_s, MAX_RETRY_DELAY_S, 2.0 ** (m.receive_count - 1))
                self.queue.change_visibility(m.receipt_handle, delay, error=error)
        return len(messages)

    def _keep_leases(self, messages: Sequence[ReceivedMessage], done: threading.Event) -> None:
        interval = max(0.05, self.visibility_timeout_s / 3)
        deadline = time.monotonic() + self.function_timeout_s
        while not done.wait(interval) and time.monotonic() < deadline:
            for m in messages:
                try:
                    self.queue.change_visibility(m.receipt_handle, self.visibility_timeout_s)
                except Exception:  # a busy database: the next beat tries again, the lease is still running
                    log.warning("could not extend the lease of %s", m.message_id, exc_info=True)

    def run(self, stop: threading.Event, *, parent_pid: int | None = None) -> None:
        idle_wait = MIN_POLL_INTERVAL_S
        while not stop.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                log.warning("parent %d is gone; stopping", parent_pid)
                return
            try:
                got = self.run_once()
            except Exception:  # a locked or broken database: keep the process, try again shortly
                log.exception("worker loop iteration failed")
                got = 0
                stop.wait(1.0)
            if got:
                idle_wait = MIN_POLL_INTERVAL_S
            else:
                # Soon after work, look again soon (SQS's long poll returns as a message arrives); the
                # longer the queue stays empty, the less often, up to poll_interval_s.
                stop.wait(min(idle_wait, self.poll_interval_s))
                idle_wait = min(idle_wait * 2, self.poll_interval_s)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="logpipe-worker", description=__doc__)
    p.add_argument("--data-dir", required=True)
    p.add_argument("--visibility-timeout", type=float, default=DEFAULT_VISIBILITY_TIMEOUT_S)
    p.add_argument("--max-receives", type=int, default=DEFAULT_MAX_RECEIVES)
    p.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    p.add_argument("--function-timeout", type=float, default=DEFAULT_FUNCTION_TIMEOUT_S)
    p.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL_S)
    p.add_argument("--parent-pid", type=int, default=None)
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format=f"worker[{os.getpid()}] %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    data_dir = DataDir.resolve(args.data_dir)
    queue, store = worker_ports(data_dir, max_receives=args.max_receives)
    deps = worker_wiring.deps_for_store(store, requeue=queue)
    loop = WorkerLoop(
        queue,
        deps,
        batch_size=args.batch_size,
        visibility_timeout_s=args.visibility_timeout,
        function_timeout_s=args.function_timeout,
        poll_interval_s=args.poll_interval,
    )
    tune_gc()
    malloc_tuning.keep_freed_buffers()
    try:
        loop.run(stop, parent_pid=args.parent_pid)
    finally:
        queue.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
