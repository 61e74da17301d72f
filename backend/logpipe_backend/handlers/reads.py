"""The read endpoints, written once: ``GET /admin/<name>`` (operator), ``GET /<name>`` (a tenant's read key).

Each endpoint takes the query parameters with ``tenant`` already decided by the caller's authentication —
the admin handler passes the operator's ``tenant`` as given, the tenant read handler forces the key's own —
so a tenant's ``/logs`` is the admin's ``/admin/logs`` with the tenant fixed, not a copy of it, and the
cursor check of ``core.query`` binds a tenant's cursors to that tenant on both paths.

A new read (``stats``, ``fields``) is one entry in ``READ_ENDPOINTS`` plus its API Gateway routes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.http import json_response
from logpipe_backend.core.query import encode_cursor, parse_admin_query
from logpipe_backend.handlers._common import Event, Response
from logpipe_backend.ports import Store


@dataclass(frozen=True)
class ReadContext:
    """What an endpoint may use: the store, read through the tenant in its parameters only."""

    store: Store
    now_ms: int


ReadEndpoint = Callable[[Mapping[str, str], ReadContext], Response]


def logs(params: Mapping[str, str], ctx: ReadContext) -> Response:
    """One page of records (CONTRACT §3 ``GET /admin/logs``)."""
    query = parse_admin_query(params, ctx.now_ms)
    page = ctx.store.query(query)
    cursor = encode_cursor(query, page.last_log_id) if page.last_log_id else None
    body: dict[str, Any] = {"items": page.items, "next_cursor": cursor}
    return json_response(200, body)


READ_ENDPOINTS: Mapping[str, ReadEndpoint] = {"logs": logs}


def endpoint_for(event: Event) -> ReadEndpoint:
    """The endpoint named by the request path's last segment (``/admin/logs`` and ``/logs`` → ``logs``).

    The last segment, not the whole path: behind an API Gateway stage other than ``$default`` the path
    starts with the stage's name.
    """
    http = (event.get("requestContext") or {}).get("http") or {}
    path = str(http.get("path") or event.get("rawPath") or "")
    name = path.rstrip("/").rsplit("/", 1)[-1]
    endpoint = READ_ENDPOINTS.get(name)
    if endpoint is None:
        raise ApiError(404, "not_found", f"no route for {path or '/'}")
    return endpoint
