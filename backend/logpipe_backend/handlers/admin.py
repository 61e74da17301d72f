"""``GET /admin/logs``, ``/admin/stats`` and ``/admin/fields``: read one tenant's records, newest first by
default, count them over time, list their fields (docs/contract.md §3). Read-only.

Authentication depends on where it runs (``LOGPIPE_ADMIN_AUTH``): ``token`` (local) — a bearer admin token;
a tenant key is recognised and refused with 403, anything else is 401. ``iam`` (AWS) — the route has
AWS_IAM authorization, so API Gateway only invokes us for a SigV4-signed request it verified; the handler
still refuses an event that carries no IAM identity.

A page ends early, with a cursor, before its records pass 5 MiB of Lambda's 6 MB response limit
(``core.response_size``), on both stacks. ``skipped_chunks`` is in the answer when the store passed over
stored chunks it could not decode (DynamoDB; logged there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from logpipe_backend.core.auth import credential_from_headers
from logpipe_backend.core.errors import ApiError, forbidden, unauthorized
from logpipe_backend.core.http import json_response, query_values
from logpipe_backend.core.ids import log_id_time_ms
from logpipe_backend.core.query import LogQuery, encode_cursor, parse_admin_query
from logpipe_backend.core.record import Record
from logpipe_backend.core.response_size import records_within
from logpipe_backend.core.stats import StatsFold, StatsRequest, fields_result, parse_fields, parse_stats
from logpipe_backend.core.timefmt import format_ts
from logpipe_backend.handlers._common import Event, Response, guarded, method, now_ms
from logpipe_backend.ports import KeyStore, Store

AUTH_MODES = ("token", "iam")
STATS_MAX_PAGES = 1000
FIELDS_MAX_PAGES = 20
PATHS = ("/admin/logs", "/admin/stats", "/admin/fields")


@dataclass(frozen=True)
class AdminDeps:
    store: Store
    keys: KeyStore | None  # needed for "token"
    auth_mode: str = "token"
    clock: Callable[[], int] = now_ms
    # Store pages /admin/stats reads at most per request before it answers "partial": a bounded cost on
    # AWS, where each page is at most a few DynamoDB Query calls (adapters/aws/dynamodb.py).
    stats_max_pages: int = STATS_MAX_PAGES


def handle(event: Event, deps: AdminDeps) -> Response:
    return guarded("admin", lambda: _admin(event, deps))


def _authorize(event: Event, deps: AdminDeps) -> None:
    if deps.auth_mode == "iam":
        authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
        if not authorizer.get("iam"):
            raise unauthorized("an IAM-signed (SigV4) request is required")
        return
    credential = credential_from_headers(event.get("headers") or {})
    if credential is None or deps.keys is None:
        raise unauthorized()
    if deps.keys.is_admin_token(credential):
        return
    if deps.keys.tenant_for_key(credential) is not None:
        raise forbidden("forbidden", "a tenant key cannot read logs; use the admin token")
    raise unauthorized()


def _admin(event: Event, deps: AdminDeps) -> Response:
    path = str(event.get("rawPath") or "/admin/logs")
    if method(event) not in ("GET", "HEAD"):
        raise ApiError(405, "method_not_allowed", f"use GET {path}", allow="GET, HEAD")
    _authorize(event, deps)
    params = query_values(event)
    if path == "/admin/stats":
        return json_response(200, _stats(deps, parse_stats(params, deps.clock())))
    if path == "/admin/fields":
        query = parse_fields(params, deps.clock())
        return json_response(200, fields_result(_sample(deps.store, query)))
    query = parse_admin_query(params, deps.clock())
    page = deps.store.query(query)
    items, last_log_id = page.items, page.last_log_id
    fitting = records_within(items)
    if fitting < len(items):  # past Lambda's response limit: the rest comes with the next page
        items, last_log_id = items[:fitting], items[fitting - 1]["log_id"]
    cursor = encode_cursor(query, last_log_id) if last_log_id else None
    body: dict[str, Any] = {"items": items, "next_cursor": cursor}
    if page.skipped_chunks:
        body["skipped_chunks"] = page.skipped_chunks
    return json_response(200, body)


def _sample(store: Store, query: LogQuery) -> list[Record]:
    """The newest ``query.limit`` matching records, following at most FIELDS_MAX_PAGES pages."""
    records: list[Record] = []
    for _ in range(FIELDS_MAX_PAGES):
        page = store.query(replace(query, limit=query.limit - len(records)))
        records += page.items
        if page.last_log_id is None or len(records) >= query.limit:
            break
        query = replace(query, start_after=page.last_log_id)
    return records


def _stats(deps: AdminDeps, request: StatsRequest) -> dict[str, Any]:
    fold = StatsFold(request)
    query = request.query
    for _ in range(deps.stats_max_pages):
        page = deps.store.query(query)
        for record in page.items:
            fold.add(record)
        if page.last_log_id is None:
            return fold.result(complete_from=None)
        query = replace(query, start_after=page.last_log_id)
    # Newest first: every matching record received from the last key read on is counted.
    assert query.start_after is not None
    return fold.result(complete_from=format_ts(log_id_time_ms(query.start_after)))


_deps: AdminDeps | None = None


def handler(event: dict[str, Any], context: Any) -> Response:
    """The Lambda entry point; dependencies are built once per process (cold start)."""
    global _deps
    if _deps is None:
        from logpipe_backend.wiring import admin as wiring

        _deps = wiring.deps()
    return handle(event, _deps)
