"""core.otlp.stored_chunks + core.ingest.prepare_normalized (the OTLP door's records built stored in the
translation, a chunk at a time) give byte for byte what the general path gives: the plain translation into
raw records (tests/otlp_reference.py), then normalize and serialize in core.ingest.prepare; the same
errors, with the same index. And the door answers and queues exactly what that general path would,
records refused for their size included."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import pytest
from door_fakes import NOW as DOOR_NOW
from door_fakes import DoorEnv, door_event
from handler_fakes import ACME_KEY
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.core import otlp
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.ingest import prepare, prepare_normalized
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.nanotime import NS_PER_MS
from logpipe_backend.core.timefmt import format_ts
from logpipe_backend.handlers import otlp as otlp_handler
from logpipe_backend.handlers.ingest import accept
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from otlp_reference import reference_records

TENANT = "acme"
NOW = 1_764_128_700_123

# Names normalize reads (tenant_id, client ids, time, level and message fields), names the translation
# sets (renamed attribute.<name>), names of the record's own fields, and plain ones.
_KEYS = st.sampled_from(
    ["service", "n", "", "x.y", "tenant_id", "log_id", "id", "message", "msg", "text", "log", "body",
     "level", "severity", "lvl", "loglevel", "timestamp", "timestamp_ns", "ts", "time", "@timestamp", "date",
     "resource", "scope", "trace_id", "span_id", "trace_flags", "event_name", "attribute.level", "source",
     "attributes", "client_log_id", "received_at", "redactions"]
)  # fmt: skip
# Strings normalize would take for a tenant, a time, a level or a client id.
_TEXTS = st.one_of(
    st.text(max_size=8),
    st.sampled_from(
        [
            TENANT,
            "evil",
            "2026-11-26T03:44:56.123Z",
            "2026-02-30T00:00:00Z",
            "1764128696",
            "warn",
            " ERROR ",
            "30",
        ]
    ),
)


def _any_value() -> st.SearchStrategy[dict[str, Any]]:
    leaves = st.one_of(
        st.just({}),
        st.builds(lambda s: {"string_value": s}, _TEXTS),
        st.builds(
            lambda i: {"int_value": i}, st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(0, 60))
        ),
        st.builds(lambda b: {"bool_value": b}, st.booleans()),
        st.builds(lambda d: {"double_value": d}, st.floats(allow_nan=True, allow_infinity=True)),
        st.builds(lambda b: {"bytes_value": b}, st.binary(max_size=6)),
    )
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
    st.integers(1_700_000_000_000_000_000, 1_800_000_000_000_000_000),
    st.just(2**64 - 1),
)

_LOG_RECORD = st.fixed_dictionaries(
    {},
    optional={
        "time_unix_nano": _NS,
        "observed_time_unix_nano": _NS,
        "severity_number": st.integers(0, 30),
        "severity_text": st.sampled_from(["", "ERROR", "warning", "Info", "bogus", " fatal ", "50", "5"]),
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


def _general(request: Any, limits: Limits, log_ids: list[str]) -> list[bytes]:
    raws = reference_records(request, limits)
    return prepare(
        raws, tenant_id=TENANT, received_ms=NOW, log_ids=log_ids, limits=limits, finite_floats=True
    ).records()


def _direct(request: Any, limits: Limits, log_ids: list[str], chunk: int = 2) -> list[bytes]:
    """The door's path; chunks of 2 by default, so that the generated requests span several."""
    return prepare_normalized(
        lambda: otlp.stored_chunks(
            request, limits, tenant_id=TENANT, received_ms=NOW, log_ids=log_ids, size=chunk
        ),
        limits=limits,
        finite_floats=True,
    ).records()


def _outcome(path: Any, request: Any, limits: Limits) -> Any:
    log_ids = [f"01KB{i:022d}" for i in range(otlp.count(request))]
    try:
        return ("records", path(request, limits, log_ids))
    except ApiError as err:
        return ("error", err.status, err.code, err.message, err.detail)


@settings(max_examples=500, deadline=None)
@given(_REQUEST, st.integers(0, 5), st.integers(1, 3))
def test_stored_records_are_byte_identical_to_the_general_path(
    request: Any, json_depth: int, chunk: int
) -> None:
    # No record over the size limit here: the general path raises the first error in record order, and the
    # direct one a 403 before any 413 (the door's answer is the same: below).
    limits = Limits(json_depth=json_depth)
    # Through the wire, as the door gets it.
    decoded = otlp.decode(request.SerializeToString(), otlp.PROTOBUF)
    expected = _outcome(_general, decoded, limits)
    assert _outcome(lambda *args: _direct(*args, chunk=chunk), decoded, limits) == expected


def test_the_comparison_can_fail() -> None:
    """A record whose string attribute differs is told apart; the same request is not."""
    request = ExportLogsServiceRequest()
    log_record = request.resource_logs.add().scope_logs.add().log_records.add()
    log_record.attributes.add(key="service", value=AnyValue(string_value="api"))
    changed = ExportLogsServiceRequest()
    changed.CopyFrom(request)
    changed.resource_logs[0].scope_logs[0].log_records[0].attributes[0].value.string_value = "apj"
    limits = Limits()
    assert _outcome(_direct, changed, limits) != _outcome(_general, request, limits)
    assert _outcome(_direct, request, limits) == _outcome(_general, request, limits)


def _general_accept_partially(
    event: Any, deps: Any, tenant_id: str, request: Any, sent: tuple[str, bytes]
) -> tuple[int, str]:
    """The door's partial acceptance through the general path (raw records, then prepare)."""
    raws = reference_records(request, deps.limits)
    rejected = 0
    message = ""
    while raws:
        try:
            accept(event, deps, tenant_id, raws, digest_of=sent, finite_floats=True)
            break
        except ApiError as err:
            index = err.detail.get("index")
            if err.status != 413 or err.detail.get("limit") != "record_bytes" or not isinstance(index, int):
                raise
            del raws[index]
            rejected += 1
            message = f"{rejected} log records refused: over {deps.limits.record_bytes} bytes once normalized"
    return rejected, message


def _door(request: Any, limits: Limits) -> tuple[int, bytes, list[str]]:
    env = DoorEnv(limits)
    # An Idempotency-Key makes the log ids a function of the request (and the fixed clock).
    headers = {
        "authorization": f"Bearer {ACME_KEY}",
        "content-type": otlp.PROTOBUF,
        "idempotency-key": "k-1",
    }
    status, _, body = env.call(door_event("/v1/logs", request.SerializeToString(), headers))
    return status, body, env.queue.bodies


@settings(max_examples=300, deadline=None)
@given(_REQUEST, st.integers(1, 5), st.sampled_from([1_000_000, 400, 250]), st.integers(1, 3))
def test_the_door_answers_and_queues_what_the_general_path_did(
    request: Any, json_depth: int, record_bytes: int, chunk: int
) -> None:
    limits = Limits(json_depth=json_depth, record_bytes=record_bytes)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(otlp_handler, "_accept_partially", _general_accept_partially)
        expected = _door(request, limits)
    with pytest.MonkeyPatch.context() as patch:
        # Small chunks, so that records refused for their size fall in several chunks of one request.
        patch.setattr(otlp, "stored_chunks", functools.partial(otlp.stored_chunks, size=chunk))
        assert _door(request, limits) == expected


def _request(*pairs: tuple[str, AnyValue], time_ns: int = 1_764_128_696_123_456_789) -> Any:
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    scope_logs.log_records.add(time_unix_nano=time_ns, body=AnyValue(string_value="first"))
    log_record = scope_logs.log_records.add(time_unix_nano=time_ns, body=AnyValue(string_value="second"))
    for key, value in pairs:
        log_record.attributes.add(key=key, value=value)
    return otlp.decode(request.SerializeToString(), otlp.PROTOBUF)


def test_another_tenant_is_403_with_the_index_of_its_record() -> None:
    request = _request(("tenant_id", AnyValue(string_value="evil")))
    with pytest.raises(ApiError) as err:
        _direct(request, Limits(), ["a" * 26, "b" * 26])
    assert (err.value.status, err.value.code, err.value.detail["index"]) == (403, "tenant_mismatch", 1)


@pytest.mark.parametrize(
    ("pairs", "time_ns"),
    [
        ((("tenant_id", AnyValue(string_value=TENANT)), ("log_id", AnyValue(int_value=7))), 1),
        ((("id", AnyValue(double_value=2.5)), ("service", AnyValue(string_value="api"))), 1),
        ((("time", AnyValue(string_value="2026-11-26T03:44:56.123Z")),), 0),
        ((("ts", AnyValue(int_value=1_764_128_696)),), 0),
        ((("time", AnyValue(string_value="2026-11-26T03:44:56.123Z")),), 5 * NS_PER_MS),
    ],
)
def test_fields_normalize_reads_are_taken_as_it_takes_them(pairs: Any, time_ns: int) -> None:
    request = _request(*pairs, time_ns=time_ns)
    ids = ["a" * 26, "b" * 26]
    assert _direct(request, Limits(), ids) == _general(request, Limits(), ids)


def test_log_ids_must_match_the_records() -> None:
    with pytest.raises(ValueError, match="1 log ids for 2 records"):
        next(otlp.stored_chunks(_request(), Limits(), tenant_id=TENANT, received_ms=NOW, log_ids=["a" * 26]))


def test_an_idempotent_retry_queues_the_first_records_again() -> None:
    """The door builds its records again for the retry, with the first acceptance's time and log ids."""
    env = DoorEnv()
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    scope_logs.log_records.add(body=AnyValue(string_value="no time: received_at stands in"))
    scope_logs.log_records.add(time_unix_nano=1_764_128_696_123_456_789, body=AnyValue(string_value="timed"))
    headers = {"authorization": f"Bearer {ACME_KEY}", "content-type": otlp.PROTOBUF, "idempotency-key": "k"}
    event = door_event("/v1/logs", request.SerializeToString(), headers)
    assert env.call(event)[0] == 200
    env.deps = dataclasses.replace(env.deps, clock=lambda: DOOR_NOW + 60_000)
    assert env.call(event)[0] == 200
    first, again = env.queue.bodies
    assert first == again
    assert [r["timestamp"] for r in env.records()[:2]] == [format_ts(DOOR_NOW), "2025-11-26T03:44:56.123Z"]


def _request_of(count: int) -> Any:
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for i in range(count):
        scope_logs.log_records.add(
            time_unix_nano=1_764_128_696_000_000_000 + i, body=AnyValue(string_value=f"{i}")
        )
    return otlp.decode(request.SerializeToString(), otlp.PROTOBUF)


def test_records_come_a_chunk_at_a_time_in_order() -> None:
    request = _request_of(7)
    ids = [f"{i:026d}" for i in range(7)]
    chunks = list(
        otlp.stored_chunks(request, Limits(), tenant_id=TENANT, received_ms=NOW, log_ids=ids, size=3)
    )
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    assert [r["message"] for chunk in chunks for r in chunk] == [str(i) for i in range(7)]
    (whole,) = otlp.stored_chunks(request, Limits(), tenant_id=TENANT, received_ms=NOW, log_ids=ids)
    assert [r for chunk in chunks for r in chunk] == whole  # the chunks change nothing in the records


def test_another_tenant_in_a_later_chunk_is_raised_after_the_last_chunk_with_its_index() -> None:
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for i in range(5):
        record = scope_logs.log_records.add(body=AnyValue(string_value=f"{i}"))
        if i == 3:
            record.attributes.add(key="tenant_id", value=AnyValue(string_value="evil"))
    decoded = otlp.decode(request.SerializeToString(), otlp.PROTOBUF)
    ids = [f"{i:026d}" for i in range(5)]
    chunks = otlp.stored_chunks(decoded, Limits(), tenant_id=TENANT, received_ms=NOW, log_ids=ids, size=2)
    assert [r["message"] for r in next(chunks)] == ["0", "1"]
    assert [r["message"] for r in next(chunks)] == ["2", "4"]  # record 3 refused: not built
    with pytest.raises(ApiError) as err:
        next(chunks)
    assert (err.value.status, err.value.code, err.value.detail["index"]) == (403, "tenant_mismatch", 3)
