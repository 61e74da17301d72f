"""``POST /v1/logs``: OTLP/HTTP logs through POST /ingest's pipeline (translation: core/otlp.py).

Answers as OTLP/HTTP specifies (opentelemetry-proto docs/specification.md, "OTLP/HTTP Response"): 200
with an ExportLogsServiceResponse in the request's encoding, carrying ``partialSuccess`` for records
refused one by one (a record over the size limit); errors as a google.rpc.Status with /ingest's HTTP
status (400, 401, 403, 413, 415, 429 or 503 with ``Retry-After``), nothing queued.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

from logpipe_backend.core import otlp
from logpipe_backend.core.auth import request_credential
from logpipe_backend.core.body import decode_body
from logpipe_backend.core.envelope import Serialized
from logpipe_backend.core.errors import ApiError, too_large
from logpipe_backend.core.http import body_bytes, header
from logpipe_backend.core.ingest import prepare_normalized
from logpipe_backend.core.record import Record
from logpipe_backend.handlers._common import Event, Response, error_headers, guarded, method
from logpipe_backend.handlers.ingest import accept_built, authenticate
from logpipe_backend.ports import IngestDeps


def handle(event: Event, deps: IngestDeps) -> Response:
    return guarded("otlp", lambda: _otlp(event, deps))


def _otlp(event: Event, deps: IngestDeps) -> Response:
    kind = otlp.PROTOBUF
    try:
        if method(event) != "POST":
            raise ApiError(405, "method_not_allowed", "use POST /v1/logs", allow="POST")
        kind = otlp.content_kind(header(event, "content-type"))
        credential = request_credential(event.get("headers") or {})
        tenant_id = authenticate(
            deps, credential, {"the Basic user": credential.user if credential else None}
        )
        limits = deps.limits
        data = decode_body(body_bytes(event), header(event, "content-encoding"), limits)
        request = otlp.decode(data, kind)
        if otlp.count(request) > limits.records:
            raise too_large(
                "records", limits.records, f"more than {limits.records} log records in one request"
            )
        rejected, message = _accept_partially(event, deps, tenant_id, request, (kind, data))
        return _response(200, otlp.export_response(rejected, message, kind), kind)
    except ApiError as err:
        response = _response(err.status, otlp.status_body(err, kind), kind)
        response["headers"].update(error_headers(err))
        return response


def _accept_partially(
    event: Event, deps: IngestDeps, tenant_id: str, request: Any, sent: tuple[str, bytes]
) -> tuple[int, str]:
    """Queue the records, leaving out each one over the record size limit: (refused count, message).

    Only that refusal is per record (OTLP's partial success); any other error refuses the request. Each
    try builds every record (core/otlp.py ``stored_chunks``) and serializes those not yet refused, a chunk
    at a time; the refused ones take no log id.
    """
    limits = deps.limits
    total = otlp.count(request)
    refused: set[int] = set()  # positions in the request

    def build(received_ms: int, log_ids: list[str]) -> Serialized:
        if not refused:  # the common request: every record kept
            return prepare_normalized(
                lambda: otlp.stored_chunks(
                    request, limits, tenant_id=tenant_id, received_ms=received_ms, log_ids=log_ids
                ),
                limits=limits,
                finite_floats=True,
            )
        # A refused record was translated without error before (its refusal came after): "" stands in
        # for its id, and it is left out.
        ids = iter(log_ids)
        every_id = ["" if i in refused else next(ids) for i in range(total)]

        def kept_chunks() -> Iterator[list[Record]]:
            position = 0  # in the request, of the chunk's first record
            for records in otlp.stored_chunks(
                request, limits, tenant_id=tenant_id, received_ms=received_ms, log_ids=every_id
            ):
                yield [record for i, record in enumerate(records, position) if i not in refused]
                position += len(records)

        return prepare_normalized(kept_chunks, limits=limits, finite_floats=True)

    while True:
        kept_positions = [i for i in range(total) if i not in refused]
        try:
            accept_built(event, deps, tenant_id, len(kept_positions), build, digest_of=sent)
            break
        except ApiError as err:
            refused.add(kept_positions[_refused_index(err)])
            if len(refused) == total:  # every record refused: nothing is queued, all are reported
                break
    if not refused:
        return 0, ""
    rejected = len(refused)
    return rejected, f"{rejected} log records refused: over {limits.record_bytes} bytes once normalized"


def _refused_index(err: ApiError) -> int:
    """The index of the record refused for its size alone; ``err`` itself raised for any other error."""
    index = err.detail.get("index")
    if err.status != 413 or err.detail.get("limit") != "record_bytes" or not isinstance(index, int):
        raise err
    return index


def _response(status: int, body: bytes, kind: str) -> Response:
    return {
        "statusCode": status,
        "headers": {"content-type": kind},
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
