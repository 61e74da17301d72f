"""The ingest function's doors: one handler per protocol, picked by path (core/routes.py).

Each door only translates its protocol into raw records and its answers into the protocol's shape; the
authentication, limits, rate limits, normalization, idempotency and queue are POST /ingest's
(handlers/ingest.py: :func:`authenticate`, :func:`accept`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.http import error_response
from logpipe_backend.core.routes import HEC, INGEST, LOKI, OTLP, door_of
from logpipe_backend.handlers import hec, ingest, loki, otlp
from logpipe_backend.handlers._common import Event, Response, path_of
from logpipe_backend.ports import IngestDeps

_DOORS: Final[dict[str, Callable[[Event, IngestDeps], Response]]] = {
    INGEST: ingest.handle,
    OTLP: otlp.handle,
    LOKI: loki.handle,
    HEC: hec.handle,
}


def handle(event: Event, deps: IngestDeps) -> Response:
    path = path_of(event)
    door = door_of(path)
    if door is None:
        return error_response(ApiError(404, "not_found", f"no route for {path}"))
    return _DOORS[door](event, deps)
