"""POST /loki/api/v1/push through the ingest function: JSON and protobuf+snappy pushes, Loki's answers."""

from __future__ import annotations

import base64
import gzip
import json

import cramjam
import pytest
from door_fakes import DoorEnv, door_event
from handler_fakes import ACME_KEY, BETA_KEY
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.loki import parse_labels
from logpipe_backend.core.protos import LokiPushRequest

PATH = "/loki/api/v1/push"


def basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


JS = {"authorization": basic("acme", ACME_KEY), "content-type": "application/json"}
PB = {"authorization": f"Bearer {ACME_KEY}", "content-type": "application/x-protobuf"}


def push(streams: list[dict[str, object]]) -> bytes:
    return json.dumps({"streams": streams}).encode()


def protobuf_push() -> bytes:
    req = LokiPushRequest()
    stream = req.streams.add(labels='{job="api", detected_level="warn", path="a\\"b"}')
    entry = stream.entries.add(line="slow request")
    entry.timestamp.seconds = 1_764_128_696
    entry.timestamp.nanos = 123_456_789
    entry.structuredMetadata.add(name="trace_id", value="abc")
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def test_json_push_maps_labels_level_timestamps_and_metadata() -> None:
    env = DoorEnv()
    body = push(
        [
            {
                "stream": {"job": "api", "level": "ERROR"},
                "values": [
                    ["1764128696123456789", "boom", {"trace_id": "abc"}],
                    ["1764128697000000000", "again"],
                ],
            },
            {"stream": {"job": "web"}, "values": [["1764128696000000000", "WARN disk almost full"]]},
        ]
    )
    status, _, out = env.call(door_event(PATH, body, JS))
    assert status == 204 and out == b""
    first, second, third = env.records()
    assert first["message"] == "boom" and first["level"] == "error"
    assert first["timestamp"] == "2025-11-26T03:44:56.123Z"
    assert first["attributes"] == {"job": "api", "trace_id": "abc", "timestamp_ns": "1764128696123456789"}
    assert second["attributes"] == {"job": "api"} and second["timestamp"] == "2025-11-26T03:44:57.000Z"
    assert third["level"] == "warn"  # from the line, as a text line's


def test_gzipped_json_push() -> None:
    env = DoorEnv()
    body = gzip.compress(push([{"stream": {"a": "b"}, "values": [["1764128696000000000", "x"]]}]))
    assert env.call(door_event(PATH, body, {**JS, "content-encoding": "gzip"}))[0] == 204
    assert env.records()[0]["attributes"] == {"a": "b"}


def test_protobuf_snappy_push() -> None:
    env = DoorEnv()
    assert env.call(door_event(PATH, protobuf_push(), PB))[0] == 204
    [record] = env.records()
    assert record["message"] == "slow request" and record["level"] == "warn"
    assert record["attributes"] == {
        "job": "api",
        "detected_level": "warn",
        "path": 'a"b',
        "trace_id": "abc",
        "timestamp_ns": "1764128696123456789",
    }


def test_parse_labels() -> None:
    assert parse_labels('{a="1",b = "x\\\\y\\n", c.d="" }') == {"a": "1", "b": "x\\y\n", "c.d": ""}
    assert parse_labels("{}") == {}


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (b"{", JS, 400, "invalid_json"),
        (b'{"streams": 1}', JS, 400, "invalid_data"),
        (push([{"stream": {"a": 1}, "values": []}]), JS, 400, "invalid_data"),
        (push([{"stream": {}, "values": [["soon", "x"]]}]), JS, 400, "invalid_data"),
        (b"not snappy", PB, 400, "invalid_snappy"),
        (bytes(cramjam.snappy.compress_raw(b"\xff\xff")), PB, 400, "invalid_protobuf"),
        (
            bytes(cramjam.snappy.compress_raw(b"\0" * 17_000_000)),
            PB,
            413,
            "payload_too_large (decoded_bytes)",
        ),
        (b"", {**JS, "content-type": "text/plain"}, 415, "unsupported_media_type"),
        (b"", {**JS, "authorization": basic("acme", "lp_wrong")}, 401, "unauthorized"),
        (b"", {**JS, "authorization": basic("beta", ACME_KEY)}, 403, "tenant_mismatch"),
        (b"", {**JS, "x-scope-orgid": "beta"}, 403, "tenant_mismatch"),
        (
            push([{"stream": {"tenant_id": "beta"}, "values": [["1764128696000000000", "x"]]}]),
            JS,
            403,
            "tenant_mismatch",
        ),
    ],
)
def test_bad_pushes_answer_loki_text_errors(
    body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    env = DoorEnv()
    got, out_headers, out = env.call(door_event(PATH, body, headers))
    assert got == status
    assert out_headers["content-type"].startswith("text/plain") and out.decode().startswith(code), out
    assert env.queue.bodies == []


def test_org_id_of_the_keys_tenant_and_bearer_are_accepted() -> None:
    env = DoorEnv()
    body = push([{"stream": {"a": "b"}, "values": [["1764128696000000000", "x"]]}])
    headers = {
        "authorization": f"Bearer {BETA_KEY}",
        "content-type": "application/json",
        "x-scope-orgid": "beta",
    }
    assert env.call(door_event(PATH, body, headers))[0] == 204
    assert env.records()[0]["tenant_id"] == "beta"


def test_too_many_entries_is_413() -> None:
    env = DoorEnv(Limits(records=2))
    body = push([{"stream": {}, "values": [["1", "a"], ["2", "b"], ["3", "c"]]}])
    assert env.call(door_event(PATH, body, JS))[0] == 413
