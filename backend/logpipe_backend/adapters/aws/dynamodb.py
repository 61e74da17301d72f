"""``ports.Store`` on DynamoDB: the logs table (hash ``tenant_id``, range ``log_id``).

Item layout (low-level attribute values, so no Decimal conversion anywhere):

- ``tenant_id`` (S, hash key), ``log_id`` (S, range key): one tenant is one partition key, so a query can
  never cross tenants.
- ``timestamp``, ``received_at``, ``level``, ``message``, ``source`` (S): as in CONTRACT §2.
- ``attributes`` (S): the record's attributes as a JSON string, not a DynamoDB map. Maps nest only 32 levels
  and our JSON may nest 64; a string also round-trips every JSON value exactly (no Decimal, no set rules).
- ``client_log_id`` (S): only when the record had one. ``redactions`` (N).
- ``expires_at`` (N): epoch seconds, the table's TTL attribute: when the record was received plus its
  tenant's retention (``retention_seconds_for``, cached per tenant: ``adapters/aws/retention.py``), else the
  store's ``retention_days`` (``LOGPIPE_LOG_RETENTION_DAYS``); absent when retention is 0 (keep forever).

DynamoDB refuses items over 400 KB (names plus values). A record is at most 256 KiB when ingested, but
redaction can make it longer (``[REDACTED:secret]`` replacing a one-letter value), so :func:`fit_item` checks
every item and, when one is over the budget, shortens it in a way the record says itself (see there)
rather than failing its whole queue message forever.

Writes are ``BatchWriteItem`` calls of at most 25 items (moto accepts more; AWS does not), duplicates
within a call removed (AWS refuses a call naming a key twice), ``UnprocessedItems`` retried with backoff
and jitter.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from logpipe_backend.adapters.aws._retry import full_jitter_delay
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.ids import is_log_id, log_id_time_ms
from logpipe_backend.core.query import matches
from logpipe_backend.core.record import Record
from logpipe_backend.core.retention import expires_at
from logpipe_backend.ports import LogQuery, QueryPage

log = logging.getLogger(__name__)

MAX_BATCH_WRITE_ITEMS: Final = 25  # BatchWriteItem's limit per call
DYNAMODB_ITEM_LIMIT: Final = 400 * 1024  # 409,600 bytes: attribute names + values, UTF-8
# What we allow ourselves: a margin under the hard limit for our size estimate of numbers.
ITEM_BUDGET: Final = 400_000
WRITE_ATTEMPTS: Final = 8  # BatchWriteItem calls per chunk before the message fails (and SQS retries it)
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
WRITE_DEADLINE_SECONDS: Final = 20.0  # also give up a chunk after this long, so the Lambda is not timed out
# A query reads at most this many 1 MB pages before it answers with what it has and a cursor, so a selective
# filter over a large partition costs bounded time per request.
MAX_QUERY_PAGES: Final = 8
FILTERED_PAGE_ITEMS: Final = 1000  # items read per Query page when filters run here (bounds each page's time)
DEFAULT_RETENTION_DAYS: Final = 30
TRUNCATED_KEY: Final = "logpipe_truncated"
MAX_KEPT_CLIENT_ID_BYTES: Final = 1024  # a shortened item keeps at most this much of client_log_id
_TRUNCATION_SUFFIX: Final = " …[truncated]"


class StoreError(ApiError):
    """The store could not take or read records.

    The worker reports the message as failed (SQS redelivers it); the admin handler answers 503, as for
    any ``ApiError``, so a throttled read is "retry later", not an internal error.
    """

    def __init__(self, message: str) -> None:
        super().__init__(503, "store_unavailable", message, retry_after=1)


def _attr_size(name: str, value: dict[str, str]) -> int:
    """DynamoDB's size of one attribute, never under the real one (item size rules, Developer Guide)."""
    (kind, raw), *_ = value.items()
    if kind == "N":
        # Real size is about (significant digits / 2) + 1; the character count + 1 is an upper bound.
        return len(name.encode("utf-8")) + len(raw) + 1
    return len(name.encode("utf-8")) + len(raw.encode("utf-8"))


def item_size(item: dict[str, dict[str, str]]) -> int:
    return sum(_attr_size(name, value) for name, value in item.items())


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def to_item(
    record: Record, *, retention_days: int, retention_s: int | None = None
) -> dict[str, dict[str, str]]:
    """The item of ``record``; ``retention_s`` (the tenant's own, in seconds) wins over ``retention_days``."""
    item: dict[str, dict[str, str]] = {
        "tenant_id": {"S": record["tenant_id"]},
        "log_id": {"S": record["log_id"]},
        "timestamp": {"S": record["timestamp"]},
        "received_at": {"S": record["received_at"]},
        "level": {"S": record["level"]},
        "message": {"S": record["message"]},
        "attributes": {"S": _dumps(record["attributes"])},
        "source": {"S": record["source"]},
        "redactions": {"N": str(int(record["redactions"]))},
    }
    if "client_log_id" in record:
        item["client_log_id"] = {"S": record["client_log_id"]}
    arrived_ms = log_id_time_ms(record["log_id"]) if is_log_id(record["log_id"]) else int(time.time() * 1000)
    expiry = expires_at(arrived_ms, retention_days * 86_400 if retention_s is None else retention_s)
    if expiry is not None:
        item["expires_at"] = {"N": str(expiry)}
    return item


def from_item(item: dict[str, dict[str, str]]) -> Record:
    record: Record = {
        "tenant_id": item["tenant_id"]["S"],
        "log_id": item["log_id"]["S"],
        "timestamp": item["timestamp"]["S"],
        "received_at": item["received_at"]["S"],
        "level": item["level"]["S"],
        "message": item["message"]["S"],
        "attributes": json.loads(item["attributes"]["S"]),
        "source": item["source"]["S"],
        "redactions": int(item["redactions"]["N"]),
    }
    if "client_log_id" in item:
        record["client_log_id"] = item["client_log_id"]["S"]
    return record


def _cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` whose UTF-8 form fits ``max_bytes`` (never splits a character)."""
    if max_bytes <= 0:
        return ""
    return text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def fit_item(
    record: Record, *, retention_days: int, retention_s: int | None = None, budget: int = ITEM_BUDGET
) -> dict[str, dict[str, str]]:
    """The item for ``record``, shortened to fit ``budget`` bytes if it does not.

    Shortening keeps the key, times, level and source, keeps as much of ``message`` as fits (ending in
    `` …[truncated]``), and replaces ``attributes`` by ``{"logpipe_truncated": {"message_bytes": …,
    "attributes_bytes": …, "attributes_preview": "<start of the attributes' JSON>"}}`` so a reader sees that
    and how much was cut. The message is kept first because it is what people search for. A
    ``client_log_id`` over 1 KiB is cut too (and ``client_log_id_bytes`` added to the marker).
    """
    item = to_item(record, retention_days=retention_days, retention_s=retention_s)
    if item_size(item) <= budget:
        return item
    message_bytes = len(record["message"].encode("utf-8"))
    attributes_json = item["attributes"]["S"]
    attributes_bytes = len(attributes_json.encode("utf-8"))
    log.warning(
        "record %s/%s is %d bytes as an item (limit %d): storing it shortened",
        record["tenant_id"],
        record["log_id"],
        item_size(item),
        budget,
    )
    base = dict(item)
    base["message"] = {"S": ""}
    base["attributes"] = {"S": ""}
    # The only other field of unbounded length: a client's own id. Kept whole up to 1 KiB.
    client_log_id_bytes = len(item.get("client_log_id", {}).get("S", "").encode("utf-8"))
    if client_log_id_bytes > MAX_KEPT_CLIENT_ID_BYTES:
        base["client_log_id"] = {"S": _cut_utf8(item["client_log_id"]["S"], MAX_KEPT_CLIENT_ID_BYTES)}
    # Room left for message + attributes once the fixed fields are counted; 256 bytes for the marker's keys.
    room = budget - item_size(base) - 256
    message = record["message"]
    if message_bytes > room:
        message = _cut_utf8(message, room - len(_TRUNCATION_SUFFIX.encode("utf-8"))) + _TRUNCATION_SUFFIX
    preview_room = room - len(message.encode("utf-8"))
    preview = _cut_utf8(attributes_json, preview_room)
    # JSON-escaping the preview can make it longer than its raw bytes (quotes, control characters): halve
    # it until it fits. Bounded: each round halves, and an empty preview always fits.
    for _ in range(64):
        details: dict[str, object] = {
            "message_bytes": message_bytes,
            "attributes_bytes": attributes_bytes,
            "attributes_preview": preview,
        }
        if client_log_id_bytes > MAX_KEPT_CLIENT_ID_BYTES:
            details["client_log_id_bytes"] = client_log_id_bytes
        marker = {TRUNCATED_KEY: details}
        candidate = dict(base)
        candidate["message"] = {"S": message}
        candidate["attributes"] = {"S": _dumps(marker)}
        if item_size(candidate) <= budget or not preview:
            return candidate
        preview = _cut_utf8(preview, len(preview.encode("utf-8")) // 2)
    raise AssertionError("unreachable: an empty preview always fits")  # pragma: no cover


def chunks(
    items: Sequence[dict[str, Any]], size: int = MAX_BATCH_WRITE_ITEMS
) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class DynamoStore:
    """Writes records in batches and reads one tenant's key range."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        max_query_pages: int = MAX_QUERY_PAGES,
        filtered_page_items: int = FILTERED_PAGE_ITEMS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        retention_seconds_for: Callable[[str], int | None] | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention_days = retention_days
        # A tenant's own retention in seconds (0: keep forever), None for the store's default.
        self._retention_seconds_for = retention_seconds_for
        self._max_query_pages = max_query_pages
        self._filtered_page_items = filtered_page_items
        self._sleep = sleep
        self._clock = clock

    @property
    def table_name(self) -> str:
        return self._table

    def put_records(self, records: Sequence[Record], docs: Sequence[str | None] | None = None) -> None:
        # ``docs`` is not used: items keep each field as an attribute, so they are built from the records.
        # The same (tenant_id, log_id) twice in one call is refused by AWS; the last copy wins, as an upsert.
        unique: dict[tuple[str, str], dict[str, dict[str, str]]] = {}
        own: dict[str, int | None] = {}
        lookup = self._retention_seconds_for
        for record in records:
            tenant_id = record["tenant_id"]
            if tenant_id not in own:
                own[tenant_id] = None if lookup is None else lookup(tenant_id)
            unique[(tenant_id, record["log_id"])] = fit_item(
                record, retention_days=self._retention_days, retention_s=own[tenant_id]
            )
        for chunk in chunks(list(unique.values())):
            self._write_chunk(chunk)

    def _write_chunk(self, items: list[dict[str, Any]]) -> None:
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
        """One ``Query`` over the tenant's key range, paged with ``ExclusiveStartKey``.

        The key condition holds the tenant and ``after``; the cursor (``start_after``) is the exclusive start
        key. Time, level and text filters run here, with the same ``core.query.matches`` as the local store
        (DynamoDB's ``contains`` is case-sensitive). Strongly consistent reads, so a record the worker has
        just written is seen by the next query.
        """
        params: dict[str, Any] = {
            "TableName": self._table,
            "ScanIndexForward": query.order == "asc",
            "ConsistentRead": True,
            "ExpressionAttributeValues": {":t": {"S": query.tenant_id}},
            "KeyConditionExpression": "tenant_id = :t",
        }
        if query.after is not None:
            params["KeyConditionExpression"] = "tenant_id = :t AND log_id > :after"
            params["ExpressionAttributeValues"][":after"] = {"S": query.after}
        start_key: dict[str, Any] | None = None
        if query.start_after is not None:
            start_key = {"tenant_id": {"S": query.tenant_id}, "log_id": {"S": query.start_after}}
        filtered = any(v is not None for v in (query.since, query.until, query.min_level, query.contains))
        items: list[Record] = []
        for _page in range(self._max_query_pages):
            call = dict(params)
            if start_key is not None:
                call["ExclusiveStartKey"] = start_key
            if filtered:
                call["Limit"] = self._filtered_page_items
            else:
                # Unfiltered, every item read is returned: read one more than needed to learn if more exist.
                call["Limit"] = query.limit - len(items) + 1
            try:
                response = self._client.query(**call)
            except (ClientError, BotoCoreError) as exc:
                raise StoreError(f"Query failed: {exc}") from exc
            page = response.get("Items", [])
            for position, raw in enumerate(page):
                record = from_item(raw)
                if record["tenant_id"] != query.tenant_id:  # defence in depth; the key condition ensures it
                    continue
                if matches(query, record):
                    items.append(record)
                    if len(items) == query.limit:
                        more = position + 1 < len(page) or "LastEvaluatedKey" in response
                        return QueryPage(items=items, last_log_id=record["log_id"] if more else None)
            start_key = response.get("LastEvaluatedKey")
            if start_key is None:
                return QueryPage(items=items, last_log_id=None)
        # Read budget spent: answer what we have; the cursor resumes after the last key read.
        assert start_key is not None
        return QueryPage(items=items, last_log_id=start_key["log_id"]["S"])
