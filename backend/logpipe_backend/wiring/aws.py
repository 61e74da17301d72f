"""Build the AWS adapters from the settings; the functions' wiring (``wiring.ingest`` ...) calls this when
``LOGPIPE_QUEUE_URL`` is set. The variables are read by ``logpipe_backend.settings``.

boto3 clients are made once per process (one Lambda container serves many invocations, and making a client
costs tens of milliseconds) and can be injected with :func:`set_client` (tests) or passed to each builder.
``AWS_ENDPOINT_URL`` (and boto3's per-service ``AWS_ENDPOINT_URL_SQS`` / ``AWS_ENDPOINT_URL_DYNAMODB``) is
honoured, so the same code runs against LocalStack or moto's server.

Settings used here (Terraform sets each one the function needs, see infra/terraform/lambda.tf):

| variable | used by | meaning |
| --- | --- | --- |
| ``LOGPIPE_QUEUE_URL`` | ingest | the SQS queue |
| ``LOGPIPE_TABLE_NAME`` | worker, admin | the logs table |
| ``LOGPIPE_TENANTS_TABLE_NAME`` | ingest, worker | hashed API keys; each tenant's own retention |
| ``LOGPIPE_IDEMPOTENCY_TABLE_NAME`` | ingest | Idempotency-Key claims |
| ``LOGPIPE_LOG_RETENTION_DAYS`` | worker | TTL of stored records in days (default 30; 0 keeps them forever) |
|  |  | for tenants without their own retention (``tenants set-retention``) |
| ``LOGPIPE_STRICT_ISOLATION`` | worker, admin | ``1``: records are read/written with per-tenant credentials |
| ``LOGPIPE_TENANT_ACCESS_ROLE_ARN`` | worker, admin | the role assumed per tenant (strict isolation only) |

Strict isolation (``adapters/aws/isolation.py``): the store's DynamoDB client is not the function's own but
one per tenant, made from ``sts:AssumeRole`` credentials whose session policy allows only that tenant's
partition key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, Final

from logpipe_backend.adapters.aws.dynamodb import DynamoStore
from logpipe_backend.adapters.aws.idempotency import DynamoIdempotencyStore
from logpipe_backend.adapters.aws.isolation import (
    ACTIONS_BY_PURPOSE,
    TenantCredentials,
    TenantScopedStore,
    TenantSessions,
    table_arn_for,
)
from logpipe_backend.adapters.aws.retention import TenantRetention
from logpipe_backend.adapters.aws.sqs import SqsQueue
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.settings import (
    ENV_IDEMPOTENCY_TABLE_NAME,
    ENV_QUEUE_URL,
    ENV_RETENTION_DAYS,
    ENV_STRICT_ISOLATION,
    ENV_TABLE_NAME,
    ENV_TENANT_ACCESS_ROLE_ARN,
    ENV_TENANTS_TABLE_NAME,
    ConfigError,
    env_or_os,
    required,
    retention_days,
    strict_isolation,
)

__all__ = [
    "ENV_IDEMPOTENCY_TABLE_NAME",
    "ENV_QUEUE_URL",
    "ENV_RETENTION_DAYS",
    "ENV_STRICT_ISOLATION",
    "ENV_TABLE_NAME",
    "ENV_TENANTS_TABLE_NAME",
    "ENV_TENANT_ACCESS_ROLE_ARN",
    "ConfigError",
    "client",
    "idempotency_store_from_env",
    "key_store_from_env",
    "queue_from_env",
    "reset_clients",
    "set_client",
    "set_tenant_client_factory",
    "store_from_env",
    "strict_isolation",
]


# Ingest answers through API Gateway (30 s integration limit) and the client retries on 503: fail fast
# rather than let botocore's defaults (60 s read timeout) hold the request.
CONNECT_TIMEOUT_SECONDS: Final = 2
READ_TIMEOUT_SECONDS: Final = 10
MAX_ATTEMPTS: Final = 3

_clients: dict[str, Any] = {}
_lock = threading.Lock()


def _make_client(service: str, credentials: TenantCredentials | None = None) -> Any:
    # Imported here so that importing this module (e.g. for its constants) does not load boto3.
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
    )
    # boto3 reads AWS_ENDPOINT_URL itself too; passing it keeps the behaviour explicit and version-proof.
    endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}") or os.environ.get("AWS_ENDPOINT_URL")
    if credentials is None:
        return boto3.client(service, endpoint_url=endpoint or None, config=config)
    return boto3.client(
        service,
        endpoint_url=endpoint or None,
        config=config,
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )


def _default_tenant_client(credentials: TenantCredentials) -> Any:
    return _make_client("dynamodb", credentials)


_tenant_client_factory: Callable[[TenantCredentials], Any] = _default_tenant_client


def client(service: str) -> Any:
    """The process's client for ``service`` ("sqs" or "dynamodb"), made on first use."""
    with _lock:
        made = _clients.get(service)
        if made is None:
            made = _clients[service] = _make_client(service)
        return made


def set_client(service: str, made: Any) -> None:
    """Inject a client (a moto-backed or Stubber-wrapped one in tests)."""
    with _lock:
        _clients[service] = made


def set_tenant_client_factory(factory: Callable[[TenantCredentials], Any]) -> None:
    """Inject how strict isolation turns a tenant's credentials into a DynamoDB client (tests spy on it)."""
    global _tenant_client_factory
    with _lock:
        _tenant_client_factory = factory


def reset_clients() -> None:
    global _tenant_client_factory
    with _lock:
        _clients.clear()
        _tenant_client_factory = _default_tenant_client


def queue_from_env(env: Mapping[str, str] | None = None, *, sqs: Any = None) -> SqsQueue:
    e = env_or_os(env)
    return SqsQueue(sqs if sqs is not None else client("sqs"), required(e, ENV_QUEUE_URL))


def store_from_env(
    env: Mapping[str, str] | None = None,
    *,
    dynamodb: Any = None,
    sts: Any = None,
    purpose: str = "readwrite",
) -> DynamoStore | TenantScopedStore:
    """The logs store. ``purpose`` ("write" for the worker, "read" for admin) picks the actions a
    strict-isolation session may use; without strict isolation it changes nothing."""
    e = env_or_os(env)
    days = retention_days(e)
    table = required(e, ENV_TABLE_NAME)
    base = dynamodb if dynamodb is not None else client("dynamodb")
    # Read with the function's own client, also under strict isolation: the tenants table is not a tenant's.
    tenants_table = e.get(ENV_TENANTS_TABLE_NAME, "").strip()
    own = TenantRetention(base, tenants_table) if tenants_table else None
    if not strict_isolation(e):
        return DynamoStore(base, table, retention_days=days, retention_seconds_for=own)
    if purpose not in ACTIONS_BY_PURPOSE:
        raise ConfigError(f"unknown store purpose {purpose!r}")
    role_arn = required(e, ENV_TENANT_ACCESS_ROLE_ARN)
    try:
        table_arn = table_arn_for(role_arn, str(base.meta.region_name), table)
    except ValueError as exc:
        raise ConfigError(f"{ENV_TENANT_ACCESS_ROLE_ARN}: {exc}") from exc
    sessions = TenantSessions(
        sts if sts is not None else client("sts"),
        role_arn,
        table_arn,
        _tenant_client_factory,
        actions=ACTIONS_BY_PURPOSE[purpose],
    )
    return TenantScopedStore(
        sessions, lambda c: DynamoStore(c, table, retention_days=days, retention_seconds_for=own)
    )


def key_store_from_env(env: Mapping[str, str] | None = None, *, dynamodb: Any = None) -> DynamoKeyStore:
    e = env_or_os(env)
    return DynamoKeyStore(
        dynamodb if dynamodb is not None else client("dynamodb"), required(e, ENV_TENANTS_TABLE_NAME)
    )


def idempotency_store_from_env(
    env: Mapping[str, str] | None = None, *, dynamodb: Any = None
) -> DynamoIdempotencyStore:
    e = env_or_os(env)
    return DynamoIdempotencyStore(
        dynamodb if dynamodb is not None else client("dynamodb"), required(e, ENV_IDEMPOTENCY_TABLE_NAME)
    )
