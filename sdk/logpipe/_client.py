"""``Client``: send records to ``POST /ingest`` (contract.md §3), one at a time or as a stream of lines.

The sending itself (retries, refusals, in-flight limit, stats) is the delivery engine's (``_delivery``);
this module builds requests, reads responses, and feeds ``send_lines``' input to the engine.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from . import _codec
from ._batcher import Batch, Batcher, BatchLimits, encode_record
from ._config import load_settings
from ._delivery import Delivery, Intake, RetryHook, SendResult, SendStats, Shipper, attempts, run
from ._exceptions import (
    APIError,
    ClientClosedError,
    ConfigError,
    LogpipeError,
    api_error_from_response,
    transport_error,
)
from ._retry import RetryPolicy

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
TURN_S = 0.1  # send_lines' own thread: how often it ships what is due, ticks and looks at stop

Record = Mapping[str, Any] | str


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
        # Built again for a retry: gzip at mtime 0 gives the same bytes, which the server's
        # Idempotency-Key check compares (a digest of the body), and a retry waits far longer than this.
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
            content = _codec.gzip(content, self.compresslevel)
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

    def _transport_error(self, exc: httpx.HTTPError) -> LogpipeError:
        """httpx's error translated at the edge, as ``raise ... from exc`` would chain it."""
        error = transport_error(exc, self.ingest_url)
        error.__cause__ = exc
        return error

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

    def _post(self, batch: Batch) -> list[str] | LogpipeError:
        """One attempt at ``batch``: what the delivery engine's ``Post`` step asks for."""
        if self._closed:  # the handler's client closed under it: its records are lost, not sent
            return ClientClosedError("the client is closed")
        content, headers = self._request(batch)
        try:
            response = self._http().post(self.ingest_url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            return self._transport_error(exc)
        return self._parse(response)

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
        steps = attempts(batch, retry or self.retry, on_retry, None if stop is None else stop.is_set)
        return run(steps, self._post, _sleep if stop is None else stop.wait)

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
        (``_multiline``). A batch the server refuses because of some of its records (400, 413, 422,
        403 ``tenant_mismatch``) is split in halves and resent (new keys) until the bad records are
        isolated; they are counted ``rejected`` and the rest is accepted. Sending stops at the first
        error that no retry can fix (401, 404, 415, or a failure that outlasts the retries): ``fatal``.

        Setting ``stop`` (``logpipe send``'s first Ctrl-C, issue 15) stops reading at the next chunk and sends
        every line already taken from ``lines``: each one ends accepted, rejected or failed, none is
        dropped unsaid, so a caller that counts what it yielded knows where to resume. When the input
        blocks (an idle stdin), the lines read so far are sent after ``STOP_GRACE_S`` without waiting.
        """
        self._check_open()
        stats = stats or SendStats()
        stop = stop or threading.Event()
        intake = Intake(format, multiline, self.tenant, self.batch_limits, stats)
        delivery = Delivery(self.retry, stats, halt_on_fatal=True, on_retry=on_retry)
        shipper = Shipper(delivery, self._post, max_in_flight=max_in_flight, name="logpipe.send")
        feed = _LineFeed(lines, intake, shipper, stop)
        try:
            feed.run(None if on_tick is None else lambda: on_tick(stats))
        finally:
            delivery.halt.set()  # also on KeyboardInterrupt: the reader must stop, not read on
            shipper.close()
        fatal = delivery.fatal[0] if delivery.fatal else None
        if feed.errors and fatal is None:
            err = feed.errors[0]
            fatal = err if isinstance(err, LogpipeError) else LogpipeError(f"reading input: {err}")
        return stats.result(fatal=fatal, interrupted=stop.is_set())

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


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


class _LineFeed:
    """``send_lines``' input side. A reader thread takes lines from the caller's iterable and hands them
    to the engine a chunk at a time (one ``classify_lines`` call a chunk: the per-line cost is the CPU of
    ``logpipe send``); the caller's thread ships what a slow stream leaves waiting (by age), ticks the
    progress and decides when the input has ended: at its end, at a fatal error (without waiting for a
    reader blocked on stdin), or after ``stop`` (at once when the reader is idle for ``STOP_GRACE_S``).

    Every line taken from the input ends accepted, rejected or failed: lines taken after the intake is
    closed, and those batched before an error ended the input, are counted failed. ``lock`` guards the
    buffer, the intake and ``closed``; batches are handed to the shipper outside it (it may block).
    """

    def __init__(self, lines: Iterable[str], intake: Intake, shipper: Shipper, stop: threading.Event) -> None:
        self.lines = lines
        self.intake = intake
        self.shipper = shipper
        self.stats = intake.stats
        self.halt = shipper.delivery.halt
        self.stop = stop
        self.errors: list[BaseException] = []  # an unreadable input, or a line that cannot be classified
        self.lock = threading.Lock()
        # Lines read but not batched yet. The reader appends (one atomic list append a line) and whoever
        # holds `lock` takes them all: the reader once per chunk, this thread on each of its turns, so a
        # slow stream's last lines do not wait for a chunk to fill while the reader waits for input.
        self.buffered: list[str] = []
        self.closed = False  # the intake: no more lines are sent
        self.busy = False  # the reader is handing batches over (set under `lock`)
        self.last_active = time.monotonic()  # the reader's last hand-over, or a turn before `stop`
        self.done = threading.Event()  # the reader has finished

    def _take(self, final: bool = False) -> list[Batch]:
        """The buffered lines into the intake (all of it at the end: ``final``); the batches this closed
        (hold `lock`). A line that cannot be classified ends the input as an unreadable one does: nothing
        after it is batched, and what is open is not sent."""
        n = len(self.buffered)
        chunk = self.buffered[:n]
        del self.buffered[:n]  # only the taken ones: the reader may have appended since
        if self.closed:
            self.stats.add(failed=n)
            return []
        if self.errors:
            return []
        closed, error = self.intake.take(chunk, final)
        if error is not None:
            self.errors.append(error)
            self.stats.add(failed=sum(b.count for b in self.intake.batcher.flush()))
        return closed

    def _hand_over(self, final: bool) -> None:
        """The reader's: its chunk (all of it at the end) to the shipper."""
        with self.lock:
            batches = self._take(final) + (self.intake.batcher.flush() if final else [])
            self.busy = bool(batches)
        try:
            for batch in batches:
                self.shipper.submit(batch)
        finally:
            self.busy = False
            self.last_active = time.monotonic()

    def _read(self) -> None:
        append, halted, stopped = self.buffered.append, self.halt.is_set, self.stop.is_set
        room = CHUNK_CHARS
        try:
            for line in self.lines:
                append(line)
                room -= len(line) + CHUNK_LINE_CHARS
                if room < 0:
                    room = CHUNK_CHARS
                    self._hand_over(final=False)
                    if halted() or stopped() or self.errors:
                        break
            self._hand_over(final=True)
        except BaseException as exc:  # an unreadable input: report it, do not hang the sender
            with self.lock:  # the lines read before it are batched, and not sent
                unsent = self._take(final=True) + self.intake.batcher.flush()
            self.stats.add(failed=sum(b.count for b in unsent))
            self.errors.append(exc)
        finally:
            with self.lock:
                leftover = self._take(final=True) + self.intake.batcher.flush()
            self.stats.add(failed=sum(b.count for b in leftover))
            self.done.set()

    def run(self, tick: Callable[[], None] | None) -> None:
        thread = threading.Thread(target=self._read, name="logpipe.send.reader", daemon=True)
        thread.start()
        while not self.done.is_set():
            if tick is not None:
                tick()
            if self.halt.is_set() or self.errors or self.stop.is_set():
                with self.lock:
                    idle = not self.busy and time.monotonic() - self.last_active >= STOP_GRACE_S
                    # A fatal error or an error in the input: do not wait for the reader (it may be
                    # blocked on stdin); after stop, the reader is blocked on input: send what it read.
                    if self.halt.is_set() or self.errors or idle:
                        batches = self._take(final=True) + self.intake.batcher.flush()
                        self.closed = True
                    else:  # the reader is finishing its chunk and will flush
                        batches = None
                if batches is not None:
                    for batch in batches:
                        self.shipper.submit(batch, tick)
                    break
            else:
                self.last_active = time.monotonic()
                # A rare kind (a text line now and then in a JSON stream) must not wait for the end of
                # a busy stream, nor a slow stream's lines for a chunk to fill: ship what is due.
                with self.lock:
                    batches = self._take() + self.intake.batcher.due()
                for batch in batches:
                    self.shipper.submit(batch, tick)
            self.done.wait(TURN_S)
        self.shipper.join(tick=tick)
        if tick is not None:
            tick()
