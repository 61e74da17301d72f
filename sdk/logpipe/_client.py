"""``Client``: send records to ``POST /ingest`` (contract.md §3), one at a time or as a stream of lines."""

from __future__ import annotations

import concurrent.futures
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from . import _gzip
from ._batcher import Batch, Batcher, BatchLimits, classify_lines, encode_record
from ._config import load_settings
from ._exceptions import (
    APIError,
    BadRequestError,
    ClientClosedError,
    ConfigError,
    IdempotencyKeyReusedError,
    LogpipeError,
    PayloadTooLargeError,
    PermissionDeniedError,
    api_error_from_response,
    transport_error,
)
from ._multiline import joiner_for
from ._retry import Attempts, RetryPolicy

__all__ = ["Client", "SendResult", "SendStats"]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
DEFAULT_MAX_IN_FLIGHT = 4
# After ``stop``, how long send_lines waits for its reader to hand over what it read before taking the lines
# itself: the reader stops at its next chunk, at once for a file; only input that blocks (an idle stdin)
# makes it wait this long.
STOP_GRACE_S = 0.5
# gzip level 1: logs still shrink 5-10x, at a fraction of the CPU of level 6 (sending is often CPU-bound
# on the client before the network is).
DEFAULT_COMPRESSLEVEL = 1
USER_AGENT = "logpipe-python/0.1.0"
# send_lines' reader batches its input in chunks of about this many characters, a line counting its length
# plus CHUNK_LINE_CHARS (~128 of the benchmark's lines, at most 256 blank ones; bounded memory either way).
CHUNK_CHARS = 64 * 1024
CHUNK_LINE_CHARS = 256

Record = Mapping[str, Any] | str
RetryHook = Callable[[LogpipeError, int, float], None]


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
    """Counters updated while ``send_lines`` runs (read them from another thread for a progress bar)."""

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


def _is_record_level_refusal(err: APIError) -> bool:
    """Errors caused by some record(s) of the body: split the batch to find and drop them."""
    if isinstance(err, BadRequestError | PayloadTooLargeError | IdempotencyKeyReusedError):
        return err.status in (400, 413, 422)
    return isinstance(err, PermissionDeniedError) and err.code == "tenant_mismatch"


class _Base:
    """What ``Client`` and ``AsyncClient`` share: settings, request building, response parsing."""

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        tenant: str | None = None,
        *,
        profile: str | None = None,
        retry: RetryPolicy | None = None,
        batch_limits: BatchLimits | None = None,
        compress: bool = True,
        compresslevel: int = DEFAULT_COMPRESSLEVEL,
        timeout: float | httpx.Timeout | None = None,
    ) -> None:
        settings = load_settings(endpoint=endpoint, api_key=api_key, tenant=tenant, profile=profile)
        if not settings.api_key:
            raise ConfigError(
                "no API key: pass api_key=, set LOGPIPE_API_KEY, or `logpipe config set api_key`"
            )
        self.endpoint = settings.endpoint
        self.api_key = settings.api_key
        self.tenant = settings.tenant
        self.retry = retry or RetryPolicy()
        self.batch_limits = batch_limits or BatchLimits()
        self.compress = compress
        self.compresslevel = compresslevel
        self.timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        self._closed = False

    @property
    def ingest_url(self) -> str:
        # An API Gateway `ingest_url` output already ends in /ingest; a bare endpoint gets it appended.
        return self.endpoint if self.endpoint.endswith("/ingest") else self.endpoint + "/ingest"

    def _request(self, batch: Batch) -> tuple[bytes, dict[str, str]]:
        headers = {
            "authorization": f"Bearer {self.api_key}",
            "content-type": batch.content_type,
            "idempotency-key": batch.idempotency_key,
            "user-agent": USER_AGENT,
        }
        if self.tenant:
            headers["x-tenant-id"] = self.tenant
        content = batch.body
        if self.compress:
            content = _gzip.compress(content, self.compresslevel)
            headers["content-encoding"] = "gzip"
        return content, headers

    @staticmethod
    def _parse(response: httpx.Response) -> list[str] | APIError:
        """The log ids of an accepted batch, or the error the server answered."""
        if 200 <= response.status_code < 300:
            try:
                data = response.json()
                ids = data["log_ids"]
                if not isinstance(ids, list):
                    raise TypeError("log_ids")
            except (ValueError, KeyError, TypeError) as exc:
                return APIError(
                    f"unexpected response from the server: {exc}",
                    status=response.status_code,
                    code="bad_response",
                )
            return [str(i) for i in ids]
        return api_error_from_response(
            response.status_code,
            response.content,
            response.headers,
            request_id=response.headers.get("x-request-id"),
        )

    def _batch_lines(
        self, lines: list[str], format: str, stats: SendStats, batcher: Batcher
    ) -> tuple[list[Batch], Exception | None]:
        """Input lines of ``send_lines`` classified and added to ``batcher`` in order: the batches this
        closed, and the error of a line that could not be classified (the lines after it are not).
        Blank and refused lines are counted."""
        classified = classify_lines(lines, format, self.tenant)
        if classified.blank:
            stats.blank += classified.blank
        for reason in classified.refused:
            stats.add(rejected=1)
            stats.error(f"rejected: {reason}")
        closed = batcher.add_many("json", classified.json) + batcher.add_many("text", classified.text)
        return closed, classified.error

    def _check_open(self) -> None:
        if self._closed:
            raise ClientClosedError("the client is closed")


def _batches(records: Record | Iterable[Record], limits: BatchLimits) -> list[Batch]:
    """``send``'s records, all encoded before any is sent: one bad record fails the call up front."""
    if isinstance(records, str | Mapping):
        records = [records]
    encoded = [encode_record(r) for r in records]
    batcher = Batcher(limits)
    batches: list[Batch] = []
    for kind, data in encoded:
        batches.extend(batcher.add(kind, data))
    batches.extend(batcher.flush())
    return batches


def _split_refused(batch: Batch, exc: APIError, stats: SendStats) -> list[Batch]:
    """A batch refused because of some of its records: its halves to resend (the first half last, so a
    stack pops it first), or none when it was a single record, now counted rejected."""
    if batch.count == 1:
        stats.add(rejected=1)
        stats.error(f"rejected: {exc}")
        return []
    items = batch.items()
    half = len(items) // 2
    return [Batch.of(batch.kind, items[half:]), Batch.of(batch.kind, items[:half])]


class Client(_Base):
    """Synchronous client. Thread-safe; reuse one per process (it pools connections)."""

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        tenant: str | None = None,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(endpoint, api_key, tenant, **kwargs)
        self._owns_http = http_client is None
        self._transport = transport
        self._http_client = http_client
        self._pid = os.getpid()
        self._lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def after_fork() -> None:
                client = ref()
                if client is not None:
                    # Another thread may have held the lock at fork time: the child gets a fresh one.
                    # The parent's pool is dropped, not closed (its sockets are the parent's).
                    client._lock = threading.Lock()
                    if client._owns_http:
                        client._http_client = None

            os.register_at_fork(after_in_child=after_fork)

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._owns_http and (self._http_client is None or self._pid != os.getpid()):
                # After fork the parent's pooled sockets must not be shared: start a fresh pool.
                self._pid = os.getpid()
                self._http_client = httpx.Client(
                    timeout=self.timeout,
                    transport=self._transport,
                    limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
                )
            assert self._http_client is not None
            return self._http_client

    # -- one batch -------------------------------------------------------------------------------

    def send_batch(
        self,
        batch: Batch,
        *,
        retry: RetryPolicy | None = None,
        stop: threading.Event | None = None,
        on_retry: RetryHook | None = None,
    ) -> list[str]:
        """POST one batch, retrying 429/5xx/transport errors under the batch's Idempotency-Key."""
        self._check_open()
        attempts = Attempts(retry or self.retry)
        content, headers = self._request(batch)
        url = self.ingest_url
        while True:
            try:
                response = self._http().post(url, content=content, headers=headers)
            except httpx.HTTPError as exc:
                error: LogpipeError = transport_error(exc, url)
                cause: BaseException | None = exc
            else:
                result = self._parse(response)
                if isinstance(result, list):
                    return result
                error, cause = result, None
            delay = None if stop is not None and stop.is_set() else attempts.next_delay(error)
            if delay is None:
                raise error from cause
            if on_retry is not None:
                on_retry(error, attempts.count, delay)
            if stop is not None:
                if stop.wait(delay):
                    raise error from cause
            else:
                time.sleep(delay)

    # -- records -----------------------------------------------------------------------------------

    def send(self, records: Record | Iterable[Record]) -> SendResult:
        """Send a dict, a str, or a list of them; raises on any error (nothing is silently dropped)."""
        self._check_open()
        result = SendResult()
        for batch in _batches(records, self.batch_limits):
            ids = self.send_batch(batch)
            result.accepted += len(ids)
            result.log_ids.extend(ids)
        return result

    def send_lines(
        self,
        lines: Iterable[str],
        *,
        format: str = "auto",
        multiline: str = "auto",
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        stop: threading.Event | None = None,
        stats: SendStats | None = None,
        on_tick: Callable[[SendStats], None] | None = None,
        on_retry: RetryHook | None = None,
    ) -> SendResult:
        """Stream lines in batches with up to ``max_in_flight`` requests at once, in bounded memory.

        Blank lines are skipped; ``multiline`` (``auto``, ``none``, a regex) joins the lines of a record
        (``_multiline``). A batch the server refuses because of some of its records (400, 413,
        403 ``tenant_mismatch``) is split in halves and resent (new keys) until the bad records are
        isolated; they are counted ``rejected`` and the rest is accepted. Sending stops at the first
        error that no retry can fix (401, 404, 415, or a failure that outlasts the retries): ``fatal``.

        Setting ``stop`` (``logpipe send``'s first Ctrl-C, issue 15) stops reading at the next chunk and sends
        every line already taken from ``lines``: each one ends accepted, rejected or failed, none is
        dropped unsaid, so a caller that counts what it yielded knows where to resume. When the input
        blocks (an idle stdin), the lines read so far are sent after ``STOP_GRACE_S`` without waiting.
        """
        self._check_open()
        if format not in ("auto", "json", "text"):
            raise ValueError("format must be auto, json or text")
        joiner = None if format == "json" else joiner_for(multiline)
        stats = stats or SendStats()
        stop = stop or threading.Event()
        halt = threading.Event()  # set on stop or on a fatal error: no new requests
        fatal: list[LogpipeError] = []
        batcher = Batcher(self.batch_limits)
        lock = threading.Lock()
        ready: queue.Queue[Batch | None] = queue.Queue(maxsize=max(1, max_in_flight))
        reader_error: list[BaseException] = []
        skipped = [0]  # lines not sent because sending halted
        intake_closed = [False]  # set when stop could not wait for the reader: it may hand over no more

        def put(batch: Batch) -> None:
            while not halt.is_set():
                try:
                    ready.put(batch, timeout=0.1)
                    return
                except queue.Full:
                    continue
            skipped[0] += batch.count

        # Lines read but not batched yet. The reader appends (one atomic list append a line) and whoever
        # holds `lock` takes them all: the reader once per chunk, the sending loop on each of its turns, so
        # a slow stream's last lines do not wait here for a chunk to fill while the reader waits for input.
        # A chunk is classified in one call and batched in one step (reader 1.25 → 0.82 µs a line, measured).
        buffered: list[str] = []

        def take(final: bool = False) -> list[Batch]:
            """The buffered lines joined (all of them at the end: ``final``), classified and batched, in
            order; the batches this closed (hold `lock`). A line that cannot be classified ends the input
            as an unreadable one does: nothing after it is batched, and what is open is not sent."""
            n = len(buffered)
            chunk = buffered[:n]
            del buffered[:n]  # only the taken ones: the reader may have appended since
            if intake_closed[0]:
                skipped[0] += n
                return []
            if reader_error:
                return []
            if joiner is not None:
                chunk, joined = joiner.take(chunk, final)
                stats.add(joined=joined)
            if not chunk:
                return []
            closed, error = self._batch_lines(chunk, format, stats, batcher)
            if error is not None:
                reader_error.append(error)
                skipped[0] += sum(b.count for b in batcher.flush())
            return closed

        def reader() -> None:
            append, halted, stopped = buffered.append, halt.is_set, stop.is_set
            room = CHUNK_CHARS
            try:
                for line in lines:
                    append(line)
                    room -= len(line) + CHUNK_LINE_CHARS
                    if room < 0:
                        room = CHUNK_CHARS
                        with lock:
                            closed = take()
                        for batch in closed:
                            put(batch)
                        if halted() or stopped() or reader_error:
                            break
                with lock:
                    closed = take(final=True) + batcher.flush()
                for batch in closed:
                    put(batch)
            except BaseException as exc:  # an unreadable input: report it, do not hang the sender
                with lock:  # the lines read before it are batched, and not sent
                    skipped[0] += sum(b.count for b in take(final=True) + batcher.flush())
                reader_error.append(exc)
            finally:
                with lock:
                    leftover = take(final=True) + batcher.flush()
                skipped[0] += sum(b.count for b in leftover)
                while True:
                    try:
                        ready.put(None, timeout=0.1)
                        break
                    except queue.Full:
                        if halt.is_set():
                            _drain(ready, skipped)

        def work(batch: Batch) -> None:
            try:
                self._deliver(batch, stats, halt, on_retry)
            except LogpipeError as exc:  # _deliver counted what it could not send
                stats.error(str(exc))
                fatal.append(exc)
                halt.set()
            except Exception as exc:  # a bug: never let it vanish inside the pool
                stats.add(failed=batch.count)
                stats.error(f"{type(exc).__name__}: {exc}")
                fatal.append(LogpipeError(str(exc)))
                halt.set()

        thread = threading.Thread(target=reader, name="logpipe.send.reader", daemon=True)
        thread.start()
        slots = threading.Semaphore(max(1, max_in_flight))
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, max_in_flight), thread_name_prefix="logpipe.send"
        )
        futures: set[concurrent.futures.Future[None]] = set()
        last_handover = time.monotonic()  # when the reader last handed a batch over (or stop was seen)
        try:
            done_reading = False
            while not done_reading:
                if on_tick is not None:
                    on_tick(stats)
                try:
                    item = ready.get(timeout=0.1)
                except queue.Empty:
                    with lock:
                        if not stop.is_set():
                            last_handover = time.monotonic()
                            pending = take() + batcher.due()
                        elif time.monotonic() - last_handover < STOP_GRACE_S:
                            pending = []  # the reader is finishing its chunk and will flush
                        else:  # the reader is blocked on input: send what it read, take nothing more
                            pending = take(final=True) + batcher.flush()
                            intake_closed[0] = done_reading = True
                else:
                    last_handover = time.monotonic()
                    if item is None:
                        done_reading = True
                        pending = []
                    else:
                        pending = [item]
                    # A rare kind (a text line now and then in a JSON stream) must not wait for the
                    # end of a busy stream: check ages on every turn, not only when idle.
                    with lock:
                        pending += take() + batcher.due()
                for batch in pending:
                    if halt.is_set():
                        skipped[0] += batch.count
                        continue
                    while not slots.acquire(timeout=0.1):
                        if on_tick is not None:
                            on_tick(stats)
                    future = pool.submit(work, batch)
                    future.add_done_callback(lambda _f: slots.release())
                    futures.add(future)
                futures = {f for f in futures if not f.done()}
                if halt.is_set() and not done_reading:
                    # Do not wait for the reader: it may be blocked on stdin. It is a daemon thread and
                    # checks `halt` after each chunk; what it already read is counted as not sent.
                    _drain(ready, skipped)
                    with lock:
                        skipped[0] += sum(b.count for b in take(final=True) + batcher.flush())
                    done_reading = True
            while futures:
                _, futures = concurrent.futures.wait(futures, timeout=0.1)
                if on_tick is not None:
                    on_tick(stats)
            _drain(ready, skipped)  # a batch the reader handed over after the intake closed: not sent
        finally:
            halt.set()  # also on KeyboardInterrupt: the reader must stop, not read on in the background
            pool.shutdown(wait=False, cancel_futures=True)
        if on_tick is not None:
            on_tick(stats)
        not_sent = skipped[0]
        result = SendResult(
            accepted=stats.accepted,
            rejected=stats.rejected,
            failed=stats.failed + not_sent,
            errors=list(stats.errors),
            fatal=fatal[0] if fatal else None,
            interrupted=stop.is_set(),
        )
        if reader_error and result.fatal is None:
            err = reader_error[0]
            result.fatal = err if isinstance(err, LogpipeError) else LogpipeError(f"reading input: {err}")
        return result

    def _deliver(
        self, batch: Batch, stats: SendStats, halt: threading.Event, on_retry: RetryHook | None
    ) -> None:
        """Send one batch; isolate and drop records the server refuses; raise on anything fatal."""

        def count_retry(error: LogpipeError, attempt: int, delay: float) -> None:
            stats.add(retries=1)
            if on_retry is not None:
                on_retry(error, attempt, delay)

        stack = [batch]
        while stack:
            current = stack.pop()
            if halt.is_set():
                stats.add(failed=current.count)
                continue
            stats.add(requests=1)
            try:
                ids = self.send_batch(current, stop=halt, on_retry=count_retry)
            except APIError as exc:
                if not _is_record_level_refusal(exc):
                    stats.add(failed=current.count + sum(b.count for b in stack))
                    raise
                stack += _split_refused(current, exc, stats)
                continue
            except LogpipeError:
                stats.add(failed=current.count + sum(b.count for b in stack))
                raise
            stats.add(accepted=len(ids))

    # -- lifecycle ---------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool (idempotent)."""
        self._closed = True
        with self._lock:
            client, self._http_client = self._http_client, None
        if client is not None and self._owns_http:
            client.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _drain(ready: queue.Queue[Batch | None], skipped: list[int]) -> None:
    while True:
        try:
            item = ready.get_nowait()
        except queue.Empty:
            return
        if item is not None:
            skipped[0] += item.count
        else:
            # keep the end marker for the consumer
            ready.put_nowait(None)
            return
