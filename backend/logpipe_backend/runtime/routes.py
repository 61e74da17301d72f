"""Which handler the local server calls for a path: API Gateway's routes (infra/terraform/api.tf)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from logpipe_backend.core.routes import INGEST_ROUTES

Event = dict[str, Any]
Response = dict[str, Any]
LambdaHandler = Callable[[Event], Response]


@dataclass(frozen=True)
class Routes:
    """What the server calls: the handlers (event → response) and the health check.

    ``reads`` names the read endpoints (``handlers.reads.READ_ENDPOINTS``): each is served at
    ``/admin/<name>`` by ``admin`` and at ``/<name>`` by ``tenant_read`` (a tenant's read key).
    """

    ingest: LambdaHandler
    admin: LambdaHandler
    health: Callable[[], dict[str, Any]]
    max_body_bytes: int
    tenant_read: LambdaHandler | None = None
    reads: frozenset[str] = frozenset({"logs"})

    def target(self, path: str) -> LambdaHandler | None:
        """The handler of ``path``, or None (404)."""
        if path in INGEST_ROUTES:  # every door is the ingest function, as on AWS
            return self.ingest
        head, _, name = path.rpartition("/")
        if name not in self.reads:
            return None
        if head == "/admin":
            return self.admin
        return self.tenant_read if head == "" else None
