"""``LogpipeHandler``: a ``logging.Handler`` that ships records in the background, sentry-python style.

``emit`` only turns the record into JSON and puts it on a bounded queue (``put_nowait``): it never blocks
and never raises into the application. When the queue is full the record is dropped and counted. One
named daemon thread, started on the first record (and again in a forked child), drains the queue into
batches (closed on count, bytes or age) and sends them with the client's retries. When the endpoint stays
unreachable a batch is dropped after its retries and counted as lost; the loss is written once a minute at
most to stderr (never through ``logging``, which would loop back here), and sent to the server as a
``logpipe.handler`` warning record as soon as it answers again. ``flush(timeout)`` waits for what was
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
from ._exceptions import LogpipeError
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
_in_worker = threading.local()


@dataclass(frozen=True)
class HandlerStats:
    queued: int  # records waiting in the queue
    sent: int  # records the server accepted
    dropped: int  # records dropped because the queue was full (or the handler closed)
    lost: int  # records dropped because sending failed after retries
    rejected: int  # records the server refused as invalid


class _QuietWorker(logging.Filter):
    """Drop the log records httpx makes while *our* thread sends ("HTTP Request: POST ... 202"): with the
    root logger at INFO every batch would print one to the application's console. Other threads'
    httpx records pass untouched."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(_in_worker, "active", False)


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
        self._sent = self._dropped = self._lost = self._rejected = 0
        self._unreported = 0  # dropped/lost not yet told to the server
        self._last_stderr = 0.0
        self._last_error = ""
        self._reset()
        _live.add(self)
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def after_fork() -> None:
                handler = ref()
                if handler is not None:
                    handler._reset()

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
        if getattr(_in_worker, "active", False):
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
            self._unreported += 1

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
            if self._thread is not None and self._thread.is_alive():
                with contextlib.suppress(queue.Full):
                    self._queue.put_nowait(None)
                self._thread.join(timeout=0.5 if in_time else 0.0)
            pending = self._queue.qsize()
            if pending:
                with self._state_lock:
                    self._lost += pending
            self._report_to_stderr(final=True)
            if self._owns_client:
                self.client.close()
        finally:
            _live.discard(self)
            super().close()

    @property
    def stats(self) -> HandlerStats:
        with self._state_lock:
            return HandlerStats(
                queued=self._queue.qsize(),
                sent=self._sent,
                dropped=self._dropped,
                lost=self._lost,
                rejected=self._rejected,
            )

    # -- worker side -------------------------------------------------------------------------------

    def _run(self) -> None:
        _in_worker.active = True
        batcher = Batcher(self.batch_limits)
        while True:
            wait = batcher.next_due_in()
            try:
                item = self._queue.get(timeout=0.2 if wait is None else max(0.001, wait))
            except queue.Empty:
                for batch in batcher.due():
                    self._ship(batch)
                continue
            if item is None:
                for batch in batcher.flush():
                    self._ship(batch)
                return
            if isinstance(item, _Flush):
                for batch in batcher.flush():
                    self._ship(batch)
                item.done.set()
                continue
            for batch in batcher.add("json", item):
                self._ship(batch)
            for batch in batcher.due():
                self._ship(batch)

    def _ship(self, batch: Batch) -> None:
        try:
            self.client.send_batch(batch, retry=self.retry)
        except LogpipeError as exc:
            if batch.count > 1 and getattr(exc, "status", None) in (400, 413):
                # Some record the server refuses (too big, too deep): send the rest one by one.
                for item in batch.items():
                    self._ship(Batch.of("json", [item]))
                return
            with self._state_lock:
                if getattr(exc, "status", None) in (400, 413):
                    self._rejected += batch.count
                else:
                    self._lost += batch.count
                self._unreported += batch.count
                self._last_error = str(exc)
            self._report_to_stderr()
            return
        except Exception as exc:  # a bug must not kill the thread: count and go on
            with self._state_lock:
                self._lost += batch.count
                self._unreported += batch.count
                self._last_error = f"{type(exc).__name__}: {exc}"
            return
        with self._state_lock:
            self._sent += batch.count
            unreported, self._unreported = self._unreported, 0
        if unreported and self.report_loss:
            self._send_loss_record(unreported)

    def _send_loss_record(self, count: int) -> None:
        doc = {
            "level": "warn",
            "message": f"logpipe handler dropped {count} log records (queue full or endpoint unreachable)",
            "logger": "logpipe.handler",
            "logpipe_dropped": count,
            "process": os.getpid(),
        }
        data = json.dumps(doc, separators=(",", ":")).encode("utf-8")
        try:
            self.client.send_batch(Batch.of("json", [data]), retry=self.retry)
        except Exception:
            with self._state_lock:
                self._unreported += count

    def _report_to_stderr(self, *, final: bool = False) -> None:
        with self._state_lock:
            lost = self._lost + self._dropped + self._rejected
            now = time.monotonic()
            if not lost or (not final and now - self._last_stderr < LOSS_REPORT_INTERVAL):
                return
            self._last_stderr = now
            text = (
                f"logpipe: {lost} log records not delivered "
                f"(lost {self._lost}, dropped {self._dropped}, rejected {self._rejected})"
            )
            if self._last_error:
                text += f"; last error: {self._last_error}"
        with contextlib.suppress(Exception):
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
