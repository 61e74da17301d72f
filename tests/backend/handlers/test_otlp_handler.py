"""POST /v1/logs through the ingest function: OTLP protobuf and JSON in, records queued, OTLP answers out."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from door_fakes import DoorEnv, door_event
from handler_fakes import ACME_KEY
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.protos import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN = bytes.fromhex("eee19b7ec3c1b174")
PB = {"authorization": f"Bearer {ACME_KEY}", "content-type": "application/x-protobuf"}
JS = {"authorization": f"Bearer {ACME_KEY}", "content-type": "application/json"}


def request(*bodies: str, **fields: Any) -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.add(key="service.name", value=AnyValue(string_value="checkout"))
    sl = rl.scope_logs.add()
    sl.scope.name = "app.payments"
    sl.scope.version = "1.2"
    for body in bodies:
        sl.log_records.add(body=AnyValue(string_value=body), **fields)
    return req


def test_protobuf_maps_every_field() -> None:
    env = DoorEnv()
    req = request()
    r = (
        req.resource_logs[0]
        .scope_logs[0]
        .log_records.add(
            time_unix_nano=1_764_128_696_123_456_789,
            observed_time_unix_nano=1_764_128_699_000_000_000,
            severity_number=17,
            severity_text="ERROR",
            trace_id=TRACE,
            span_id=SPAN,
            flags=1,
        )
    )
    r.body.kvlist_value.values.add(key="order", value=AnyValue(int_value=42))
    r.attributes.extend(
        [
            KeyValue(key="http.status", value=AnyValue(int_value=500)),
            KeyValue(key="ratio", value=AnyValue(double_value=0.5)),
            KeyValue(key="nan", value=AnyValue(double_value=float("nan"))),
            KeyValue(key="ok", value=AnyValue(bool_value=False)),
            KeyValue(key="blob", value=AnyValue(bytes_value=b"\x00\x01")),
            KeyValue(key="message", value=AnyValue(string_value="an attribute named message")),
        ]
    )
    tags = r.attributes.add(key="tags").value.array_value.values
    tags.extend([AnyValue(string_value="a"), AnyValue(int_value=1)])
    status, headers, body = env.call(door_event("/v1/logs", req.SerializeToString(), PB))
    assert status == 200, body
    assert headers["content-type"] == "application/x-protobuf"
    assert not ExportLogsServiceResponse.FromString(body).HasField("partial_success")
    [record] = env.records()
    assert record["tenant_id"] == "acme"
    assert record["timestamp"] == "2025-11-26T03:44:56.123Z"
    assert record["level"] == "error"
    assert json.loads(record["message"]) == {"order": 42}
    assert record["attributes"] == {
        "http.status": 500,
        "ratio": 0.5,
        "nan": "NaN",
        "ok": False,
        "blob": "AAE=",
        "attribute.message": "an attribute named message",
        "tags": ["a", 1],
        "timestamp_ns": "1764128696123456789",
        "resource": {"service.name": "checkout"},
        "scope": {"name": "app.payments", "version": "1.2"},
        "trace_id": TRACE.hex(),
        "span_id": SPAN.hex(),
        "trace_flags": 1,
    }


@pytest.mark.parametrize(
    ("number", "text", "level"),
    [(1, "", "trace"), (5, "", "debug"), (9, "", "info"), (13, "", "warn"), (21, "", "fatal"),
     (0, "Warning", "warn"), (0, "", "info"), (0, "custom", "info"), (10, "whatever", "info")],
)  # fmt: skip
def test_severity_to_level(number: int, text: str, level: str) -> None:
    env = DoorEnv()
    req = request("x", severity_number=number, severity_text=text)
    assert env.call(door_event("/v1/logs", req.SerializeToString(), PB))[0] == 200
    assert env.records()[0]["level"] == level


def test_observed_time_when_time_is_absent() -> None:
    env = DoorEnv()
    req = request("x", observed_time_unix_nano=1_764_128_696_123_000_000)
    assert env.call(door_event("/v1/logs", req.SerializeToString(), PB))[0] == 200
    [record] = env.records()
    assert record["timestamp"] == "2025-11-26T03:44:56.123Z" and "timestamp_ns" not in record["attributes"]


def test_json_follows_otlp_json_rules_gzipped() -> None:
    env = DoorEnv()
    doc = {
        "resourceLogs": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
                "scopeLogs": [
                    {
                        "scope": {"name": "s"},
                        "logRecords": [
                            {
                                "timeUnixNano": "1764128696123000000",
                                "severityNumber": 13,
                                "body": {"stringValue": "slow"},
                                "traceId": TRACE.hex(),
                                "spanId": SPAN.hex(),
                                "attributes": [{"key": "n", "value": {"intValue": "7"}}],
                                "someFutureField": {"x": 1},
                            }
                        ],
                    }
                ],
            }
        ]
    }
    headers = {**JS, "content-encoding": "gzip"}
    status, out_headers, body = env.call(
        door_event("/v1/logs", gzip.compress(json.dumps(doc).encode()), headers)
    )
    assert status == 200, body
    assert out_headers["content-type"] == "application/json" and json.loads(body) == {}
    [record] = env.records()
    assert record["message"] == "slow" and record["level"] == "warn"
    assert record["attributes"]["trace_id"] == TRACE.hex() and record["attributes"]["span_id"] == SPAN.hex()
    assert record["attributes"]["n"] == 7 and record["attributes"]["resource"] == {"service.name": "web"}


def test_partial_success_for_records_over_the_size_limit() -> None:
    env = DoorEnv(Limits(record_bytes=2000))
    req = request("small", "x" * 5000, "also small")
    status, _, body = env.call(door_event("/v1/logs", req.SerializeToString(), PB))
    assert status == 200
    partial = ExportLogsServiceResponse.FromString(body).partial_success
    assert partial.rejected_log_records == 1 and "2000 bytes" in partial.error_message
    assert [r["message"] for r in env.records()] == ["small", "also small"]


def status_of(body: bytes) -> Any:
    return Status.FromString(body)


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"\xff\xff\xff", PB, 400, "invalid_protobuf"),
        (b"{", JS, 400, "invalid_json"),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}',
            JS,
            400,
            "invalid_otlp",
        ),
        (b'{"resourceLogs": 5}', JS, 400, "invalid_otlp"),
        (b"", {**PB, "content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b"", {"content-type": "application/x-protobuf"}, 401, "unauthorized"),
        (b"", {**PB, "authorization": "Bearer lp_nope"}, 401, "unauthorized"),
        (gzip.compress(b"\0" * 20_000_000), {**PB, "content-encoding": "gzip"}, 413, "payload_too_large"),
    ],
)
def test_bad_requests_answer_a_status_in_the_request_encoding(
    body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    env = DoorEnv()
    got, out_headers, out = env.call(door_event("/v1/logs", body, headers))
    assert got == status
    if out_headers["content-type"] == "application/json":
        message = json.loads(out)["message"]
    else:
        message = status_of(out).message
    assert message.startswith(code), message
    assert env.queue.bodies == []


def test_too_many_records_and_deep_nesting_are_413() -> None:
    env = DoorEnv(Limits(records=2, json_depth=5))
    assert env.call(door_event("/v1/logs", request("a", "b", "c").SerializeToString(), PB))[0] == 413
    deep = request("x")
    value = deep.resource_logs[0].scope_logs[0].log_records[0].attributes.add(key="k").value
    for _ in range(10):
        value = value.kvlist_value.values.add(key="k").value
    status, _, body = env.call(door_event("/v1/logs", deep.SerializeToString(), PB))
    assert status == 413 and "json_depth" in status_of(body).message
    assert env.queue.bodies == []


def test_a_record_naming_another_tenant_is_403_and_nothing_is_queued() -> None:
    env = DoorEnv()
    req = request("mine", "theirs")
    req.resource_logs[0].scope_logs[0].log_records[1].attributes.add(
        key="tenant_id", value=AnyValue(string_value="beta")
    )
    status, _, body = env.call(door_event("/v1/logs", req.SerializeToString(), PB))
    assert status == 403 and status_of(body).message.startswith("tenant_mismatch")
    assert env.queue.bodies == []


def test_basic_auth_user_must_be_the_keys_tenant() -> None:
    env = DoorEnv()
    req = request("x").SerializeToString()
    wrong = {**PB, "authorization": "Basic " + base64.b64encode(f"beta:{ACME_KEY}".encode()).decode()}
    assert env.call(door_event("/v1/logs", req, wrong))[0] == 403
    right = {**PB, "authorization": "Basic " + base64.b64encode(f"acme:{ACME_KEY}".encode()).decode()}
    assert env.call(door_event("/v1/logs", req, right))[0] == 200


def test_queue_full_is_429_with_retry_after_and_queue_down_503() -> None:
    env = DoorEnv(max_depth=1)
    env.queue.depth_override = 5
    status, headers, _ = env.call(door_event("/v1/logs", request("x").SerializeToString(), PB))
    assert status == 429 and int(headers["retry-after"]) > 0
    env.queue.depth_override = None
    env.queue.unavailable = True
    status, headers, _ = env.call(door_event("/v1/logs", request("x").SerializeToString(), PB))
    assert status == 503 and int(headers["retry-after"]) > 0


def test_get_is_405_and_an_empty_request_is_accepted() -> None:
    env = DoorEnv()
    status, headers, _ = env.call(door_event("/v1/logs", b"", PB, method="GET"))
    assert status == 405 and headers["allow"] == "POST"
    assert env.call(door_event("/v1/logs", b"", PB))[0] == 200
    assert env.queue.bodies == []
