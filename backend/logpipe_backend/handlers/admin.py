"""``GET /admin/logs``: read one tenant's records, newest first by default (CONTRACT §3), read-only.

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
from dataclasses import dataclass
from typing import Any

from logpipe_backend.core.auth import credential_from_headers
from logpipe_backend.core.errors import ApiError, forbidden, unauthorized
from logpipe_backend.core.http import json_response, query_params
from logpipe_backend.core.query import encode_cursor, parse_admin_query
from logpipe_backend.core.response_size import records_within
from logpipe_backend.handlers._common import Event, Response, guarded, method, now_ms
from logpipe_backend.ports import KeyStore, Store

AUTH_MODES = ("token", "iam")


@dataclass(frozen=True)
class AdminDeps:
    store: Store
    keys: KeyStore | None  # needed for "token"
    auth_mode: str = "token"
    clock: Callable[[], int] = now_ms


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
    if method(event) not in ("GET", "HEAD"):
        raise ApiError(405, "method_not_allowed", "use GET /admin/logs", allow="GET, HEAD")
    _authorize(event, deps)
    query = parse_admin_query(query_params(event), deps.clock())
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


_deps: AdminDeps | None = None


def handler(event: dict[str, Any], context: Any) -> Response:
    """The Lambda entry point; dependencies are built once per process (cold start)."""
    global _deps
    if _deps is None:
        from logpipe_backend.wiring import admin as wiring

        _deps = wiring.deps()
    return handle(event, _deps)
