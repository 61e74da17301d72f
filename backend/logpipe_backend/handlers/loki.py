"""``POST /loki/api/v1/push``: Loki's push API through POST /ingest's pipeline (translation: core/loki.py).

Auth: ``Authorization: Basic`` (user = tenant id, password = key, what Loki clients send as ``basic_auth``)
or ``Bearer``; an ``X-Scope-OrgID`` (Loki's tenant header) or Basic user naming another tenant is 403.
Answers as Loki does: 204 without a body; errors as text with /ingest's status, nothing queued.
"""

from __future__ import annotations

from logpipe_backend.core import loki
from logpipe_backend.core.auth import request_credential
from logpipe_backend.core.body import decode_body
from logpipe_backend.core.errors import ApiError, one_line
from logpipe_backend.core.http import body_bytes, header
from logpipe_backend.handlers._common import Event, Response, error_headers, guarded, method
from logpipe_backend.handlers.ingest import accept, authenticate
from logpipe_backend.ports import IngestDeps


def handle(event: Event, deps: IngestDeps) -> Response:
    return guarded("loki", lambda: _loki(event, deps))


def _loki(event: Event, deps: IngestDeps) -> Response:
    try:
        if method(event) != "POST":
            raise ApiError(405, "method_not_allowed", "use POST /loki/api/v1/push", allow="POST")
        kind = loki.content_kind(header(event, "content-type"))
        credential = request_credential(event.get("headers") or {})
        tenant_id = authenticate(deps, credential, {"X-Scope-OrgID": header(event, "x-scope-orgid")})
        limits = deps.limits
        data = decode_body(body_bytes(event), header(event, "content-encoding"), limits)
        if kind == loki.PROTOBUF:
            data = loki.unsnappy(data, limits)
        raws = loki.records(data, kind, limits)
        if raws:
            accept(event, deps, tenant_id, raws, digest_of=(f"loki-{kind}", data), finite_floats=True)
        return {"statusCode": 204, "headers": {}, "body": "", "isBase64Encoded": False}
    except ApiError as err:
        headers = {"content-type": "text/plain; charset=utf-8", **error_headers(err)}
        text = one_line(err) + "\n"
        return {"statusCode": err.status, "headers": headers, "body": text, "isBase64Encoded": False}
