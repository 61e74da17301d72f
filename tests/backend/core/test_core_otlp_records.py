"""core.otlp.records (the OTLP door's per-record translation, written for speed) equals the plain
translation it replaced, kept here as the reference: same raw records, same key order, same errors."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import otlp
from logpipe_backend.core.errors import ApiError, too_large
from logpipe_backend.core.levels import level_from_value
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.nanotime import MAX_NS, NS_PER_MS, timestamp_of_ns
from logpipe_backend.core.normalize import _normalize_json_alike, normalize
from logpipe_backend.core.timefmt import format_ts
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

# --- the reference: the translation as first written, one helper call per attribute ----------------------


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


# --- requests: every AnyValue kind, empty values, names the translation sets itself ----------------------

_KEYS = st.sampled_from(
    ["service", "host", "n", "", "message", "level", "timestamp", "trace_id", "scope", "x.y"]
)


def _any_value(leaf_only: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    leaves = st.one_of(
        st.just({}),
        st.builds(lambda s: {"string_value": s}, st.text(max_size=8)),
        st.builds(lambda i: {"int_value": i}, st.integers(-(2**63), 2**63 - 1)),
        st.builds(lambda b: {"bool_value": b}, st.booleans()),
        st.builds(lambda d: {"double_value": d}, st.floats(allow_nan=True, allow_infinity=True)),
        st.builds(lambda b: {"bytes_value": b}, st.binary(max_size=6)),
    )
    if leaf_only:
        return leaves
    nested = st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(lambda vs: {"array_value": {"values": vs}}, st.lists(inner, max_size=3)),
            st.builds(
                lambda kvs: {"kvlist_value": {"values": [{"key": k, "value": v} for k, v in kvs]}},
                st.lists(st.tuples(_KEYS, inner), max_size=3),
            ),
        ),
        max_leaves=6,
    )
    return st.one_of(leaves, leaves, nested)


def _attributes() -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.lists(st.builds(lambda k, v: {"key": k, "value": v}, _KEYS, _any_value()), max_size=5)


_NS = st.one_of(
    st.just(0),
    st.integers(1, 2**64 - 1),
    st.integers(1_700_000_000_000, 1_800_000_000_000).map(lambda ms: ms * NS_PER_MS),
    st.just(2**64 - 1),
)

_LOG_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "time_unix_nano": _NS,
        "observed_time_unix_nano": _NS,
        "severity_number": st.integers(0, 30),
        "severity_text": st.sampled_from(["", "ERROR", "warning", "Info", "bogus"]),
        "body": _any_value(),
        "attributes": _attributes(),
        "trace_id": st.binary(max_size=16),
        "span_id": st.binary(max_size=8),
        "flags": st.integers(0, 2**32 - 1),
        "event_name": st.text(max_size=5),
    },
)

_SCOPE_LOGS = st.fixed_dictionaries(
    {"log_records": st.lists(_LOG_RECORD, max_size=4)},
    optional={
        "scope": st.fixed_dictionaries(
            {},
            optional={
                "name": st.text(max_size=4),
                "version": st.text(max_size=3),
                "attributes": _attributes(),
            },
        )
    },
)

_REQUEST = st.builds(
    lambda resource_logs: ExportLogsServiceRequest(resource_logs=resource_logs),
    st.lists(
        st.fixed_dictionaries(
            {"scope_logs": st.lists(_SCOPE_LOGS, max_size=2)},
            optional={"resource": st.fixed_dictionaries({"attributes": _attributes()})},
        ),
        max_size=2,
    ),
)


def _outcome(translate: Any, request: Any, limits: Limits) -> Any:
    try:
        raws = translate(request, limits)
    except ApiError as err:
        return ("error", err.status, err.code, err.message, err.detail)
    # Key order matters: it is the order of the stored JSON document.
    return ("records", [list(raw.items()) if isinstance(raw, dict) else raw for raw in raws])


def _same(a: Any, b: Any) -> bool:
    """Equal outcomes, NaN-free by construction (non-finite doubles become their names)."""
    return json.dumps(a, sort_keys=False) == json.dumps(b, sort_keys=False)


@settings(max_examples=400, deadline=None)
@given(_REQUEST, st.integers(0, 5))
def test_records_equal_the_reference_translation(request: Any, json_depth: int) -> None:
    limits = Limits(json_depth=json_depth)
    # Through the wire, as the door gets it (a message built in Python may differ in what is set).
    decoded = otlp.decode(request.SerializeToString(), otlp.PROTOBUF)
    expected = _outcome(reference_records, decoded, limits)
    assert _same(_outcome(otlp.records, decoded, limits), expected), expected


def test_the_reference_is_not_trivially_equal() -> None:
    """The comparison can fail: a record whose string attribute differs is told apart."""
    request = ExportLogsServiceRequest()
    log_record = request.resource_logs.add().scope_logs.add().log_records.add()
    log_record.attributes.add(key="service", value=AnyValue(string_value="api"))
    limits = Limits()
    changed = ExportLogsServiceRequest()
    changed.CopyFrom(request)
    changed.resource_logs[0].scope_logs[0].log_records[0].attributes[0].value.string_value = "apj"
    assert not _same(_outcome(otlp.records, changed, limits), _outcome(reference_records, request, limits))
    assert _same(_outcome(otlp.records, request, limits), _outcome(reference_records, request, limits))


def test_typical_records_take_the_one_shape_normalize_path() -> None:
    """What the door's records cost after translation depends on normalize's one-shape path taking them
    (core/normalize.py: records with the same well-known fields, normalized a field at a time): records
    with and without attributes, with a timestamp each, must take it, and give what the per-record path
    gives."""
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for i in range(6):
        log_record = scope_logs.log_records.add(
            time_unix_nano=1_764_128_696_000_000_000 + i * 7_000_000,
            severity_number=9 + 4 * (i % 3),
            body=AnyValue(string_value=f"GET /api/{i} 200"),
        )
        if i % 2:
            log_record.attributes.add(key="service", value=AnyValue(string_value="api"))
            log_record.attributes.add(key="user_id", value=AnyValue(int_value=i))
            log_record.attributes.add(key="duration_ms", value=AnyValue(double_value=i / 3))
    raws = otlp.records(otlp.decode(request.SerializeToString(), otlp.PROTOBUF), Limits())
    log_ids = [f"{i:026d}" for i in range(len(raws))]
    received_at = format_ts(1_764_128_700_000)
    dict_raws = [raw for raw in raws if isinstance(raw, dict)]
    assert len(dict_raws) == len(raws)
    fast = _normalize_json_alike([dict(raw) for raw in dict_raws], "acme", log_ids, received_at)
    assert fast is not None
    each = [
        normalize(raw, tenant_id="acme", log_id=log_id, received_ms=1_764_128_700_000)
        for raw, log_id in zip(raws, log_ids, strict=True)
    ]
    assert fast == each
    assert fast[1]["attributes"] == {"service": "api", "user_id": 1, "duration_ms": 1 / 3}
