"""``ports.IdempotencyStore`` on its own DynamoDB table (hash key ``pk``, a string; TTL on ``expires_at``).

Why its own table and not a key prefix in the tenants table: ingest must *write* idempotency claims but only
*read* tenant keys. With one table, an ingest role allowed to ``PutItem`` could also create API keys; with
two, IAM says exactly that (``GetItem`` on tenants, ``GetItem``/``PutItem`` on idempotency).

Item: ``pk`` = ``<tenant_id>#<sha256 hex of the Idempotency-Key>`` (the key is client text: hashing keeps
the item key short and free of surprises), ``first_seen_ms`` (N), ``body_digest`` (S), ``expires_at`` (N,
epoch seconds, 24 h after the first claim).

A claim is one conditional ``PutItem``: it succeeds when no claim exists or the standing one is older than
24 h (DynamoDB's TTL deletes expired items only eventually, so expiry is checked in the condition, not left
to TTL). When the condition fails, ``ReturnValuesOnConditionCheckFailure=ALL_OLD`` hands back the standing
claim in the same call, so two concurrent retries agree on one ``first_seen_ms`` without a second read.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from logpipe_backend.core.errors import ApiError
from logpipe_backend.ports import IdempotencyClaim

IDEMPOTENCY_WINDOW_MS: Final = 24 * 60 * 60 * 1000


class IdempotencyUnavailable(ApiError):
    """The idempotency table could not be used: 503, so the client retries with the same key."""

    def __init__(self, message: str) -> None:
        super().__init__(503, "idempotency_store_unavailable", message, retry_after=1)


def item_key(tenant_id: str, key: str) -> str:
    return f"{tenant_id}#{hashlib.sha256(key.encode('utf-8')).hexdigest()}"


class DynamoIdempotencyStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @property
    def table_name(self) -> str:
        return self._table

    def claim(self, tenant_id: str, key: str, body_digest: str, now_ms: int) -> IdempotencyClaim:
        pk = item_key(tenant_id, key)
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": pk},
                    "first_seen_ms": {"N": str(now_ms)},
                    "body_digest": {"S": body_digest},
                    "expires_at": {"N": str((now_ms + IDEMPOTENCY_WINDOW_MS) // 1000 + 1)},
                },
                ConditionExpression="attribute_not_exists(pk) OR first_seen_ms <= :cutoff",
                ExpressionAttributeValues={":cutoff": {"N": str(now_ms - IDEMPOTENCY_WINDOW_MS)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") != "ConditionalCheckFailedException":
                raise IdempotencyUnavailable(f"PutItem on the idempotency table failed: {exc}") from exc
            standing = exc.response.get("Item") or self._read(pk)
            return IdempotencyClaim(
                first_seen_ms=int(standing["first_seen_ms"]["N"]),
                body_digest=str(standing["body_digest"]["S"]),
            )
        except BotoCoreError as exc:
            raise IdempotencyUnavailable(f"PutItem on the idempotency table failed: {exc}") from exc
        return IdempotencyClaim(first_seen_ms=now_ms, body_digest=body_digest)

    def _read(self, pk: str) -> dict[str, Any]:
        """The standing claim, for an endpoint that does not return ALL_OLD on a failed condition."""
        try:
            response = self._client.get_item(
                TableName=self._table, Key={"pk": {"S": pk}}, ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as exc:
            raise IdempotencyUnavailable(f"GetItem on the idempotency table failed: {exc}") from exc
        item = response.get("Item")
        if item is None:
            # Deleted between our PutItem and this read (TTL): rare; the client's retry claims it afresh.
            raise IdempotencyUnavailable("the idempotency claim vanished while being read")
        return dict(item)
