"""``GET /admin/logs``, ``/admin/stats``, ``/admin/fields`` (``handlers.reads``): any tenant's records
(docs/contract.md §3).

Authentication depends on where it runs (``LOGPIPE_ADMIN_AUTH``): ``token`` (local) — a bearer admin token;
a tenant key is recognised and refused with 403, anything else is 401. ``iam`` (AWS) — the route has
AWS_IAM authorization, so API Gateway only invokes us for a SigV4-signed request it verified; the handler
still refuses an event that carries no IAM identity.
"""

from __future__ import annotations

from logpipe_backend.core.auth import credential_from_headers
from logpipe_backend.core.errors import ApiError, forbidden, unauthorized
from logpipe_backend.core.http import query_values
from logpipe_backend.handlers._common import Event, Response, guarded, method
from logpipe_backend.handlers.reads import READ_ENDPOINTS, ReadContext, endpoint_for
from logpipe_backend.ports import AdminDeps

PATHS = tuple(f"/admin/{name}" for name in READ_ENDPOINTS)


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
    if deps.keys.grant_for_key(credential) is not None:
        raise forbidden("forbidden", "a tenant key cannot use /admin; a read key reads at GET /logs")
    raise unauthorized()


def _admin(event: Event, deps: AdminDeps) -> Response:
    if method(event) not in ("GET", "HEAD"):
        raise ApiError(405, "method_not_allowed", "use GET", allow="GET, HEAD")
    _authorize(event, deps)
    endpoint = endpoint_for(event)
    return endpoint(query_values(event), ReadContext(deps.store, deps.clock(), deps.stats_max_pages))
