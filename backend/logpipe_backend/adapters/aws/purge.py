"""``logpipe tenants purge --backend aws``: a tenant's key, queued messages and items, all gone.

The steps and their order are ``core/purge.py``'s:

1. ``DynamoKeyStore.begin_purge``: the key item is deleted and ``purge_started_at`` set on the tenant item,
   in one transaction (``tenants list`` shows ``purging``; a purge run again keeps the first time).
2. The queue, then the DLQ: every message is received (held ``HOLD_SECONDS``), the tenant's are deleted
   (``DeleteMessageBatch``; a message's envelope names its tenant, ``core/envelope.py``) and the others are
   made visible again (``ChangeMessageVisibility`` 0) as soon as the scan is over. Holding them while
   scanning is what lets the scan reach past the first ten: released at once, SQS would hand the same ten
   back. Each scan counts one receive on every message (SQS has no peek), which brings a message that
   failed ``maxReceiveCount - 1`` times to the DLQ one receive sooner.
3. The logs table: ``Query`` on the tenant's partition for the keys and each item's record ``count`` only
   (``ProjectionExpression``: a chunk holds a run of records, ``adapters/aws/chunks.py``; an item without
   ``count`` is one record), and ``BatchWriteItem`` deletes of at most 25, ``UnprocessedItems`` retried with
   backoff and jitter (``_retry.py``).
4. ``DynamoKeyStore.end_purge``: the tenant item goes.

Every step deletes what is still there: after a crash, running the purge again finishes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from logpipe_backend.adapters.aws._retry import full_jitter_delay
from logpipe_backend.adapters.aws.dlq import BATCH, dlq_url_for, release
from logpipe_backend.adapters.aws.dynamodb import MAX_BATCH_WRITE_ITEMS, StoreError
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.core.purge import Progress, PurgeCounts, UnknownTenant, no_progress, tenant_of

HOLD_SECONDS: Final = 120  # a scanned message of another tenant is hidden at most this long
EMPTY_RECEIVES: Final = 2  # receives that bring nothing new before a queue counts as scanned
QUERY_PAGE_KEYS: Final = 1000
DELETE_ATTEMPTS: Final = 10


class AwsPurge:
    def __init__(
        self,
        dynamodb: Any,
        sqs: Any,
        *,
        logs_table: str,
        keys: DynamoKeyStore,
        queue_url: str | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._ddb = dynamodb
        self._sqs = sqs
        self._table = logs_table
        self._keys = keys
        self._queue_url = queue_url
        self._sleep = sleep

    def _queues(self) -> list[tuple[str, str]]:
        if not self._queue_url:
            return []
        return [("queued", self._queue_url), ("dead", dlq_url_for(self._sqs, self._queue_url))]

    def plan(self, tenant_id: str) -> PurgeCounts:
        """What :meth:`purge` would delete, deleting nothing (the queues are scanned and released)."""
        counts = PurgeCounts(records=sum(n for page in self._key_pages(tenant_id) for _, n in page))
        for kind, url in self._queues():
            setattr(counts, kind, self._scan(url, tenant_id, delete=False, progress=no_progress, kind=kind))
        return counts

    def purge(self, tenant_id: str, progress: Progress = no_progress) -> PurgeCounts:
        known = any(t.tenant_id == tenant_id for t in self._keys.list_tenants())
        if not known and not next(self._key_pages(tenant_id, limit=1)):
            raise UnknownTenant(f"no tenant {tenant_id!r}, and no item stored for it")
        self._keys.begin_purge(tenant_id)
        counts = PurgeCounts()
        for kind, url in self._queues():
            setattr(counts, kind, self._scan(url, tenant_id, delete=True, progress=progress, kind=kind))
        for page in self._key_pages(tenant_id):
            for start in range(0, len(page), MAX_BATCH_WRITE_ITEMS):
                batch = page[start : start + MAX_BATCH_WRITE_ITEMS]
                self._delete([key for key, _ in batch])
                records = sum(n for _, n in batch)
                counts.records += records
                progress("records", records)
        self._keys.end_purge(tenant_id)
        return counts

    def _key_pages(
        self, tenant_id: str, limit: int = QUERY_PAGE_KEYS
    ) -> Iterator[list[tuple[dict[str, Any], int]]]:
        """Pages of (key, records it holds) of the tenant's items (a partition read; no scan of the table)."""
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "tenant_id = :t",
            "ExpressionAttributeValues": {":t": {"S": tenant_id}},
            "ProjectionExpression": "tenant_id, log_id, #n",
            "ExpressionAttributeNames": {"#n": "count"},  # a DynamoDB reserved word
            "ConsistentRead": True,
            "Limit": limit,
        }
        while True:
            response = self._ddb.query(**params)
            yield [
                ({"tenant_id": i["tenant_id"], "log_id": i["log_id"]}, int(i.get("count", {}).get("N", "1")))
                for i in response.get("Items", [])
            ]
            if "LastEvaluatedKey" not in response:
                return
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _delete(self, keys: list[dict[str, Any]]) -> None:
        requests: list[dict[str, Any]] = [{"DeleteRequest": {"Key": key}} for key in keys]
        for attempt in range(DELETE_ATTEMPTS):
            response = self._ddb.batch_write_item(RequestItems={self._table: requests})
            requests = response.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
            self._sleep(full_jitter_delay(attempt))
        # Nothing is lost by stopping here: the purge is marked, and running it again deletes the rest.
        raise StoreError(f"{len(requests)} delete(s) still unprocessed after {DELETE_ATTEMPTS} attempts")

    def _scan(self, url: str, tenant_id: str, *, delete: bool, progress: Progress, kind: str) -> int:
        """Find (and with ``delete``, delete) the tenant's messages of one queue; how many."""
        held: dict[str, dict[str, Any]] = {}  # message id -> latest receipt, to release at the end
        found = 0
        empty = 0
        try:
            while empty < EMPTY_RECEIVES:
                messages = self._sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=BATCH, VisibilityTimeout=HOLD_SECONDS, WaitTimeSeconds=0
                ).get("Messages", [])
                new = [m for m in messages if m["MessageId"] not in held]
                empty = 0 if new else empty + 1
                mine = [m for m in new if tenant_of(m["Body"]) == tenant_id]
                for message in messages:
                    held[message["MessageId"]] = message
                if not delete:
                    found += len(mine)
                elif mine:
                    entries = [
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(mine)
                    ]
                    done = self._sqs.delete_message_batch(QueueUrl=url, Entries=entries).get("Successful", [])
                    for entry in done:  # a failed one stays held, is released, and goes on the next run
                        held.pop(mine[int(entry["Id"])]["MessageId"])
                    found += len(done)
                    progress(kind, len(done))
        finally:
            release(self._sqs, url, list(held.values()))
        return found
