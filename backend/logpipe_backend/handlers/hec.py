"""Splunk HEC (``/services/collector/…``) through POST /ingest's pipeline (translation: core/hec.py).

Auth: ``Authorization: Splunk <key>`` (or Bearer, or X-Api-Key). Answers as HEC does: 200
``{"text":"Success","code":0}``; errors ``{"text":…,"code":N}`` with HEC's code (2 token required, 4 invalid
token, 5 no data, 6 invalid data format, 9 server busy with ``Retry-After``, 12/13 event field missing or
blank) and /ingest's status, nothing queued. ``GET …/health`` answers 200 code 17, or 503 code 18 while the
queue is full; ``OPTIONS`` answers 200 (Docker's splunk driver checks its URL so before it starts).
"""

from __future__ import annotations

from typing import Any

from logpipe_backend.core import hec
from logpipe_backend.core.auth import request_credential
from logpipe_backend.core.body import TEXT, decode_body, parse_records
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.http import body_bytes, header, json_response
from logpipe_backend.core.routes import INGEST_ROUTES
from logpipe_backend.handlers._common import Event, Response, error_headers, guarded, method, path_of
from logpipe_backend.handlers.ingest import accept, authenticate
from logpipe_backend.ports import IngestDeps


def handle(event: Event, deps: IngestDeps) -> Response:
    return guarded("hec", lambda: _hec(event, deps))


def _hec(event: Event, deps: IngestDeps) -> Response:
    path = path_of(event)
    verb = method(event)
    allowed = INGEST_ROUTES[path][1]
    if verb not in allowed:
        return json_response(
            405, hec.body(hec.INVALID_FORMAT, f"use {' or '.join(allowed)}"), {"allow": ", ".join(allowed)}
        )
    if verb == "OPTIONS":
        return {
            "statusCode": 200,
            "headers": {"allow": ", ".join(allowed)},
            "body": "",
            "isBase64Encoded": False,
        }
    if path.startswith("/services/collector/health"):
        if deps.max_queue_depth > 0 and deps.queue.approximate_depth() >= deps.max_queue_depth:
            return json_response(503, hec.body(hec.UNHEALTHY))
        return json_response(200, hec.body(hec.HEALTHY))
    credential = request_credential(event.get("headers") or {}, schemes=("splunk", "bearer"), basic=False)
    try:
        tenant_id = authenticate(deps, credential, {})
        limits = deps.limits
        data = decode_body(body_bytes(event), header(event, "content-encoding"), limits)
        if path.startswith("/services/collector/raw"):
            raws = parse_records(data, TEXT, limits)
            kind = "hec-raw"
        else:
            raws = hec.events(data, limits)
            kind = "hec-event"
        accept(event, deps, tenant_id, raws, digest_of=(kind, data), finite_floats=True)
        return json_response(200, hec.body(hec.SUCCESS))
    except ApiError as err:
        status, code = hec.code_for(err, had_credential=credential is not None)
        extra: dict[str, Any] = {}
        if "index" in err.detail:
            extra["invalid-event-number"] = err.detail["index"]
        return json_response(status, {"text": err.message, "code": code, **extra}, error_headers(err))
