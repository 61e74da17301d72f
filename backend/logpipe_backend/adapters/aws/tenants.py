"""``ports.KeyStore`` on the DynamoDB tenants table (hash key ``pk``, a string), plus the operator's calls.

Two kinds of item, told apart by a key prefix so one ``GetItem`` answers a request:

| ``pk`` | other attributes | read by |
| --- | --- | --- |
| ``key#<sha256 hex of the key>`` | ``tenant_id``, ``created_at``, ``scopes`` | ingest, tenant reads |
| ``tenant#<id>`` | ``tenant_id``, ``key_hash``, ``more_key_hashes``, ``created_at`` (+) | operator, worker |

``scopes`` is ``"ingest"``, ``"read"`` or ``"ingest,read"`` (issue 15); a key item written before scopes
existed has none and is an ingest key, as it always was. ``key_hash`` is the tenant's first key,
``more_key_hashes`` (a string set) the keys added by ``create-key``, so revoking finds and deletes them all.

Only the hash of a key is stored (``core.auth.hash_secret``): a read of the table does not yield a usable key.
``retention_s`` (N, seconds, 0 = forever) is the tenant's own retention (``tenants set-retention``); absent,
the worker's ``LOGPIPE_LOG_RETENTION_DAYS`` applies. ``purge_started_at`` marks a ``tenants purge`` under way
(its key items are gone already); the purge deletes the tenant item when it is done.

Revoking deletes every item; a warm Lambda may keep accepting a revoked key for up to ``CACHE_SECONDS``, the
price of not reading DynamoDB on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from logpipe_backend.core.auth import (
    LEGACY_SCOPES,
    KeyGrant,
    hash_secret,
    new_api_key,
    parse_scopes,
    scopes_text,
    valid_tenant_id,
)
from logpipe_backend.core.errors import ApiError

KEY_PREFIX: Final = "key#"
TENANT_PREFIX: Final = "tenant#"
CACHE_SECONDS: Final = 60.0
CACHE_MAX_ENTRIES: Final = 1024  # bounded: only keys that were found are cached, so guessing cannot fill it
# Revoking deletes the tenant item and every key item in one TransactWriteItems, which takes at most 100
# actions (DynamoDB's limit): a tenant's keys are capped well below it.
MAX_KEYS_PER_TENANT: Final = 20


class KeyStoreUnavailable(ApiError):
    """The tenants table could not be read: 503, not 401, since the key may well be valid.

    An ``ApiError``, so the handler answers it like every other refusal (``ports`` has no error for it).
    """

    def __init__(self, message: str) -> None:
        super().__init__(503, "key_store_unavailable", message, retry_after=1)


class TenantExists(Exception):
    pass


class TenantNotFound(Exception):
    pass


class TooManyKeys(Exception):
    pass


@dataclass(frozen=True)
class TenantInfo:
    tenant_id: str
    created_at: str
    keys: int = 1
    retention_s: int | None = None
    purge_started_at: str | None = None


def _utc(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


def _key_hashes(tenant_item: dict[str, Any]) -> list[str]:
    """The hashes of every key of the tenant (none once a purge has begun)."""
    first = [tenant_item["key_hash"]["S"]] if "key_hash" in tenant_item else []
    return first + list(tenant_item.get("more_key_hashes", {}).get("SS", []))


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
        self._cache: dict[str, tuple[KeyGrant, float]] = {}

    @property
    def table_name(self) -> str:
        return self._table

    def tenant_for_key(self, api_key: str) -> str | None:
        """The key's tenant whatever its scopes (operator checks and tests)."""
        grant = self.grant_for_key(api_key)
        return None if grant is None else grant.tenant_id

    def grant_for_key(self, api_key: str) -> KeyGrant | None:
        key_hash = hash_secret(api_key)
        now = self._clock()
        cached = self._cache.get(key_hash)
        if cached is not None and now - cached[1] < CACHE_SECONDS:
            return cached[0]
        try:
            response = self._client.get_item(
                TableName=self._table,
                Key={"pk": {"S": KEY_PREFIX + key_hash}},
                ProjectionExpression="tenant_id, scopes",
            )
        except (ClientError, BotoCoreError) as exc:
            raise KeyStoreUnavailable(f"GetItem on the tenants table failed: {exc}") from exc
        item = response.get("Item")
        if item is None:
            self._cache.pop(key_hash, None)
            return None
        grant = KeyGrant(str(item["tenant_id"]["S"]), parse_scopes(item.get("scopes", {}).get("S")))
        if len(self._cache) >= CACHE_MAX_ENTRIES:
            self._cache.clear()
        self._cache[key_hash] = (grant, now)
        return grant

    def is_admin_token(self, token: str) -> bool:
        # On AWS the admin route is authorised by IAM (SigV4) at API Gateway; there is no admin token.
        return False

    # --- operator calls (`logpipe tenants … --backend aws`), made with the operator's own credentials ---

    def create_tenant(self, tenant_id: str, *, now: Callable[[], float] = time.time) -> str:
        """Create the tenant and return its new (ingest) key (shown once; only its hash is kept)."""
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
                    self._put_key(key_hash, tenant_id, LEGACY_SCOPES, created_at),
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise TenantExists(tenant_id) from exc
            raise
        return api_key

    def create_key(
        self, tenant_id: str, scopes: frozenset[str], *, now: Callable[[], float] = time.time
    ) -> str:
        """One more key of an existing tenant, with these scopes; returns it (only its hash is kept)."""
        if not scopes:
            raise ValueError("a key needs at least one scope")
        api_key = new_api_key()
        key_hash = hash_secret(api_key)
        created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now()))
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": {"pk": {"S": TENANT_PREFIX + tenant_id}},
                            "UpdateExpression": "ADD more_key_hashes :h",
                            # The tenant exists and has room: revoke must fit in one transaction.
                            "ConditionExpression": "attribute_exists(pk) AND"
                            " (attribute_not_exists(more_key_hashes) OR size(more_key_hashes) < :max)",
                            "ExpressionAttributeValues": {
                                ":h": {"SS": [key_hash]},
                                ":max": {"N": str(MAX_KEYS_PER_TENANT - 1)},
                            },
                        }
                    },
                    self._put_key(key_hash, tenant_id, scopes, created_at),
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            found = self._client.get_item(
                TableName=self._table, Key={"pk": {"S": TENANT_PREFIX + tenant_id}}, ConsistentRead=True
            ).get("Item")
            if found is None:
                raise TenantNotFound(tenant_id) from exc
            raise TooManyKeys(f"tenant {tenant_id!r} has {MAX_KEYS_PER_TENANT} keys already") from exc
        return api_key

    def _put_key(
        self, key_hash: str, tenant_id: str, scopes: frozenset[str], created_at: str
    ) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    "pk": {"S": KEY_PREFIX + key_hash},
                    "tenant_id": {"S": tenant_id},
                    "created_at": {"S": created_at},
                    "scopes": {"S": scopes_text(scopes)},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

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
                more = item.get("more_key_hashes", {}).get("SS", [])
                retention = item.get("retention_s", {}).get("N")
                tenants.append(
                    TenantInfo(
                        tenant_id=item["tenant_id"]["S"],
                        created_at=item.get("created_at", {}).get("S", ""),
                        keys=(1 if "key_hash" in item else 0) + len(more),
                        retention_s=None if retention is None else int(retention),
                        purge_started_at=item.get("purge_started_at", {}).get("S"),
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
        # One transaction: the keys stop working as the mark appears.
        writes += (
            {"Delete": {"TableName": self._table, "Key": {"pk": {"S": KEY_PREFIX + h}}}}
            for h in _key_hashes(item)
        )
        self._client.transact_write_items(TransactItems=writes)
        self._cache.clear()
        return started

    def end_purge(self, tenant_id: str) -> None:
        """The purge is done: the tenant item goes too (nothing of the tenant is left)."""
        self._client.delete_item(TableName=self._table, Key={"pk": {"S": TENANT_PREFIX + tenant_id}})

    def revoke_tenant(self, tenant_id: str) -> bool:
        """Delete the tenant and all its keys; False when there was no such tenant."""
        response = self._client.get_item(
            TableName=self._table, Key={"pk": {"S": TENANT_PREFIX + tenant_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return False
        hashes = _key_hashes(item)
        self._client.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": self._table, "Key": {"pk": {"S": TENANT_PREFIX + tenant_id}}}},
                *(
                    {"Delete": {"TableName": self._table, "Key": {"pk": {"S": KEY_PREFIX + h}}}}
                    for h in hashes
                ),
            ]
        )
        self._cache.clear()
        return True
