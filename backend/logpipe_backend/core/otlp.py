"""OTLP/HTTP logs (``POST /v1/logs``) → stored records, and the protocol's answers. Pure: no I/O.

The request is decoded by the generated classes of ``opentelemetry-proto`` (protobuf's C parser, upb); the
JSON encoding is read into the same message by protobuf's ``json_format`` once its ids are fixed: OTLP JSON
writes ``traceId``/``spanId`` as hex, where protobuf's JSON mapping of ``bytes`` is base64
(opentelemetry-proto docs/specification.md, "JSON Protobuf Encoding"). json_format already follows the
other OTLP JSON rules: int64 as strings or numbers, enums as integers, unknown fields ignored (asked for).

A log record becomes the record normalize makes of the raw record below, as POST /ingest would parse it
(docs/shippers.md, "What OTLP fields become"), so normalization, limits and redaction are /ingest's:

- ``message``: the body, a non-string body as compact JSON; ``level``: from ``severityNumber`` (the OTel
  data model's ranges), else from ``severityText``; ``timestamp``: ``timeUnixNano``, else
  ``observedTimeUnixNano``, with ``timestamp_ns`` (a decimal string) when it is not a whole millisecond;
- the log record's attributes by name, unwrapped from AnyValue; one named like a field set here is kept
  as ``attribute.<name>``;
- ``resource`` (its attributes: ``service.name`` …), ``scope`` (``name``, ``version``, ``attributes``),
  ``trace_id``/``span_id`` (hex), ``trace_flags``, ``event_name``, each only when sent.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterator
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope

from logpipe_backend.core.errors import ApiError, bad_request, one_line, too_large
from logpipe_backend.core.ingest import CHUNK_RECORDS
from logpipe_backend.core.levels import level_from_value
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.nanotime import MAX_NS, MILLIS_TEXT, NS_PER_MS, SECOND_TEXT, timestamp_of_ns
from logpipe_backend.core.normalize import DEFAULT_LEVEL, normalize
from logpipe_backend.core.protos import Status
from logpipe_backend.core.record import Record, record_maker
from logpipe_backend.core.timefmt import format_ts

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"

# OTel logs data model, "Field: SeverityNumber": 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR,
# 21-24 FATAL; 0 is unspecified.
_SEVERITY_OF: Final = {
    number: level
    for first, level in ((1, "trace"), (5, "debug"), (9, "info"), (13, "warn"), (17, "error"), (21, "fatal"))
    for number in range(first, first + 4)
}
_SET_HERE: Final = frozenset(
    {"message", "level", "timestamp", "timestamp_ns", "resource", "scope", "trace_id", "span_id",
     "trace_flags", "event_name"}
)  # fmt: skip
# The attribute names normalize would still act on in a translated record (core/normalize.py): a tenant_id
# (refused when another tenant's), a client log id; and, when the record has no OTLP time, the other time
# fields it would take the timestamp from. Every other field normalize reads is one this translation sets
# (message, level, timestamp: what normalize takes first and as it is) or renames (attribute.<name>).
_NORMALIZE_READS: Final = frozenset({"tenant_id", "log_id", "id"})
_TIME_FIELDS: Final = frozenset({"ts", "time", "@timestamp", "date"})
_SET_HERE_OR_READS: Final = _SET_HERE | _NORMALIZE_READS


def content_kind(content_type: str | None) -> str:
    """PROTOBUF or JSON for a request's Content-Type; 415 else (OTLP/HTTP defines only these two)."""
    essence = (content_type or "").split(";")[0].strip().lower()
    if essence in (PROTOBUF, JSON):
        return essence
    raise ApiError(
        415, "unsupported_media_type", "OTLP/HTTP takes application/x-protobuf or application/json"
    )


def decode(data: bytes, kind: str) -> Any:
    """The ExportLogsServiceRequest of a decoded body; 400 when it is not one."""
    request = ExportLogsServiceRequest()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(data)
        except (DecodeError, RecursionError) as exc:
            raise bad_request(
                "invalid_protobuf", f"body is not an OTLP ExportLogsServiceRequest: {exc}"
            ) from None
        return request
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise bad_request("invalid_json", f"body is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise bad_request("invalid_otlp", "an OTLP JSON body is an object")
    _hex_ids_to_base64(doc)
    try:
        json_format.ParseDict(doc, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, RecursionError) as exc:
        raise bad_request("invalid_otlp", f"body is not an OTLP ExportLogsServiceRequest: {exc}") from None
    return request


def _hex_ids_to_base64(doc: dict[str, Any]) -> None:
    """OTLP JSON's hex ``traceId``/``spanId`` rewritten as base64, the form json_format reads for bytes."""
    for resource_logs in _list(doc, "resourceLogs", "resource_logs"):
        for scope_logs in _list(resource_logs, "scopeLogs", "scope_logs"):
            for log_record in _list(scope_logs, "logRecords", "log_records"):
                if not isinstance(log_record, dict):
                    continue
                for name in ("traceId", "spanId", "trace_id", "span_id"):
                    value = log_record.get(name)
                    if isinstance(value, str):
                        try:
                            log_record[name] = base64.b64encode(bytes.fromhex(value)).decode("ascii")
                        except ValueError:
                            raise bad_request("invalid_otlp", f"{name} is not hex: {value[:40]!r}") from None


def _list(parent: Any, *names: str) -> list[Any]:
    if isinstance(parent, dict):
        for name in names:
            value = parent.get(name)
            if isinstance(value, list):
                return value
    return []


def count(request: Any) -> int:
    return sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)


def stored_chunks(
    request: Any,
    limits: Limits,
    *,
    tenant_id: str,
    received_ms: int,
    log_ids: list[str],
    size: int = CHUNK_RECORDS,
) -> Iterator[list[Record]]:
    """The request's log records as the records stored for ``tenant_id``, ``size`` at a time (for
    core/ingest.py's ``prepare_normalized``, which serializes each chunk before the next is built), in order
    (the mapping: the module docstring): what normalize gives for the raw record /ingest would parse, built
    in one pass through core/record.py's constructor. A record with an attribute normalize would act on
    (_NORMALIZE_READS, _TIME_FIELDS) goes through normalize itself, as that raw record; its error (403
    ``tenant_mismatch``) carries the record's ``index``, and is raised after the last chunk, behind the
    translation's own. tests/backend/handlers/test_otlp_stored.py holds the result byte for byte to a
    plain translation (tests/otlp_reference.py) followed by normalize.

    Every field read off a protobuf message builds a Python object, and this loop runs for every record
    of every request: each field is read once, into a local; the resource and scope are read once per
    ResourceLogs/ScopeLogs; a record's attributes and timestamp are made inline (a call per attribute or
    record costs more than the work). An attribute's ``string_value`` is read first: it is the common
    kind, and "" for every other kind, so only a non-string (or empty) value pays for ``WhichOneof``."""
    if len(log_ids) != count(request):
        raise ValueError(f"{len(log_ids)} log ids for {count(request)} records")
    max_depth = limits.json_depth
    received_at = format_ts(received_ms)
    make = record_maker(tenant_id, received_at, "json", DEFAULT_LEVEL)
    next_id = iter(log_ids).__next__
    out: list[Record] = []
    append = out.append
    severity = _SEVERITY_OF
    set_here = _SET_HERE
    normalize_reads = _NORMALIZE_READS
    set_here_or_reads = _SET_HERE_OR_READS
    time_fields = _TIME_FIELDS
    second_text = SECOND_TEXT
    millis_text = MILLIS_TEXT
    refused: ApiError | None = None
    built = 0  # records in the chunks yielded so far
    for resource_logs in request.resource_logs:
        resource = _attributes(resource_logs.resource.attributes, 2, max_depth)
        for scope_logs in resource_logs.scope_logs:
            scope = _scope(scope_logs.scope, max_depth)
            for r in scope_logs.log_records:
                attributes: dict[str, Any] = {}
                for pair in r.attributes:
                    value = pair.value
                    text = value.string_value
                    if text:
                        attributes[pair.key] = text
                    else:
                        kind = value.WhichOneof("value")
                        attributes[pair.key] = (
                            value.int_value if kind == "int_value" else _value(value, kind, 1, max_depth)
                        )
                # One test for the common record, which has none of the names either set looks for.
                reads = False
                if attributes and not set_here_or_reads.isdisjoint(attributes):
                    if not set_here.isdisjoint(attributes):
                        attributes = _renamed(attributes)
                    reads = not normalize_reads.isdisjoint(attributes)
                body = r.body
                message = body.string_value
                if not message:
                    kind = body.WhichOneof("value")
                    if kind is not None and kind != "string_value":
                        message = _json(_value(body, kind, 1, max_depth))
                level = severity.get(r.severity_number)
                if level is None:
                    text = r.severity_text
                    level = (level_from_value(text) if text else None) or "info"
                timestamp = None
                ns = r.time_unix_nano or r.observed_time_unix_nano
                if 0 < ns <= MAX_NS:
                    ms, sub_ms = divmod(ns, NS_PER_MS)
                    seconds, millis = divmod(ms, 1000)
                    prefix = second_text.get(seconds)
                    timestamp = timestamp_of_ns(ns) if prefix is None else prefix + millis_text[millis]
                raw = None
                if reads or (timestamp is None and attributes and not time_fields.isdisjoint(attributes)):
                    # The raw record /ingest would parse: the fields set here after the attributes.
                    raw = attributes
                    raw["message"] = message
                    raw["level"] = level
                    if timestamp is not None:
                        raw["timestamp"] = timestamp
                # What normalize leaves in a record's attributes after the client's: the fields it does not
                # read, in the raw record's order.
                if timestamp is not None and sub_ms:
                    attributes["timestamp_ns"] = str(ns)
                if resource:
                    attributes["resource"] = resource
                if scope:
                    attributes["scope"] = scope
                trace_id = r.trace_id
                if trace_id:
                    attributes["trace_id"] = trace_id.hex()
                span_id = r.span_id
                if span_id:
                    attributes["span_id"] = span_id.hex()
                flags = r.flags
                if flags:
                    attributes["trace_flags"] = flags
                event_name = r.event_name
                if event_name:
                    attributes["event_name"] = event_name
                if raw is None:
                    stamp = received_at if timestamp is None else timestamp
                    append(make(next_id(), stamp, level, message, attributes))
                elif refused is None:
                    try:
                        append(normalize(raw, tenant_id=tenant_id, log_id=next_id(), received_ms=received_ms))
                    except ApiError as exc:
                        exc.detail["index"] = built + len(out)
                        refused = exc
                if len(out) == size:
                    yield out
                    built += size
                    out = []
                    append = out.append
    if out:
        yield out
    # Raised once every record is translated: a translation error (413 json_depth) of a later record is
    # the request's answer, as it is on /ingest, where a body is parsed whole before normalize sees any.
    if refused is not None:
        raise refused


def _renamed(attributes: dict[str, Any]) -> dict[str, Any]:
    """An attribute named like a field the translation sets, kept as ``attribute.<name>``."""
    return {(f"attribute.{k}" if k in _SET_HERE else k): v for k, v in attributes.items()}


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _scope(scope: InstrumentationScope, max_depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if scope.name:
        out["name"] = scope.name
    if scope.version:
        out["version"] = scope.version
    if scope.attributes:
        out["attributes"] = _attributes(scope.attributes, 3, max_depth)
    return out


def _attributes(pairs: Any, depth: int, max_depth: int) -> dict[str, Any]:
    """KeyValue list → dict; ``depth``: the nesting of the dict in the stored record (413 past the limit)."""
    if depth > max_depth:
        raise _too_deep(max_depth)
    out: dict[str, Any] = {}
    for pair in pairs:
        value = pair.value
        kind = value.WhichOneof("value")
        # The common kinds read straight off the message: this loop runs for every attribute of a request.
        if kind == "string_value":
            out[pair.key] = value.string_value
        elif kind == "int_value":
            out[pair.key] = value.int_value
        else:
            out[pair.key] = _value(value, kind, depth, max_depth)
    return out


def _value(value: AnyValue, kind: str | None, depth: int, max_depth: int) -> Any:
    """An AnyValue unwrapped: JSON can hold neither bytes (base64 text, as OTLP JSON writes them) nor a
    non-finite double (its name as text, as protobuf's JSON mapping writes it)."""
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "double_value":
        number = value.double_value
        return number if math.isfinite(number) else json_format.MessageToDict(value)["doubleValue"]
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    if kind == "array_value":
        if depth + 1 > max_depth:
            raise _too_deep(max_depth)
        return [_value(v, v.WhichOneof("value"), depth + 1, max_depth) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _attributes(value.kvlist_value.values, depth + 1, max_depth)
    return None  # empty, or a field newer than this code


def _too_deep(max_depth: int) -> ApiError:
    return too_large("json_depth", max_depth, f"a log record nests deeper than {max_depth} levels")


def export_response(rejected: int, message: str, kind: str) -> bytes:
    """The 200's ExportLogsServiceResponse, with ``partialSuccess`` when ``rejected`` records were refused."""
    response = ExportLogsServiceResponse()
    if rejected:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = message
    if kind == JSON:
        return json.dumps(json_format.MessageToDict(response), separators=(",", ":")).encode()
    return bytes(response.SerializeToString())


# google.rpc.Code for an HTTP status (googleapis google/rpc/code.proto's HTTP mapping).
_RPC_CODES: Final = {400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 3, 415: 3, 422: 3, 429: 8, 503: 14}


def status_body(err: ApiError, kind: str) -> bytes:
    """An error as OTLP/HTTP answers it: a google.rpc.Status (code, message) in the request's encoding."""
    code = _RPC_CODES.get(err.status, 13)
    message = one_line(err)
    if kind == JSON:
        return json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()
    return bytes(Status(code=code, message=message).SerializeToString())
