"""``AsyncClient``: ``Client`` for asyncio, over ``httpx.AsyncClient``, with the same retries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Iterable
from typing import Any

import httpx

from ._batcher import Batch, Batcher
from ._client import (
    Record,
    RetryHook,
    SendResult,
    SendStats,
    _Base,
    _batches,
    _is_record_level_refusal,
    _split_refused,
)
from ._exceptions import APIError, LogpipeError, transport_error
from ._multiline import HOLD_SECONDS, joiner_for
from ._retry import Attempts, RetryPolicy

__all__ = ["AsyncClient"]


class AsyncClient(_Base):
    """Asynchronous client; mirrors :class:`logpipe.Client` (``await client.send(...)``)."""

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        tenant: str | None = None,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(endpoint, api_key, tenant, **kwargs)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self.timeout, transport=transport)

    async def send_batch(
        self, batch: Batch, *, retry: RetryPolicy | None = None, on_retry: RetryHook | None = None
    ) -> list[str]:
        """POST one batch, retrying 429/5xx/transport errors under the batch's Idempotency-Key."""
        self._check_open()
        attempts = Attempts(retry or self.retry)
        content, headers = self._request(batch)
        url = self.ingest_url
        while True:
            try:
                response = await self._http.post(url, content=content, headers=headers)
            except httpx.HTTPError as exc:
                error: LogpipeError = transport_error(exc, url)
                cause: BaseException | None = exc
            else:
                result = self._parse(response)
                if isinstance(result, list):
                    return result
                error, cause = result, None
            delay = attempts.next_delay(error)
            if delay is None:
                raise error from cause
            if on_retry is not None:
                on_retry(error, attempts.count, delay)
            await asyncio.sleep(delay)

    async def send(self, records: Record | Iterable[Record]) -> SendResult:
        """Send a dict, a str, or a list of them; raises on any error."""
        self._check_open()
        result = SendResult()
        for batch in _batches(records, self.batch_limits):
            ids = await self.send_batch(batch)
            result.accepted += len(ids)
            result.log_ids.extend(ids)
        return result

    async def send_lines(
        self,
        lines: Iterable[str] | AsyncIterable[str],
        *,
        format: str = "auto",
        multiline: str = "auto",
        max_in_flight: int = 4,
        stats: SendStats | None = None,
    ) -> SendResult:
        """Like :meth:`Client.send_lines`: lines of one record joined (``multiline``), batches, up to
        ``max_in_flight`` requests at once, refused records isolated and counted, stops at the first fatal
        error."""
        self._check_open()
        joiner = None if format == "json" else joiner_for(multiline)
        stats = stats or SendStats()
        batcher = Batcher(self.batch_limits)
        slots = asyncio.Semaphore(max(1, max_in_flight))
        tasks: set[asyncio.Task[None]] = set()
        fatal: list[LogpipeError] = []

        async def deliver(batch: Batch) -> None:
            try:
                stack = [batch]
                while stack:
                    current = stack.pop()
                    if fatal:
                        stats.add(failed=current.count)
                        continue
                    stats.add(requests=1)
                    try:
                        ids = await self.send_batch(current)
                    except APIError as exc:
                        if not _is_record_level_refusal(exc):
                            raise
                        stack += _split_refused(current, exc, stats)
                        continue
                    stats.add(accepted=len(ids))
            except LogpipeError as exc:
                stats.add(failed=current.count + sum(b.count for b in stack))
                stats.error(str(exc))
                fatal.append(exc)
            finally:
                slots.release()

        async def submit(batches: list[Batch]) -> None:
            for batch in batches:
                if fatal:
                    stats.add(failed=batch.count)
                    continue
                await slots.acquire()
                task = asyncio.create_task(deliver(batch))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        # Lines are read by a task of their own into a small queue, so that waiting for the next line
        # can time out when a batch is due (a slow stream still ships within max_age) without
        # cancelling the caller's async generator.
        pending: asyncio.Queue[str | None] = asyncio.Queue(maxsize=1024)

        async def read() -> None:
            try:
                if isinstance(lines, AsyncIterable):
                    async for line in lines:
                        await pending.put(line)
                else:
                    for line in lines:
                        await pending.put(line)
            finally:
                await pending.put(None)

        def joined(lines: list[str], final: bool = False) -> list[str]:
            if joiner is None:
                return lines
            out, count = joiner.take(lines, final)
            stats.add(joined=count)
            return out

        async def batch(lines: list[str]) -> None:
            closed, error = self._batch_lines(lines, format, stats, batcher) if lines else ([], None)
            if error is not None:
                raise error
            await submit(closed + batcher.due())

        reader = asyncio.create_task(read())
        try:
            while not fatal:
                wait = batcher.next_due_in()
                if joiner is not None and joiner.pending():
                    wait = HOLD_SECONDS if wait is None else min(wait, HOLD_SECONDS)
                try:
                    line = await asyncio.wait_for(pending.get(), timeout=wait)
                except TimeoutError:
                    await batch(joined([]))
                    continue
                if line is None:
                    break
                await batch(joined([line]))
        finally:
            if not reader.done():
                reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        if reader.done() and not reader.cancelled() and reader.exception() is not None:
            read_error = reader.exception()
            fatal.append(
                read_error
                if isinstance(read_error, LogpipeError)
                else LogpipeError(f"reading input: {read_error}")
            )
        await batch(joined([], final=True))  # what the joiner still holds: the input ended
        await submit(batcher.flush())
        if tasks:
            await asyncio.gather(*tasks)
        return SendResult(
            accepted=stats.accepted,
            rejected=stats.rejected,
            failed=stats.failed,
            errors=list(stats.errors),
            fatal=fatal[0] if fatal else None,
        )

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
