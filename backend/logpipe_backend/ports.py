"""The three small interfaces the handlers depend on; adapters (local SQLite, AWS) implement them.

Handlers never import an adapter. ``logpipe_backend.wiring`` picks the adapters from the environment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from logpipe_backend.core.auth import KeyGrant
from logpipe_backend.core.query import LogQuery, QueryPage
from logpipe_backend.core.record import Record

__all__ = [
    "IdempotencyClaim",
    "IdempotencyStore",
    "KeyGrant",
    "KeyStore",
    "LogQuery",
    "QueryPage",
    "Queue",
    "QueueUnavailable",
    "Store",
]


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
