"""``LogpipeHandler``: a ``logging.Handler`` that ships records in the background, sentry-python style.

``emit`` only turns the record into JSON and puts it on a bounded queue (``put_nowait``): it never blocks
and never raises into the application. When the queue is full the record is dropped and counted. One
named daemon thread, started on the first record (and again in a forked child), drains the queue into
batches (closed on count, bytes or age) and hands them to the SDK's delivery engine (``_delivery``), in
this thread: the same retries, refusal policy and counters as ``Client.send_lines``, except that an error
no retry fixes loses that batch and sending goes on. A record the server refuses is counted rejected, a
batch given up after its retries as lost; the loss is written once a minute at most to stderr (never
through ``logging``, which would loop back here), and sent to the server as a ``logpipe.handler`` warning
record as soon as it answers again. ``flush(timeout)`` waits for what was
queued before it; ``close()`` flushes and stops (idempotent); one ``atexit`` hook flushes every live
handler, so a program that logs and exits at once loses nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import logging
import os
import queue
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any

from ._batcher import Batch, Batcher, BatchLimits
from ._client import Client
from ._delivery import Delivery, Shipper, in_sending_thread, mark_sending_thread
from ._retry import RetryPolicy

__all__ = ["HandlerStats", "LogpipeHandler"]

DEFAULT_QUEUE_SIZE = 10_000
DEFAULT_FLUSH_TIMEOUT = 5.0  # seconds the exit hook waits; an app must not hang at exit on a dead server
LOSS_REPORT_INTERVAL = 60.0
# A background shipper should give up on one batch sooner than a CLI upload: the queue keeps filling.
HANDLER_RETRY = RetryPolicy(
    max_attempts=4, base_delay=0.2, max_delay=2.0, max_retry_after=5.0, max_throttle_seconds=10.0
)
HANDLER_BATCH = BatchLimits(max_records=1000, max_bytes=1024 * 1024, max_age=0.5)

# LogRecord attributes that are not "extra" fields.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime", "taskName"}
)
_LEVELS = {"WARNING": "warn", "CRITICAL": "fatal", "FATAL": "fatal", "WARN": "warn"}

_live: weakref.WeakSet[LogpipeHandler] = weakref.WeakSet()


@dataclass(frozen=True)
class HandlerStats:
    queued: int  # records waiting in the queue
    sent: int  # records the server accepted
    dropped: int  # records dropped because the queue was full (or the handler closed)
    lost: int  # records dropped because sending failed after retries
    rejected: int  # records the server refused as invalid


class _QuietWorker(logging.Filter):
    """Drop the log records httpx makes while *our* threads send ("HTTP Request: POST ... 202"): with the
    root logger at INFO every batch would print one to the application's console. Other threads'
    httpx records pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not in_sending_thread()


_QUIET = _QuietWorker()
for _name in ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.proxy"):
    logging.getLogger(_name).addFilter(_QUIET)


def _at_exit() -> None:
    for handler in list(_live):
        with contextlib.suppress(Exception):
            handler.close()


atexit.register(_at_exit)


class _Flush:
    """A marker on the queue: everything before it has been sent when ``done`` is set."""

    def __init__(self) -> None:
        self.done = threading.Event()


class LogpipeHandler(logging.Handler):
    def __init__(
        self,
        client: Client | None = None,
        *,
        level: int | str = logging.NOTSET,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        batch_limits: BatchLimits = HANDLER_BATCH,
        retry: RetryPolicy = HANDLER_RETRY,
        flush_timeout: float = DEFAULT_FLUSH_TIMEOUT,
        report_loss: bool = True,
        **client_kwargs: Any,
    ) -> None:
        super().__init__(level)
        self._owns_client = client is None
        self.client = client if client is not None else Client(**client_kwargs)
        self.queue_size = queue_size
        self.batch_limits = batch_limits
        self.retry = retry
        self.flush_timeout = flush_timeout
        self.report_loss = report_loss
        self._closed = False
        self._dropped = 0  # queue full, or emitted after close
        self._lost_at_close = 0  # still queued when close gave up waiting
        self._reported = 0  # losses (dropped, lost, rejected) told to the server
        self._last_stderr = 0.0
        self._last_error = ""
        self._delivery = Delivery(
            retry, halt_on_fatal=False, on_accepted=self._on_accepted, on_lost=self._on_lost
        )
        # Delivered in the handler's own thread: its queue stays the only buffer before a slow server.
        self._shipper = Shipper(self._delivery, self.client._post, background=False)
        self._reset()
        _live.add(self)
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def after_fork() -> None:
                handler = ref()
                if handler is not None:
                    handler._reset()
                    handler._shipper.after_fork()

            os.register_at_fork(after_in_child=after_fork)

    def _reset(self) -> None:
        # In a forked child the parent's thread does not exist and its queue is the parent's business:
        # start empty; the thread is started again on the next record. Locks another thread may have
        # held at fork time are replaced.
        self._state_lock = threading.Lock()
        self._queue: queue.Queue[bytes | _Flush | None] = queue.Queue(maxsize=self.queue_size)
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._start_lock = threading.Lock()

    # -- application side --------------------------------------------------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        if in_sending_thread():
            return  # a log call made while sending (httpx, our own code): shipping it would loop
        try:
            if self._closed:
                self._count_drop()
                return
            try:
                data = self._encode(record)
            except Exception:
                # A broken log call ("%d" % "x"): report it the way every logging handler does (a
                # "--- Logging error ---" on stderr, never an exception) and count it.
                self._count_drop()
                self.handleError(record)
                return
            self._ensure_thread()
            try:
                self._queue.put_nowait(data)
            except queue.Full:
                self._count_drop()
        except Exception:  # never raise into the application
            self._count_drop()

    def _encode(self, record: logging.LogRecord) -> bytes:
        # With no formatter the message is the message; with one, the user asked for its layout.
        message = self.format(record) if self.formatter is not None else record.getMessage()
        created = dt.datetime.fromtimestamp(record.created, dt.UTC)
        doc: dict[str, Any] = {
            "timestamp": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": _LEVELS.get(record.levelname, record.levelname.lower()),
            "message": message,
            "logger": record.name,
            "module": record.module,
            "function": record.funcName,
            "line": record.lineno,
            "thread": record.threadName,
            "process": record.process,
        }
        if record.exc_info and self.formatter is None:
            doc["exception"] = logging.Formatter().formatException(record.exc_info)
        if record.stack_info:
            doc["stack"] = record.stack_info
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in doc:
                doc[key] = value
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"), default=repr).encode("utf-8")

    def _count_drop(self) -> None:
        with self._state_lock:
            self._dropped += 1

    def _ensure_thread(self) -> None:
        if self._pid != os.getpid():
            self._reset()
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="logpipe.LogpipeHandler", daemon=True)
                self._thread.start()

    def flush(self, timeout: float | None = None) -> bool:  # type: ignore[override]
        """Wait until every record emitted before this call is sent (or given up); True if in time.

        ``timeout=None`` means ``flush_timeout``: ``logging.shutdown()`` calls ``flush()`` with no
        argument, and an application must not hang at exit because the endpoint is down.
        """
        if timeout is None:
            timeout = self.flush_timeout
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            return self._queue.empty()
        if threading.current_thread() is self._thread:
            return False
        marker = _Flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._queue.put(marker, timeout=0.05)
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    return False
        return marker.done.wait(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        """Flush (up to ``flush_timeout``), stop the thread, report any loss; safe to call twice."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
        try:
            in_time = self.flush(self.flush_timeout)
            if not in_time:
                self._delivery.halt.set()  # cut retries short: what is left is counted lost
            if self._thread is not None and self._thread.is_alive():
                with contextlib.suppress(queue.Full):
                    self._queue.put_nowait(None)
                self._thread.join(timeout=0.5 if in_time else 0.0)
            pending = self._queue.qsize()
            if pending:
                with self._state_lock:
                    self._lost_at_close += pending
            self._report_to_stderr(final=True)
            if self._owns_client:
                self.client.close()
        finally:
            _live.discard(self)
            super().close()

    @property
    def stats(self) -> HandlerStats:
        counts = self._delivery.stats
        with self._state_lock:
            return HandlerStats(
                queued=self._queue.qsize(),
                sent=counts.accepted,
                dropped=self._dropped,
                lost=counts.failed + self._lost_at_close,
                rejected=counts.rejected,
            )

    # -- worker side -------------------------------------------------------------------------------

    def _run(self) -> None:
        mark_sending_thread()
        batcher = Batcher(self.batch_limits)
        submit = self._shipper.submit
        while True:
            wait = batcher.next_due_in()
            try:
                item = self._queue.get(timeout=0.2 if wait is None else max(0.001, wait))
            except queue.Empty:
                for batch in batcher.due():
                    submit(batch)
                continue
            if item is None:
                for batch in batcher.flush():
                    submit(batch)
                return
            if isinstance(item, _Flush):
                for batch in batcher.flush():
                    submit(batch)
                item.done.set()
                continue
            for batch in batcher.add("json", item):
                submit(batch)
            for batch in batcher.due():
                submit(batch)

    def _unreported(self) -> int:
        stats = self.stats
        return stats.dropped + stats.lost + stats.rejected - self._reported

    def _on_lost(self, count: int, reason: str) -> None:
        """The engine gave up on ``count`` records (rejected or lost): say so, at most once a minute."""
        with self._state_lock:
            self._last_error = reason
        self._report_to_stderr()

    def _on_accepted(self, count: int) -> None:
        """The server answers again: tell it what was lost since it last did, as a warning record (sent
        alone, outside the handler's counters)."""
        unreported = self._unreported()
        if not unreported or not self.report_loss:
            return
        doc = {
            "level": "warn",
            "message": (
                f"logpipe handler dropped {unreported} log records (queue full or endpoint unreachable)"
            ),
            "logger": "logpipe.handler",
            "logpipe_dropped": unreported,
            "process": os.getpid(),
        }
        data = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        self._reported += unreported  # before sending: the engine calls back here when it is accepted
        if not self._shipper.send_now(Batch.of("json", [data])):
            self._reported -= unreported

    def _report_to_stderr(self, *, final: bool = False) -> None:
        with self._state_lock:
            stats = self._delivery.stats
            lost_now = stats.failed + self._lost_at_close
            lost = lost_now + self._dropped + stats.rejected
            now = time.monotonic()
            if not lost or (not final and now - self._last_stderr < LOSS_REPORT_INTERVAL):
                return
            self._last_stderr = now
            text = (
                f"logpipe: {lost} log records not delivered "
                f"(lost {lost_now}, dropped {self._dropped}, rejected {stats.rejected})"
            )
            if self._last_error:
                text += f"; last error: {self._last_error}"
        with contextlib.suppress(Exception):
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
