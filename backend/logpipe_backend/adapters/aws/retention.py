"""Each tenant's own retention for the worker, read from the tenants table and cached (issue 16).

The worker writes every item's TTL (``expires_at``) from its tenant's retention: the ``retention_s``
attribute of the ``tenant#<id>`` item (``logpipe tenants set-retention --backend aws``), else the store's
``LOGPIPE_LOG_RETENTION_DAYS``. One ``GetItem`` per tenant per ``CACHE_SECONDS`` and Lambda container: a
changed retention reaches every item written after the cache time, and none written before (TTLs already
set are not rewritten: DynamoDB deletes those items when they expire, as set then).

A failed read does not guess: with a value cached earlier, that value is used; without one, the write
fails (``StoreError``: SQS delivers the message again), since writing the default could expire a tenant's
records years early or keep an erased tenant's for a month.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from logpipe_backend.adapters.aws.dynamodb import StoreError
from logpipe_backend.adapters.aws.tenants import TENANT_PREFIX

CACHE_SECONDS: Final = 60.0
CACHE_MAX_ENTRIES: Final = 4096


class TenantRetention:
    """``retention_seconds_for`` of :class:`~logpipe_backend.adapters.aws.dynamodb.DynamoStore`."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        cache_seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table_name
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[int | None, float]] = {}

    def __call__(self, tenant_id: str) -> int | None:
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is not None and now - cached[1] < self._cache_seconds:
            return cached[0]
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": TENANT_PREFIX + tenant_id}},
                ProjectionExpression="retention_s",
            )
        except (ClientError, BotoCoreError) as exc:
            if cached is not None:
                return cached[0]
            raise StoreError(f"cannot read the retention of tenant {tenant_id!r}: {exc}") from exc
        raw = response.get("Item", {}).get("retention_s", {}).get("N")
        value = None if raw is None else int(raw)
        if len(self._cache) >= CACHE_MAX_ENTRIES:
            self._cache.clear()
        self._cache[tenant_id] = (value, now)
        return value
