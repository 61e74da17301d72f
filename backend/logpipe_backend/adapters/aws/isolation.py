"""Strict tenant isolation on DynamoDB: each tenant's records read and written with credentials that IAM
limits to that tenant's partition.

Off by default. With ``LOGPIPE_STRICT_ISOLATION=1`` (Terraform: ``strict_isolation = true``) the worker and
admin roles lose their own access to the logs table; all they may do is ``sts:AssumeRole`` (and
``sts:TagSession``) on the *tenant-access* role (``LOGPIPE_TENANT_ACCESS_ROLE_ARN``), whose trust policy
names only those two roles. For every tenant they touch they assume it with:

- a **session policy** allowing only the calls this function makes (``dynamodb:BatchWriteItem`` for the
  worker, ``dynamodb:Query`` for admin) on the logs table, under the condition
  ``ForAllValues:StringEquals {"dynamodb:LeadingKeys": [tenant_id]}``. A session's permissions are the
  intersection of the role's policy and the session policy, so these credentials cannot touch another
  tenant's partition key, whatever the code that holds them does;
- a **session tag** ``tenant_id=<tenant>``: the tenant-access role's own policy carries the same condition
  with ``${aws:PrincipalTag/tenant_id}``, so a session assumed without the session policy is still limited
  to the tenant it was tagged with, and one assumed without the tag can do nothing.

What this protects against: a bug in our code (a record of tenant B written or read while handling tenant
A's message or query) is refused by DynamoDB instead of crossing tenants. What it does not: the worker and
admin roles may still assume the role for *any* tenant (they serve them all), so code running as those
roles and written to attack can reach every tenant. That boundary is the roles themselves.

Credentials are cached per tenant until ``REFRESH_MARGIN_SECONDS`` before they expire, so a warm Lambda
calls STS once per tenant per ``SESSION_SECONDS - REFRESH_MARGIN_SECONDS``; the cache is bounded.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from logpipe_backend.adapters.aws.chunks import by_tenant
from logpipe_backend.adapters.aws.dynamodb import StoreError
from logpipe_backend.core.auth import valid_tenant_id
from logpipe_backend.core.record import Record
from logpipe_backend.ports import LogQuery, QueryPage

SESSION_SECONDS: Final = 900  # STS's minimum: a leaked session is useful for as short a time as possible
REFRESH_MARGIN_SECONDS: Final = 120  # renew this long before expiry: a write never starts on dying keys
MAX_CACHED_TENANTS: Final = 512  # bounded memory; the least recently used tenant's session is dropped
TENANT_TAG: Final = "tenant_id"  # the session tag the tenant-access role's policy reads

WRITE_ACTIONS: Final = ("dynamodb:BatchWriteItem",)
READ_ACTIONS: Final = ("dynamodb:Query",)
ACTIONS_BY_PURPOSE: Final = {
    "write": WRITE_ACTIONS,
    "read": READ_ACTIONS,
    "readwrite": WRITE_ACTIONS + READ_ACTIONS,
}


def session_policy(table_arn: str, tenant_id: str, actions: Sequence[str]) -> str:
    """The session policy for one tenant: ``actions`` on ``table_arn``, that tenant's partition only.

    ``ForAllValues`` over ``dynamodb:LeadingKeys``: every partition key the request names must be the
    tenant's (a ``BatchWriteItem`` names one per item). Only actions that always name their keys are
    allowed (no Scan), so the "all of an empty set" case of ``ForAllValues`` cannot arise.
    """
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OneTenantPartition",
                "Effect": "Allow",
                "Action": list(actions),
                "Resource": table_arn,
                "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [tenant_id]}},
            }
        ],
    }
    return json.dumps(policy, separators=(",", ":"), sort_keys=True)


def table_arn_for(role_arn: str, region: str, table_name: str) -> str:
    """The logs table's ARN, in the tenant-access role's partition and account (one stack, one account)."""
    parts = role_arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[4]:
        raise ValueError(f"not an IAM role ARN: {role_arn!r}")
    partition, account = parts[1], parts[4]
    return f"arn:{partition}:dynamodb:{region}:{account}:table/{table_name}"


@dataclass(frozen=True)
class TenantCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str
    expires_at: float  # epoch seconds


ClientFactory = Callable[[TenantCredentials], Any]


class TenantSessions:
    """Per-tenant DynamoDB clients made from ``sts:AssumeRole`` credentials scoped to the tenant."""

    def __init__(
        self,
        sts: Any,
        role_arn: str,
        table_arn: str,
        make_client: ClientFactory,
        *,
        actions: Sequence[str] = WRITE_ACTIONS + READ_ACTIONS,
        clock: Callable[[], float] = time.time,
        session_seconds: int = SESSION_SECONDS,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        max_cached: int = MAX_CACHED_TENANTS,
    ) -> None:
        self._sts = sts
        self._role_arn = role_arn
        self._table_arn = table_arn
        self._make_client = make_client
        self._actions = tuple(actions)
        self._clock = clock
        self._session_seconds = session_seconds
        self._margin = refresh_margin_seconds
        self._max_cached = max_cached
        self._cache: OrderedDict[str, tuple[TenantCredentials, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def actions(self) -> tuple[str, ...]:
        return self._actions

    def policy_for(self, tenant_id: str) -> str:
        return session_policy(self._table_arn, tenant_id, self._actions)

    def client_for(self, tenant_id: str) -> Any:
        """A DynamoDB client whose every call is limited by IAM to ``tenant_id``'s partition."""
        if not valid_tenant_id(tenant_id):
            # Never ask STS for a session named after arbitrary text (it also names the CloudTrail session).
            raise StoreError(f"refusing a session for an invalid tenant id {tenant_id!r}")
        with self._lock:
            cached = self._cache.get(tenant_id)
            if cached is not None and cached[0].expires_at - self._margin > self._clock():
                self._cache.move_to_end(tenant_id)
                return cached[1]
            credentials = self._assume(tenant_id)
            made = self._make_client(credentials)
            self._cache[tenant_id] = (credentials, made)
            self._cache.move_to_end(tenant_id)
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
            return made

    def _assume(self, tenant_id: str) -> TenantCredentials:
        try:
            response = self._sts.assume_role(
                RoleArn=self._role_arn,
                # Tenant ids are 2-63 of [a-z0-9_-]: a valid session name, and CloudTrail shows the tenant.
                RoleSessionName=tenant_id,
                DurationSeconds=self._session_seconds,
                Policy=self.policy_for(tenant_id),
                Tags=[{"Key": TENANT_TAG, "Value": tenant_id}],
            )
        except (ClientError, BotoCoreError) as exc:
            raise StoreError(f"AssumeRole for tenant {tenant_id} failed: {exc}") from exc
        raw = response["Credentials"]
        expiration = raw["Expiration"]
        if not isinstance(expiration, datetime):  # botocore parses it; a raw string only from a stub
            expiration = datetime.fromisoformat(str(expiration).replace("Z", "+00:00"))
        expires_at = expiration.timestamp()
        return TenantCredentials(
            access_key_id=raw["AccessKeyId"],
            secret_access_key=raw["SecretAccessKey"],
            session_token=raw["SessionToken"],
            expires_at=expires_at,
        )


StoreFactory = Callable[[Any], Any]  # a DynamoDB client -> a ports.Store on it (a DynamoStore)


class TenantScopedStore:
    """``ports.Store`` whose every DynamoDB call uses the credentials of the tenant it concerns."""

    def __init__(self, sessions: TenantSessions, store_for_client: StoreFactory) -> None:
        self._sessions = sessions
        self._store_for_client = store_for_client

    @property
    def sessions(self) -> TenantSessions:
        return self._sessions

    def put_records(self, records: Sequence[Record], docs: Sequence[str | None] | None = None) -> None:
        # A worker message is one tenant's, so this is normally one group; order is kept within each, and
        # each record keeps its JSON text (the store writes it instead of encoding the record again).
        for tenant_id, (group, group_texts) in by_tenant(records, docs).items():
            self._store_for_client(self._sessions.client_for(tenant_id)).put_records(group, group_texts)

    def query(self, query: LogQuery) -> QueryPage:
        page: QueryPage = self._store_for_client(self._sessions.client_for(query.tenant_id)).query(query)
        return page
