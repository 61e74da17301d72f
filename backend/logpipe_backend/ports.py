"""What the handlers depend on: the small interfaces the adapters (SQLite, AWS) implement, and the
``*Deps`` each handler takes.

Handlers never import an adapter or the wiring. ``logpipe_backend.wiring`` builds these from the
settings (``logpipe_backend.settings``) and the adapters, once per process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from logpipe_backend.core.auth import KeyGrant
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.query import LogQuery, QueryPage
from logpipe_backend.core.ratelimit import RateLimiter
from logpipe_backend.core.record import Record

if TYPE_CHECKING:
    # Only the worker redacts: the other functions' Lambda zips (and the ingest cold start) stay without it.
    from logpipe_backend.core.redact import Redactor

__all__ = [
    "AUTH_MODES",
    "DEFAULT_MAX_QUEUE_DEPTH",
    "DEFAULT_TIME_MARGIN_MS",
    "STATS_MAX_PAGES",
    "AdminDeps",
    "IdempotencyClaim",
    "IdempotencyStore",
    "IngestDeps",
    "KeyGrant",
    "KeyStore",
    "LogQuery",
    "QueryPage",
    "Queue",
    "QueueUnavailable",
    "Store",
    "TenantReadDeps",
    "WorkerDeps",
    "now_ms",
]

DEFAULT_MAX_QUEUE_DEPTH: Final = 10_000  # messages; LOGPIPE_MAX_QUEUE_DEPTH overrides, 0 disables
DEFAULT_TIME_MARGIN_MS: Final = 3_000  # leave this much of the invocation unused: a store write must finish
# Store pages /stats reads at most per request before it answers "partial": a bounded cost on AWS, where
# each page is at most a few DynamoDB Query calls (adapters/aws/dynamodb.py). AdminDeps may lower it.
STATS_MAX_PAGES: Final = 1000
AUTH_MODES: Final = ("token", "iam")  # how /admin callers are authenticated (handlers.admin)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class QueueUnavailable(Exception):
    """The queue could not take the messages (the handler answers 503)."""


class Queue(Protocol):
    def send(self, bodies: Sequence[str]) -> None:
        """Enqueue every body or raise :class:`QueueUnavailable`. Bodies are SQS-safe JSON text."""
        ...

    def approximate_depth(self) -> int:
        """Messages not yet deleted (waiting or leased); used for backpressure."""
        ...


class Store(Protocol):
    def put_records(self, records: Sequence[Record], docs: Sequence[str | None] | None = None) -> None:
        """Store records; idempotent on (tenant_id, log_id): writing the same record twice keeps one.

        ``docs``, when given, holds each record's JSON text where the caller has one that stands for exactly
        that record (None where not): a store that keeps records as JSON may write it as is instead of
        encoding the record again; a store that does not may ignore it."""
        ...

    def query(self, query: LogQuery) -> QueryPage:
        """Read one tenant's key range, never another tenant's records."""
        ...


class KeyStore(Protocol):
    def grant_for_key(self, api_key: str) -> KeyGrant | None:
        """The tenant whose (hashed) key this is and the key's scopes, or None (unknown or revoked)."""
        ...

    def is_admin_token(self, token: str) -> bool:
        """Whether this is the admin token (local stack; on AWS the admin route uses IAM)."""
        ...


@dataclass(frozen=True)
class IdempotencyClaim:
    first_seen_ms: int  # when the key was first accepted; log_ids take their time part from it
    body_digest: str  # digest of the body first sent under this key


class IdempotencyStore(Protocol):
    def claim(self, tenant_id: str, key: str, body_digest: str, now_ms: int) -> IdempotencyClaim:
        """Record (tenant, key) if new or expired (24 h); return the claim that stands."""
        ...


@dataclass(frozen=True)
class IngestDeps:
    queue: Queue
    keys: KeyStore
    idempotency: IdempotencyStore
    limits: Limits = field(default_factory=Limits)
    max_queue_depth: int = DEFAULT_MAX_QUEUE_DEPTH  # 0: no bound
    clock: Callable[[], int] = now_ms
    # Per-tenant token buckets counting records (core/ratelimit.py); None: no rate limit.
    rate_limiter: RateLimiter | None = None


@dataclass(frozen=True)
class WorkerDeps:
    store: Store
    redactor: Redactor | None = None  # None: the built-in patterns only (handlers.worker's default)
    work_per_char_s: float = 0.0  # the seed's simulated CPU work
    time_margin_ms: int = DEFAULT_TIME_MARGIN_MS
    sleep: Callable[[float], None] = time.sleep
    # Where the unfinished rest of a message goes: the queue the worker reads (wiring: LOGPIPE_QUEUE_URL).
    requeue: Queue | None = None


@dataclass(frozen=True)
class AdminDeps:
    store: Store
    keys: KeyStore | None  # needed for "token"
    auth_mode: str = "token"
    clock: Callable[[], int] = now_ms
    stats_max_pages: int = STATS_MAX_PAGES  # see handlers.reads


@dataclass(frozen=True)
class TenantReadDeps:
    store: Store
    keys: KeyStore
    clock: Callable[[], int] = now_ms
