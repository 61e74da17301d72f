"""``GET /logs`` (and the other ``handlers.reads`` endpoints) with a tenant's read key: its own records only.

The same endpoints as ``/admin/<name>``, with the tenant forced to the key's own. Checks, in this order:
method (405) → credential (401 when absent, unknown or revoked) → the key has the ``read`` scope (403
``insufficient_scope``, the name RFC 6750 §3.1 gives it) → ``tenant``, when given, is the key's tenant (403
``tenant_mismatch``) → the endpoint's own parameters (400), where a cursor of another tenant is refused.

On AWS its routes have no IAM authorizer: this handler is the authentication, with one ``GetItem`` on the
tenants table (cached ``adapters.aws.tenants.CACHE_SECONDS``), and it runs as its own Lambda so the admin
function stays reachable only through IAM-signed requests (docs/aws.md, "Tenant read keys").
"""

from __future__ import annotations

from logpipe_backend.core.auth import SCOPE_READ, credential_from_headers
from logpipe_backend.core.errors import ApiError, forbidden, unauthorized
from logpipe_backend.core.http import query_values
from logpipe_backend.handlers._common import Event, Response, guarded, method
from logpipe_backend.handlers.reads import ReadContext, endpoint_for
from logpipe_backend.ports import TenantReadDeps


def handle(event: Event, deps: TenantReadDeps) -> Response:
    return guarded("tenant_read", lambda: _read(event, deps))


def _read(event: Event, deps: TenantReadDeps) -> Response:
    if method(event) not in ("GET", "HEAD"):
        raise ApiError(405, "method_not_allowed", "use GET", allow="GET, HEAD")
    credential = credential_from_headers(event.get("headers") or {})
    grant = deps.keys.grant_for_key(credential) if credential else None
    if grant is None:
        raise unauthorized()
    if SCOPE_READ not in grant.scopes:
        raise forbidden(
            "insufficient_scope",
            "this key cannot read; create one with `logpipe tenants create-key TENANT --read-only`",
        )
    params = query_values(event)
    if any(claimed and claimed != grant.tenant_id for claimed in params.get("tenant", ())):
        raise forbidden("tenant_mismatch", "tenant does not match the key's tenant")
    endpoint = endpoint_for(event)
    return endpoint({**params, "tenant": [grant.tenant_id]}, ReadContext(deps.store, deps.clock()))
