"""``AsyncClient``: ``Client`` for asyncio, over ``httpx.AsyncClient``: the same delivery engine
(``_delivery``: retries, refusals, stats), its steps driven with ``await``; batches are tasks under a
semaphore of ``max_in_flight``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, Iterable
from typing import Any, TypeVar

import httpx

from ._batcher import Batch
from ._client import Record, _Base, _batches
from ._delivery import Delivery, Intake, Post, RetryHook, SendResult, SendStats, Steps, attempts
from ._exceptions import LogpipeError
from ._multiline import HOLD_SECONDS
from ._retry import RetryPolicy

__all__ = ["AsyncClient"]

T = TypeVar("T")


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

    async def _post(self, batch: Batch) -> list[str] | LogpipeError:
        content, headers = self._request(batch)
        try:
            response = await self._http.post(self.ingest_url, content=content, headers=headers)
        except httpx.HTTPError as exc:
            return self._transport_error(exc)
        return self._parse(response)

    async def _run(self, steps: Steps[T], delivery: Delivery | None = None) -> T:
        """Drive the engine's steps with ``await`` (the sync drive is ``_delivery.run``)."""
        try:
            step = next(steps)
            while True:
                if isinstance(step, Post):
                    reply: list[str] | LogpipeError | bool = await self._post(step.batch)
                else:
                    await asyncio.sleep(step.seconds)
                    reply = delivery is not None and delivery.halt.is_set()
                step = steps.send(reply)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def send_batch(
        self, batch: Batch, *, retry: RetryPolicy | None = None, on_retry: RetryHook | None = None
    ) -> list[str]:
        """POST one batch, retrying 429/5xx/transport errors under the batch's Idempotency-Key."""
        self._check_open()
        return await self._run(attempts(batch, retry or self.retry, on_retry))

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
        error; a line that cannot be classified ends the input there."""
        self._check_open()
        stats = stats or SendStats()
        intake = Intake(format, multiline, self.tenant, self.batch_limits, stats)
        delivery = Delivery(self.retry, stats, halt_on_fatal=True)
        slots = asyncio.Semaphore(max(1, max_in_flight))
        tasks: set[asyncio.Task[None]] = set()
        errors: list[BaseException] = []

        async def deliver(batch: Batch) -> None:
            try:
                await self._run(delivery.deliver(batch), delivery)
            except Exception as exc:  # a bug: never let it vanish inside a task
                delivery.broken(batch, exc)
            finally:
                slots.release()

        async def submit(batches: list[Batch]) -> None:
            for batch in batches:
                if delivery.halt.is_set():
                    stats.add(failed=batch.count)
                    continue
                await slots.acquire()
                task = asyncio.create_task(deliver(batch))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        async def take(lines: list[str], final: bool = False) -> None:
            if errors:
                return
            closed, error = intake.take(lines, final)
            if error is not None:  # the input ends at that line: what is open is not sent
                errors.append(error)
                stats.add(failed=sum(b.count for b in intake.batcher.flush()))
            await submit(closed + intake.batcher.due())

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

        reader = asyncio.create_task(read())
        try:
            while not delivery.halt.is_set() and not errors:
                wait = intake.batcher.next_due_in()
                if intake.joiner is not None and intake.joiner.pending():
                    wait = HOLD_SECONDS if wait is None else min(wait, HOLD_SECONDS)
                try:
                    line = await asyncio.wait_for(pending.get(), timeout=wait)
                except TimeoutError:
                    await take([])
                    continue
                if line is None:
                    break
                await take([line])
        finally:
            if not reader.done():
                reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        read_error = reader.exception() if reader.done() and not reader.cancelled() else None
        if read_error is None:
            await take([], final=True)  # what the joiner still holds: the input ended
        else:  # an unreadable input: the lines read before it are batched, and not sent
            if not errors:
                closed, _ = intake.take([], final=True)
                stats.add(failed=sum(b.count for b in closed + intake.batcher.flush()))
            errors.append(read_error)
        await submit(intake.batcher.flush())
        if tasks:
            await asyncio.gather(*tasks)
        fatal = delivery.fatal[0] if delivery.fatal else None
        if errors and fatal is None:
            err = errors[0]
            fatal = err if isinstance(err, LogpipeError) else LogpipeError(f"reading input: {err}")
        return stats.result(fatal=fatal)

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
