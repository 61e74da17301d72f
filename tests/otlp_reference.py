"""The plain translation of an OTLP request into the raw records /ingest would parse, one helper call per
attribute: the oracle the OTLP door's records are held to (tests/backend/handlers/test_otlp_stored.py holds
core.otlp.stored_chunks to it, followed by normalize, byte for byte). The mapping: core/otlp.py's module
docstring and docs/shippers.md, "What OTLP fields become"."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from google.protobuf import json_format
from logpipe_backend.core import otlp
from logpipe_backend.core.errors import ApiError, too_large
from logpipe_backend.core.levels import level_from_value
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.nanotime import MAX_NS, NS_PER_MS, timestamp_of_ns

# --- the reference: one helper call per attribute ---------------------------------------------------------


def reference_records(request: Any, limits: Limits) -> list[dict[str, Any] | str]:
    max_depth = limits.json_depth
    out: list[dict[str, Any] | str] = []
    for resource_logs in request.resource_logs:
        resource = _ref_attributes(resource_logs.resource.attributes, 2, max_depth)
        for scope_logs in resource_logs.scope_logs:
            scope = _ref_scope(scope_logs.scope, max_depth)
            for r in scope_logs.log_records:
                raw = _ref_attributes(r.attributes, 1, max_depth) if r.attributes else {}
                if raw and not otlp._SET_HERE.isdisjoint(raw):
                    raw = {(f"attribute.{k}" if k in otlp._SET_HERE else k): v for k, v in raw.items()}
                kind = r.body.WhichOneof("value")
                if kind == "string_value":
                    raw["message"] = r.body.string_value
                else:
                    value = _ref_value(r.body, kind, 1, max_depth)
                    raw["message"] = "" if kind is None else json.dumps(value, separators=(",", ":"))
                level = otlp._SEVERITY_OF.get(r.severity_number)
                if level is None:
                    text = r.severity_text
                    level = (level_from_value(text) if text else None) or "info"
                raw["level"] = level
                ns = r.time_unix_nano or r.observed_time_unix_nano
                if 0 < ns <= MAX_NS:
                    raw["timestamp"] = timestamp_of_ns(ns)
                    if ns % NS_PER_MS:
                        raw["timestamp_ns"] = str(ns)
                if resource:
                    raw["resource"] = resource
                if scope:
                    raw["scope"] = scope
                if r.trace_id:
                    raw["trace_id"] = r.trace_id.hex()
                if r.span_id:
                    raw["span_id"] = r.span_id.hex()
                if r.flags:
                    raw["trace_flags"] = r.flags
                if r.event_name:
                    raw["event_name"] = r.event_name
                out.append(raw)
    return out


def _ref_scope(scope: Any, max_depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if scope.name:
        out["name"] = scope.name
    if scope.version:
        out["version"] = scope.version
    if scope.attributes:
        out["attributes"] = _ref_attributes(scope.attributes, 3, max_depth)
    return out


def _ref_attributes(pairs: Any, depth: int, max_depth: int) -> dict[str, Any]:
    if depth > max_depth:
        raise _too_deep(max_depth)
    return {
        pair.key: _ref_value(pair.value, pair.value.WhichOneof("value"), depth, max_depth) for pair in pairs
    }


def _ref_value(value: Any, kind: str | None, depth: int, max_depth: int) -> Any:
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
        return [_ref_value(v, v.WhichOneof("value"), depth + 1, max_depth) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _ref_attributes(value.kvlist_value.values, depth + 1, max_depth)
    return None


def _too_deep(max_depth: int) -> ApiError:
    return too_large("json_depth", max_depth, f"a log record nests deeper than {max_depth} levels")
