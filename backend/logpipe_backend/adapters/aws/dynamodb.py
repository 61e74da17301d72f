"""``ports.Store`` on DynamoDB: the logs table (hash ``tenant_id``, range ``log_id``), records in chunks.

Each item holds a run of one tenant's records, compressed: the layout and how records are cut into chunks
are in :mod:`.chunks`, how a query reads records back in order out of overlapping chunks in
:mod:`.chunk_query`, and what a record too large for an item becomes in :mod:`.record_fit`. A chunk costs
one write unit per KB of compressed records instead of one (or more) per record (figures: docs/aws.md).

Writes are ``BatchWriteItem`` calls of at most 25 items (moto accepts more; AWS does not), UnprocessedItems
retried with backoff and jitter. Keys are unique within a call: records are deduplicated before they are cut
into chunks, and every chunk's key is its first record's log_id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from logpipe_backend.adapters.aws._retry import full_jitter_delay
from logpipe_backend.adapters.aws.chunk_query import CHUNKS_PER_CALL, read_page
from logpipe_backend.adapters.aws.chunks import MAX_CHUNK_SPAN_MS, by_tenant, chunk_items
from logpipe_backend.adapters.aws.record_fit import (
    DYNAMODB_ITEM_LIMIT,
    ITEM_BUDGET,
    TRUNCATED_KEY,
    item_size,
)
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.record import Record
from logpipe_backend.ports import LogQuery, QueryPage
from logpipe_backend.settings import DEFAULT_RETENTION_DAYS

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "DYNAMODB_ITEM_LIMIT",
    "ITEM_BUDGET",
    "MAX_BATCH_WRITE_ITEMS",
    "TRUNCATED_KEY",
    "WRITE_ATTEMPTS",
    "DynamoStore",
    "StoreError",
    "item_size",
]

log = logging.getLogger(__name__)

MAX_BATCH_WRITE_ITEMS: Final = 25  # BatchWriteItem's limit per call
WRITE_ATTEMPTS: Final = 8  # BatchWriteItem calls per batch before the message fails (and SQS retries it)
# Errors after which the same BatchWriteItem may simply be sent again (nothing of it was applied).
RETRYABLE_ERROR_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
WRITE_DEADLINE_SECONDS: Final = 20.0  # also give up a batch after this long, so the Lambda is not timed out
# A query makes at most this many Query calls (each up to 1 MB) before it answers with what it has and a
# cursor, so a selective filter over a large partition costs bounded time per request.
MAX_QUERY_PAGES: Final = 8


class StoreError(ApiError):
    """The store could not take or read records.

    The worker reports the message as failed (SQS redelivers it); the admin handler answers 503, as for
    any ``ApiError``, so a throttled read is "retry later", not an internal error.
    """

    def __init__(self, message: str) -> None:
        super().__init__(503, "store_unavailable", message, retry_after=1)


def batches(
    items: Sequence[dict[str, Any]], size: int = MAX_BATCH_WRITE_ITEMS
) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class DynamoStore:
    """Writes records as chunks in batches and reads one tenant's key range record by record.

    ``retention_seconds_for(tenant_id)``, when given, is a tenant's retention in seconds (0: keep forever,
    no ``expires_at``), or None for the store's default (``retention_days``).

    ``span_ms`` and ``chunks_per_call`` are for tests (a short span and a tiny read budget make pages end
    inside chunks). ``span_ms`` must be the same for every writer and reader of a table: a reader assuming
    a shorter span than the writers used could answer records out of order.
    """

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        retention_seconds_for: Callable[[str], int | None] | None = None,
        max_query_pages: int = MAX_QUERY_PAGES,
        span_ms: int = MAX_CHUNK_SPAN_MS,
        chunks_per_call: int = CHUNKS_PER_CALL,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention_days = retention_days
        self._retention_seconds_for = retention_seconds_for
        self._max_query_pages = max_query_pages
        self._span_ms = span_ms
        self._chunks_per_call = chunks_per_call
        self._sleep = sleep
        self._clock = clock

    @property
    def table_name(self) -> str:
        return self._table

    def retention_seconds(self, tenant_id: str) -> int:
        if self._retention_seconds_for is not None:
            seconds = self._retention_seconds_for(tenant_id)
            if seconds is not None:
                return max(0, seconds)
        return max(0, self._retention_days) * 86_400

    def put_records(self, records: Sequence[Record], docs: Sequence[str | None] | None = None) -> None:
        items: list[dict[str, Any]] = []
        for tenant_id, (group, group_texts) in by_tenant(records, docs).items():
            try:
                items += chunk_items(
                    group,
                    group_texts,
                    retention_seconds=self.retention_seconds(tenant_id),
                    span_ms=self._span_ms,
                )
            except ValueError as exc:
                raise StoreError(f"records of {tenant_id} cannot be stored: {exc}") from exc
        for batch in batches(items):
            self._write_batch(batch)

    def _write_batch(self, items: list[dict[str, Any]]) -> None:
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": item}} for item in items]
        started = self._clock()
        last_error = ""
        for attempt in range(WRITE_ATTEMPTS):
            try:
                response = self._client.batch_write_item(RequestItems={self._table: requests})
            except ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code not in RETRYABLE_ERROR_CODES:
                    raise StoreError(f"BatchWriteItem failed: {exc}") from exc
                # Throttled as a whole (botocore's own retries are spent by now): nothing of this call
                # was written, so the same requests go again, within the same attempt and time budget.
                last_error = code
                log.warning("BatchWriteItem: %s, attempt %d", code, attempt + 1)
            except BotoCoreError as exc:
                raise StoreError(f"BatchWriteItem failed: {exc}") from exc
            else:
                requests = response.get("UnprocessedItems", {}).get(self._table, [])
                if not requests:
                    return
                last_error = "UnprocessedItems"
                log.info("BatchWriteItem: %d unprocessed item(s), attempt %d", len(requests), attempt + 1)
            if attempt + 1 == WRITE_ATTEMPTS or self._clock() - started > WRITE_DEADLINE_SECONDS:
                break
            self._sleep(full_jitter_delay(attempt))
        # The caller (the worker) reports the whole message as failed: SQS redelivers it, and the upsert
        # makes rewriting the items that did get in harmless.
        raise StoreError(
            f"{len(requests)} item(s) still unprocessed after {attempt + 1} BatchWriteItem calls"
            f" (last: {last_error})"
        )

    def query(self, query: LogQuery) -> QueryPage:
        """One page of ``query``, record by record, out of the tenant's chunks (:mod:`.chunk_query`).

        Time, level and text filters run here on each record, with the same ``core.query.matches`` as the
        local store (DynamoDB's ``contains`` is case-sensitive, and the records are compressed anyway).
        """

        def call(params: dict[str, Any]) -> dict[str, Any]:
            try:
                response: dict[str, Any] = self._client.query(TableName=self._table, **params)
            except (ClientError, BotoCoreError) as exc:
                raise StoreError(f"Query failed: {exc}") from exc
            return response

        return read_page(
            call,
            query,
            span_ms=self._span_ms,
            max_calls=self._max_query_pages,
            chunks_per_call=self._chunks_per_call,
        )
