"""For the door tests: payload 2.0 events for any path, and a handler environment on in-memory ports."""

from __future__ import annotations

import base64
from typing import Any

from handler_fakes import MemoryIdempotency, MemoryKeys, MemoryQueue
from logpipe_backend.core.envelope import unpack
from logpipe_backend.core.limits import Limits
from logpipe_backend.handlers import doors
from logpipe_backend.ports import IngestDeps

NOW = 1_764_128_700_000


def door_event(
    path: str, body: bytes | str = b"", headers: dict[str, str] | None = None, method: str = "POST"
) -> dict[str, Any]:
    """An API Gateway 2.0 event as API Gateway builds it: a binary body base64-encoded."""
    data = body.encode() if isinstance(body, str) else body
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "requestContext": {"http": {"method": method, "path": path}, "requestId": "req-1"},
        "body": base64.b64encode(data).decode(),
        "isBase64Encoded": True,
    }


class DoorEnv:
    def __init__(self, limits: Limits | None = None, max_depth: int = 10_000) -> None:
        self.queue = MemoryQueue()
        self.deps = IngestDeps(
            queue=self.queue,
            keys=MemoryKeys(),
            idempotency=MemoryIdempotency(),
            limits=limits or Limits(),
            max_queue_depth=max_depth,
            clock=lambda: NOW,
        )

    def call(self, event: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        response = doors.handle(event, self.deps)
        raw = response.get("body") or ""
        body = base64.b64decode(raw) if response.get("isBase64Encoded") else str(raw).encode()
        return response["statusCode"], response["headers"], body

    def records(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for body in self.queue.bodies:
            out.extend(dict(r) for r in unpack(body)[1])
        return out
