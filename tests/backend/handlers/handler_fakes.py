"""For handler tests: recorded events from tests/events/ and in-memory ports (fakes of ports.py)."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from logpipe_backend.core.auth import LEGACY_SCOPES, SCOPE_READ, KeyGrant
from logpipe_backend.core.query import LogQuery, QueryPage
from logpipe_backend.core.record import Record
from logpipe_backend.ports import IdempotencyClaim, QueueUnavailable

EVENTS = Path(__file__).resolve().parents[2] / "events"
ACME_KEY = "lp_acme_test_key_0000000000000000000000000000000"
BETA_KEY = "lp_beta_test_key_0000000000000000000000000000000"
ACME_READ_KEY = "lp_acme_read_key_000000000000000000000000000000"
ADMIN_TOKEN = "lpadm_test_admin_token_00000000000000000000000000000"


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / name).read_text(encoding="utf-8")))


class MemoryQueue:
    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.unavailable = False
        self.depth_override: int | None = None

    def send(self, bodies: Sequence[str]) -> None:
        if self.unavailable:
            raise QueueUnavailable("down")
        self.bodies.extend(bodies)

    def approximate_depth(self) -> int:
        return len(self.bodies) if self.depth_override is None else self.depth_override


class MemoryKeys:
    def __init__(self) -> None:
        self.keys = {ACME_KEY: "acme", BETA_KEY: "beta", ACME_READ_KEY: "acme"}
        self.scopes = {ACME_READ_KEY: frozenset({SCOPE_READ})}

    def grant_for_key(self, api_key: str) -> KeyGrant | None:
        tenant = self.keys.get(api_key)
        return None if tenant is None else KeyGrant(tenant, self.scopes.get(api_key, LEGACY_SCOPES))

    def is_admin_token(self, token: str) -> bool:
        return token == ADMIN_TOKEN


class MemoryIdempotency:
    def __init__(self) -> None:
        self.claims: dict[tuple[str, str], IdempotencyClaim] = {}

    def claim(self, tenant_id: str, key: str, body_digest: str, now_ms: int) -> IdempotencyClaim:
        return self.claims.setdefault((tenant_id, key), IdempotencyClaim(now_ms, body_digest))


class MemoryStore:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], Record] = {}
        self.fail_with: Exception | None = None
        self.queries: list[LogQuery] = []

    def put_records(self, records: Sequence[Record], docs: Sequence[str | None] | None = None) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        for r in records:
            self.records[(r["tenant_id"], r["log_id"])] = r

    def query(self, query: LogQuery) -> QueryPage:
        self.queries.append(query)
        desc = query.order == "desc"
        items = sorted(
            (r for (t, _), r in self.records.items() if t == query.tenant_id),
            key=lambda r: r["log_id"],
            reverse=desc,
        )
        if query.after is not None:
            items = [r for r in items if r["log_id"] > query.after]
        if query.start_after is not None:
            start = query.start_after
            items = [r for r in items if (r["log_id"] < start if desc else r["log_id"] > start)]
        page = items[: query.limit]
        more = len(items) > query.limit
        return QueryPage(items=page, last_log_id=page[-1]["log_id"] if more else None)
