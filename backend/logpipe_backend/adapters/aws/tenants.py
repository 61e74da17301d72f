"""``ports.KeyStore`` on the DynamoDB tenants table (hash key ``pk``, a string), plus the operator's calls.

Two kinds of item, told apart by a key prefix so one ``GetItem`` answers an ingest request:

| ``pk`` | other attributes | read by |
| --- | --- | --- |
| ``key#<sha256 hex of the API key>`` | ``tenant_id``, ``created_at`` | ingest (``GetItem``) |
| ``tenant#<tenant_id>`` | ``tenant_id``, ``key_hash``, ``created_at`` (+ see below) | the operator; worker |

Only the hash of a key is stored (``core.auth.hash_secret``): a read of the table does not yield a usable key.
``retention_s`` (N, seconds, 0 = forever) is the tenant's own retention (``tenants set-retention``); absent,
the worker's ``LOGPIPE_LOG_RETENTION_DAYS`` applies. ``purge_started_at`` marks a ``tenants purge`` under way
(its key item is gone already); the purge deletes the tenant item when it is done.

Revoking deletes both items; a warm ingest Lambda may keep accepting a revoked key for up to
``CACHE_SECONDS``, the price of not reading DynamoDB on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from logpipe_backend.core.auth import hash_secret, new_api_key, valid_tenant_id
from logpipe_backend.core.errors import ApiError

KEY_PREFIX: Final = "key#"
TENANT_PREFIX: Final = "tenant#"
CACHE_SECONDS: Final = 60.0
CACHE_MAX_ENTRIES: Final = 1024  # bounded: only keys that were found are cached, so guessing cannot fill it


class KeyStoreUnavailable(ApiError):
    """The tenants table could not be read: 503, not 401, since the key may well be valid.

    An ``ApiError``, so the handler answers it like every other refusal (``ports`` has no error for it).
    """

    def __init__(self, message: str) -> None:
        super().__init__(503, "key_store_unavailable", message, retry_after=1)


class TenantExists(Exception):
    pass


@dataclass(frozen=True)
class TenantInfo:
    tenant_id: str
    created_at: str
    retention_s: int | None = None
    purge_started_at: str | None = None


def _utc(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


class DynamoKeyStore:
    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table_name
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}

    @property
    def table_name(self) -> str:
        return self._table

    def tenant_for_key(self, api_key: str) -> str | None:
        key_hash = hash_secret(api_key)
        now = self._clock()
        cached = self._cache.get(key_hash)
        if cached is not None and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": KEY_PREFIX + key_hash}},
                ProjectionExpression="tenant_id",
            )
        except (ClientError, BotoCoreError) as exc:
            raise KeyStoreUnavailable(f"GetItem on the tenants table failed: {exc}") from exc
        item = response.get("Item")
        if item is None:
            self._cache.pop(key_hash, None)
            return None
        tenant_id = str(item["tenant_id"]["S"])
        if len(self._cache) >= CACHE_MAX_ENTRIES:
            self._cache.clear()
        self._cache[key_hash] = (tenant_id, now)
        return tenant_id

    def is_admin_token(self, token: str) -> bool:
        # On AWS the admin route is authorised by IAM (SigV4) at API Gateway; there is no admin token.
        return False

    # --- operator calls (`logpipe tenants … --backend aws`), made with the operator's own credentials ---

    def create_tenant(self, tenant_id: str, *, now: Callable[[], float] = time.time) -> str:
        """Create the tenant and return its new API key (shown once; only its hash is kept)."""
        if not valid_tenant_id(tenant_id):
            raise ValueError(f"invalid tenant id: {tenant_id!r}")
        api_key = new_api_key()
        key_hash = hash_secret(api_key)
        created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now()))
        try:
            # One transaction: a tenant item without its key item (or the reverse) never exists.
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": TENANT_PREFIX + tenant_id},
                                "tenant_id": {"S": tenant_id},
                                "key_hash": {"S": key_hash},
                                "created_at": {"S": created_at},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": KEY_PREFIX + key_hash},
                                "tenant_id": {"S": tenant_id},
                                "created_at": {"S": created_at},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise TenantExists(tenant_id) from exc
            raise
        return api_key

    def list_tenants(self) -> list[TenantInfo]:
        """Every tenant (a Scan: an operator's call on a small table, never on the request path)."""
        tenants: list[TenantInfo] = []
        params: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "begins_with(pk, :p)",
            "ExpressionAttributeValues": {":p": {"S": TENANT_PREFIX}},
        }
        while True:
            response = self._client.scan(**params)
            for item in response.get("Items", []):
                retention = item.get("retention_s", {}).get("N")
                tenants.append(
                    TenantInfo(
                        item["tenant_id"]["S"],
                        item.get("created_at", {}).get("S", ""),
                        None if retention is None else int(retention),
                        item.get("purge_started_at", {}).get("S"),
                    )
                )
            if "LastEvaluatedKey" not in response:
                break
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return sorted(tenants, key=lambda t: t.tenant_id)

    def set_retention(self, tenant_id: str, retention_s: int | None) -> bool:
        """Set (None: remove) the tenant's own retention; False when there is no such tenant. Workers see
        it within their cache time (``adapters/aws/retention.py``)."""
        update: dict[str, Any] = {
            "TableName": self._table,
            "Key": {"pk": {"S": TENANT_PREFIX + tenant_id}},
            "ConditionExpression": "attribute_exists(pk)",
        }
        if retention_s is None:
            update["UpdateExpression"] = "REMOVE retention_s"
        else:
            update["UpdateExpression"] = "SET retention_s = :r"
            update["ExpressionAttributeValues"] = {":r": {"N": str(int(retention_s))}}
        try:
            self._client.update_item(**update)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def begin_purge(self, tenant_id: str, *, now: Callable[[], float] = time.time) -> str:
        """Revoke the tenant's key and mark the purge on its tenant item (made if missing: a tenant
        revoked earlier, or a purge resumed); the mark's time, kept from a purge that was interrupted."""
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": TENANT_PREFIX + tenant_id}}, ConsistentRead=True
        )
        item = response.get("Item") or {}
        started = item.get("purge_started_at", {}).get("S") or _utc(now())
        writes: list[dict[str, Any]] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": {
                        "pk": {"S": TENANT_PREFIX + tenant_id},
                        "tenant_id": {"S": tenant_id},
                        "created_at": item.get("created_at", {"S": ""}),
                        "purge_started_at": {"S": started},
                    },
                }
            }
        ]
        if "key_hash" in item:  # one transaction: the key stops working as the mark appears
            key = {"pk": {"S": KEY_PREFIX + item["key_hash"]["S"]}}
            writes.append({"Delete": {"TableName": self._table, "Key": key}})
        self._client.transact_write_items(TransactItems=writes)
        self._cache.clear()
        return started

    def end_purge(self, tenant_id: str) -> None:
        """The purge is done: the tenant item goes too (nothing of the tenant is left)."""
        self._client.delete_item(TableName=self._table, Key={"pk": {"S": TENANT_PREFIX + tenant_id}})

    def revoke_tenant(self, tenant_id: str) -> bool:
        """Delete the tenant and its key; False when there was no such tenant."""
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": TENANT_PREFIX + tenant_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return False
        self._client.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": self._table, "Key": {"pk": {"S": TENANT_PREFIX + tenant_id}}}},
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": {"pk": {"S": KEY_PREFIX + item["key_hash"]["S"]}},
                    }
                },
            ]
        )
        self._cache.clear()
        return True
