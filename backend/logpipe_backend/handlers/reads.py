"""The read endpoints, written once: ``GET /admin/<name>`` (operator), ``GET /<name>`` (a tenant's read key).

Each endpoint takes the query parameters with ``tenant`` already decided by the caller's authentication —
the admin handler passes the operator's ``tenant`` as given, the tenant read handler forces the key's own —
so a tenant's ``/logs`` is the admin's ``/admin/logs`` with the tenant fixed, not a copy of it, and the
cursor check of ``core.query`` binds a tenant's cursors to that tenant on both paths.

``logs`` ends a page early, with a cursor, before its records pass 5 MiB of Lambda's 6 MB response limit
(``core.response_size``), on both stacks; ``skipped_chunks`` is in its answer when the store passed over
stored chunks it could not decode (DynamoDB; logged there). ``stats`` and ``fields`` read through the same
store pages, with a bounded number of them per request (docs/contract.md §3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.http import json_response
from logpipe_backend.core.ids import log_id_time_ms
from logpipe_backend.core.query import LogQuery, encode_cursor, parse_admin_query
from logpipe_backend.core.record import Record
from logpipe_backend.core.response_size import records_within
from logpipe_backend.core.stats import StatsFold, fields_result, parse_fields, parse_stats
from logpipe_backend.core.timefmt import format_ts
from logpipe_backend.handlers._common import Event, Response
from logpipe_backend.ports import STATS_MAX_PAGES, Store

# Store pages /fields samples at most (ports.STATS_MAX_PAGES: /stats's bound).
FIELDS_MAX_PAGES: Final = 20

Params = Mapping[str, Sequence[str]]  # every value of every query parameter (core.http.query_values)


@dataclass(frozen=True)
class ReadContext:
    """What an endpoint may use: the store, read through the tenant in its parameters only."""

    store: Store
    now_ms: int
    stats_max_pages: int = STATS_MAX_PAGES


ReadEndpoint = Callable[[Params, ReadContext], Response]


def logs(params: Params, ctx: ReadContext) -> Response:
    """One page of records (docs/contract.md §3 ``GET /admin/logs``)."""
    query = parse_admin_query(params, ctx.now_ms)
    page = ctx.store.query(query)
    items, last_log_id = page.items, page.last_log_id
    fitting = records_within(items)
    if fitting < len(items):  # past Lambda's response limit: the rest comes with the next page
        items, last_log_id = items[:fitting], items[fitting - 1]["log_id"]
    cursor = encode_cursor(query, last_log_id) if last_log_id else None
    body: dict[str, Any] = {"items": items, "next_cursor": cursor}
    if page.skipped_chunks:
        body["skipped_chunks"] = page.skipped_chunks
    return json_response(200, body)


def stats(params: Params, ctx: ReadContext) -> Response:
    """Counts per time bucket (docs/contract.md §3 ``GET /admin/stats``)."""
    request = parse_stats(params, ctx.now_ms)
    fold = StatsFold(request)
    query = request.query
    for _ in range(ctx.stats_max_pages):
        page = ctx.store.query(query)
        for record in page.items:
            fold.add(record)
        if page.last_log_id is None:
            return json_response(200, fold.result(complete_from=None))
        query = replace(query, start_after=page.last_log_id)
    # Newest first: every matching record received from the last key read on is counted.
    assert query.start_after is not None
    return json_response(200, fold.result(complete_from=format_ts(log_id_time_ms(query.start_after))))


def fields(params: Params, ctx: ReadContext) -> Response:
    """The attribute keys of the newest matching records (docs/contract.md §3 ``GET /admin/fields``)."""
    return json_response(200, fields_result(_sample(ctx.store, parse_fields(params, ctx.now_ms))))


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


READ_ENDPOINTS: Final[Mapping[str, ReadEndpoint]] = {"logs": logs, "stats": stats, "fields": fields}


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
