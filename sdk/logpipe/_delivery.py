"""The SDK's one delivery engine, behind ``Client.send_lines``, ``AsyncClient`` and ``LogpipeHandler``.

Modelled on sentry-python's ``Batcher`` (records grouped into bodies) and ``BackgroundWorker`` (bounded
hand-over to daemon threads, started lazily and again after fork), with the decisions written once::

    lines ─ Intake (multiline joiner → classify_lines → Batcher) ─┐      records ─ Batcher ─┐
                                                                  ▼                          ▼
        Shipper: submit() blocks while max_in_flight batches are sending and as many wait (sync threads);
                 AsyncClient runs the same deliveries as tasks under a semaphore of max_in_flight
                                                                  │
        Delivery.deliver(batch): a generator that does no I/O ("sans-IO", as httpx's core): it yields
        Post(batch) and Sleep(seconds), and the front-end answers with the response or the error, sync or
        async. It owns the policies:
          retry    429, 5xx, transport errors: backoff with full jitter, Retry-After as a floor, 429s on a
                   time budget (_retry.Attempts); every attempt under the batch's Idempotency-Key, so a
                   request that reached the server before its answer was lost is not stored twice
          refusal  400, 413, 422 or 403 tenant_mismatch: the server refused the body because of some of its
                   records (a request is all-or-nothing, contract.md §3). The batch is split in halves under
                   new keys until each refused record stands alone: that record is counted ``rejected``
                   and every other one is delivered; a few requests more (two per halving) than one per
                   record, and no record is lost with a bad neighbour
          fatal    anything else (401, 404, 415, retries used up): the batch and what is left of its halves
                   are counted ``failed``; ``halt_on_fatal`` (send_lines) then stops all sending, and
                   without it (the handler) the next batch is tried, since a background shipper never
                   stops the application's logging
          stats    one ``SendStats`` for every front-end: requests, retries, accepted, rejected, failed
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TypeVar

from ._batcher import Batch, Batcher, BatchLimits, classify_lines
from ._exceptions import (
    APIError,
    BadRequestError,
    IdempotencyKeyReusedError,
    LogpipeError,
    PayloadTooLargeError,
    PermissionDeniedError,
    TransportError,
)
from ._multiline import LineJoiner, joiner_for
from ._retry import Attempts, RetryPolicy

__all__ = ["Delivery", "Intake", "Post", "SendResult", "SendStats", "Shipper", "Sleep", "attempts", "run"]

# How often a thread blocked on the engine looks up (halt, progress ticks).
TURN_S = 0.1

RetryHook = Callable[[LogpipeError, int, float], None]
T = TypeVar("T")


@dataclass
class SendResult:
    """What happened to the records given to ``send``/``send_lines``.

    ``rejected``: refused by the server (or by the client's own checks) as invalid, never to be accepted.
    ``failed``: not accepted because of a transport or server failure that outlasted the retries, or
    because sending stopped (``fatal`` or an interruption).
    """

    accepted: int = 0
    rejected: int = 0
    failed: int = 0
    log_ids: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the first few reasons, for a person
    fatal: LogpipeError | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not (self.rejected or self.failed or self.fatal or self.interrupted)


class SendStats:
    """Counters updated while records are delivered (read them from another thread for a progress bar)."""

    MAX_ERRORS = 20

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lines_read = 0  # updated by whoever reads the input
        self.bytes_read = 0
        self.blank = 0  # blank lines: no record, as on the server
        self.joined = 0  # lines joined to the line before them into one record (send_lines' multiline)
        self.accepted = 0
        self.rejected = 0
        self.failed = 0
        self.requests = 0
        self.retries = 0
        self.errors: list[str] = []

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def error(self, message: str) -> None:
        with self._lock:
            if len(self.errors) < self.MAX_ERRORS:
                self.errors.append(message)

    def result(self, *, fatal: LogpipeError | None = None, interrupted: bool = False) -> SendResult:
        with self._lock:
            return SendResult(
                accepted=self.accepted,
                rejected=self.rejected,
                failed=self.failed,
                errors=list(self.errors),
                fatal=fatal,
                interrupted=interrupted,
            )


def is_refusal(err: LogpipeError) -> bool:
    """The server refused the body because of some of its records: split the batch to find them."""
    if isinstance(err, BadRequestError | PayloadTooLargeError | IdempotencyKeyReusedError):
        return err.status in (400, 413, 422)
    return isinstance(err, PermissionDeniedError) and err.code == "tenant_mismatch"


# -- the sans-IO core ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Post:
    """Send ``batch`` once; answer with its log ids, or the error (its ``__cause__`` set)."""

    batch: Batch


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait ``seconds``; answer True if the wait was cut short (sending halted)."""

    seconds: float


Step = Post | Sleep
Reply = list[str] | LogpipeError | bool
Steps = Generator[Step, Reply, T]


def attempts(
    batch: Batch,
    policy: RetryPolicy,
    on_retry: RetryHook | None = None,
    halted: Callable[[], bool] | None = None,
) -> Steps[list[str]]:
    """One batch posted until accepted, every attempt under its Idempotency-Key: the log ids, or the last
    error raised (at once when it is one no retry fixes, or ``halted()``)."""
    tries = Attempts(policy)
    while True:
        reply = yield Post(batch)
        if isinstance(reply, list):
            return reply
        assert isinstance(reply, LogpipeError)
        retryable = isinstance(reply, APIError | TransportError)  # not ClientClosedError
        delay = None if not retryable or (halted is not None and halted()) else tries.next_delay(reply)
        if delay is None:
            raise reply
        if on_retry is not None:
            on_retry(reply, tries.count, delay)
        if (yield Sleep(delay)):
            raise reply


PostFn = Callable[[Batch], list[str] | LogpipeError]


def run(steps: Steps[T], post: PostFn, wait: Callable[[float], bool]) -> T:
    """Drive ``steps`` with blocking I/O (the async drive is ``AsyncClient._run``)."""
    try:
        step = next(steps)
        while True:
            step = steps.send(post(step.batch) if isinstance(step, Post) else wait(step.seconds))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


class Delivery:
    """The fate of batches (see the module's docstring): retried, split when refused, counted in ``stats``.

    ``on_accepted(n)`` and ``on_lost(n, reason)`` (rejected or failed) are called where it happens, in the
    sending thread or task: the handler reports its losses through them.
    """

    def __init__(
        self,
        retry: RetryPolicy,
        stats: SendStats | None = None,
        *,
        halt_on_fatal: bool,
        halt: threading.Event | None = None,
        on_retry: RetryHook | None = None,
        on_accepted: Callable[[int], None] | None = None,
        on_lost: Callable[[int, str], None] | None = None,
    ) -> None:
        self.retry = retry
        self.stats = stats if stats is not None else SendStats()
        self.halt_on_fatal = halt_on_fatal
        self.halt = halt if halt is not None else threading.Event()  # set: no more requests
        self.fatal: list[LogpipeError] = []  # the error that halted sending first
        self._on_retry = on_retry
        self._on_accepted = on_accepted
        self._on_lost = on_lost

    def after_fork(self) -> None:
        # Another thread may have held these locks at fork time: the child gets fresh ones.
        self.halt = threading.Event()
        self.stats._lock = threading.Lock()

    def deliver(self, batch: Batch) -> Steps[None]:
        stats = self.stats
        stack = [batch]
        while stack:
            current = stack.pop()
            if self.halt.is_set():
                self._lose(current.count, None)
                continue
            stats.add(requests=1)
            try:
                ids = yield from attempts(current, self.retry, self._count_retry, self.halt.is_set)
            except LogpipeError as exc:
                if isinstance(exc, APIError) and is_refusal(exc):
                    stack += self._split(current, exc)
                    continue
                self._fail(current.count + sum(b.count for b in stack), exc)
                return
            stats.add(accepted=len(ids))
            if self._on_accepted is not None:
                self._on_accepted(len(ids))

    def broken(self, batch: Batch, exc: Exception) -> None:
        """A bug while delivering ``batch``: counted and reported like a fatal error, never swallowed."""
        self._fail(batch.count, LogpipeError(f"{type(exc).__name__}: {exc}"))

    def _split(self, batch: Batch, exc: APIError) -> list[Batch]:
        """The halves of a refused batch to resend (the first half last: a stack pops it first), or none
        when it was a single record, now counted rejected."""
        if batch.count == 1:
            self.stats.add(rejected=1)
            self.stats.error(f"rejected: {exc}")
            if self._on_lost is not None:
                self._on_lost(1, str(exc))
            return []
        items = batch.items()
        half = len(items) // 2
        return [Batch.of(batch.kind, items[half:]), Batch.of(batch.kind, items[:half])]

    def _fail(self, count: int, exc: LogpipeError) -> None:
        self.stats.add(failed=count)
        self.stats.error(str(exc))
        if self._on_lost is not None:
            self._on_lost(count, str(exc))
        if self.halt_on_fatal:
            self.fatal.append(exc)
            self.halt.set()

    def _lose(self, count: int, reason: str | None) -> None:
        self.stats.add(failed=count)
        if self._on_lost is not None:
            self._on_lost(count, reason or "sending stopped")

    def _count_retry(self, error: LogpipeError, attempt: int, delay: float) -> None:
        self.stats.add(retries=1)
        if self._on_retry is not None:
            self._on_retry(error, attempt, delay)


# -- the sync front half: batching and threads ------------------------------------------------------


class Intake:
    """``send_lines``' lines made into batches: records of several lines joined (``multiline``), each line
    classified (``classify_lines``), the records batched; blank and refused lines counted in ``stats``.
    Not thread-safe: the sync front-end holds a lock around it."""

    def __init__(
        self, fmt: str, multiline: str, tenant: str | None, limits: BatchLimits, stats: SendStats
    ) -> None:
        if fmt not in ("auto", "json", "text"):
            raise ValueError("format must be auto, json or text")
        self.fmt = fmt
        self.tenant = tenant
        self.stats = stats
        self.batcher = Batcher(limits)
        self.joiner: LineJoiner | None = None if fmt == "json" else joiner_for(multiline)

    def take(self, lines: list[str], final: bool = False) -> tuple[list[Batch], Exception | None]:
        """``lines`` (the rest of a held record too when ``final``) into the batcher: the batches this
        closed, and the error of a line that could not be classified (the lines after it are not)."""
        if self.joiner is not None:
            lines, joined = self.joiner.take(lines, final)
            if joined:
                self.stats.add(joined=joined)
        if not lines:
            return [], None
        classified = classify_lines(lines, self.fmt, self.tenant)
        if classified.blank:
            self.stats.add(blank=classified.blank)
        for reason in classified.refused:
            self.stats.add(rejected=1)
            self.stats.error(f"rejected: {reason}")
        batcher = self.batcher
        closed = batcher.add_many("json", classified.json) + batcher.add_many("text", classified.text)
        return closed, classified.error


_sending = threading.local()


def in_sending_thread() -> bool:
    """Whether this thread is sending for the SDK (the handler ignores its log records: they would loop)."""
    return getattr(_sending, "active", False)


def mark_sending_thread() -> None:
    _sending.active = True


class Shipper:
    """Hands batches to ``delivery``, sentry's ``BackgroundWorker`` style.

    ``background``: ``max_in_flight`` named daemon threads, started on the first batch (and again in a
    forked child: ``after_fork``, or seen by pid), deliver what ``submit`` hands over; ``submit`` blocks
    while they all send and as many batches wait (bounded memory; one batch of work ahead of each).
    Without it, ``submit`` delivers in the calling thread: the handler's one thread, whose bounded queue
    must stay the only buffer before a slow server (overflow counted there, never blocking ``emit``).
    """

    def __init__(
        self,
        delivery: Delivery,
        post: PostFn,
        *,
        max_in_flight: int = 1,
        background: bool = True,
        name: str = "logpipe.send",
    ) -> None:
        self.delivery = delivery
        self._post = post
        self._senders = max(1, max_in_flight) if background else 0
        self._name = name
        self._closed = False
        self._reset()

    def after_fork(self) -> None:
        """In a forked child: the parent's threads do not exist and its batches are the parent's business."""
        self.delivery.after_fork()
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # submitted, not yet delivered
        self._queue: queue.SimpleQueue[Batch | None] = queue.SimpleQueue()
        self._slots = threading.Semaphore(2 * self._senders or 1)
        self._threads: list[threading.Thread] = []

    def submit(self, batch: Batch, tick: Callable[[], None] | None = None) -> bool:
        """Deliver ``batch`` (in the background, or now); False, with it counted failed, once halted."""
        if self._senders == 0:
            self.send_now(batch, self.delivery)
            return not self.delivery.halt.is_set()
        self._start()
        halt = self.delivery.halt
        while not halt.is_set():
            if self._slots.acquire(timeout=TURN_S):
                with self._lock:
                    self._pending += 1
                self._queue.put(batch)  # halted since: the sender counts it failed
                return True
            if tick is not None:
                tick()
        self.delivery.stats.add(failed=batch.count)
        return False

    def send_now(self, batch: Batch, delivery: Delivery | None = None) -> bool:
        """Deliver ``batch`` in this thread, counted in ``delivery`` (a fresh one when None: a batch of the
        handler's own, kept out of its stats); True if it was all accepted."""
        delivery = delivery or Delivery(self.delivery.retry, halt_on_fatal=False, halt=self.delivery.halt)
        accepted = delivery.stats.accepted
        try:
            run(delivery.deliver(batch), self._post, delivery.halt.wait)
        except Exception as exc:  # a bug must not kill the thread: count it and go on
            delivery.broken(batch, exc)
        return delivery.stats.accepted - accepted == batch.count

    def join(self, timeout: float | None = None, tick: Callable[[], None] | None = None) -> bool:
        """Wait until every batch submitted is delivered (or given up); True if in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._idle:
                if not self._pending:
                    return True
                left = TURN_S if deadline is None else min(TURN_S, deadline - time.monotonic())
                if left <= 0:
                    return False
                self._idle.wait(left)
            if tick is not None:
                tick()

    def close(self) -> None:
        """Stop the threads once they are idle (idempotent; they are daemons: exit never waits for them)."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)

    def _start(self) -> None:
        if self._pid != os.getpid():
            self.after_fork()
        if len(self._threads) == self._senders:
            return
        with self._lock:
            while len(self._threads) < self._senders:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}.{len(self._threads)}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        mark_sending_thread()
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            try:
                self.send_now(batch, self.delivery)
            finally:
                self._slots.release()
                with self._idle:
                    self._pending -= 1
                    if not self._pending:
                        self._idle.notify_all()
