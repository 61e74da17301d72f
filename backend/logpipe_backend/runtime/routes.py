"""Which handler the local server calls for a path: API Gateway's routes (infra/terraform/api.tf)."""

from __future__ import annotations

import threading
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


def one_at_a_time(handler: LambdaHandler) -> LambdaHandler:
    """``handler`` serving one request at a time in this process, as one Lambda instance does; the others
    wait their turn, in the server's threads.

    For the ingest function, whose requests are CPU work under the GIL from the inflated body to the queued
    message: interleaved, they run no faster, but every one of them has its decoded body, protobuf and
    records alive at once (an 8,192-record OTLP request alone is ~10 MB), which costs cache misses and
    page faults, and each finishes only when all do, so the workers wait for the first messages. One at a
    time, the first is queued as soon as it alone is done (figures: docs/performance.md).
    """
    lock = threading.Lock()

    def serve(event: Event) -> Response:
        with lock:
            return handler(event)

    return serve
