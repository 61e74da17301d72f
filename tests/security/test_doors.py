"""The shippers' doors under attack over a real socket (issue 14): OTLP/HTTP, Loki push and Splunk HEC get
the same refusals as POST /ingest — garbage, deep nesting, bombs, oversized batches, another tenant named
in a label, attribute or header — each in its protocol's own error shape, with nothing queued, and the
server still serving.

One stack with no workers serves the module, so the queue's row count is exact.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator

import cramjam
import httpx
import pytest
from logpipe_backend.core.protos import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from sec_local import LocalServer, assert_serving, queue_rows, start_module_server

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    yield from start_module_server(tmp_path_factory, "doors")


@pytest.fixture(scope="module")
def keys(server: LocalServer) -> dict[str, str]:
    return {tenant: server.create_tenant(tenant) for tenant in ("acme", "beta")}


@pytest.fixture(scope="module")
def gzip_bomb() -> bytes:
    """64 MiB of zeros in ~64 KiB of gzip: four times the decoded cap."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    return b"".join([*(compressor.compress(zeros) for _ in range(64)), compressor.flush()])


def basic(user: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()


def post(server: LocalServer, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{server.url}{path}", content=body, headers=headers, timeout=60)


def refused(server: LocalServer, keys: dict[str, str], send: httpx.Response, status: int) -> httpx.Response:
    assert send.status_code == status, (send.status_code, send.content[:300])
    assert queue_rows(server) == _queued.get(server.url, 0), "a refused request queued something"
    assert_serving(server, keys["acme"])
    _queued[server.url] = queue_rows(server)
    return send


_queued: dict[str, int] = {}


# --- OTLP/HTTP ---------------------------------------------------------------------------------------


def otlp_request(*messages: str) -> ExportLogsServiceRequest:
    request = ExportLogsServiceRequest()
    scope_logs = request.resource_logs.add().scope_logs.add()
    for message in messages:
        scope_logs.log_records.add(body=AnyValue(string_value=message))
    return request


def nested_otlp(depth: int) -> bytes:
    request = otlp_request("deep")
    value = request.resource_logs[0].scope_logs[0].log_records[0].attributes.add(key="k").value
    for _ in range(depth):
        value = value.array_value.values.add()
    return bytes(request.SerializeToString())


def otlp_cases(keys: dict[str, str], bomb: bytes) -> list[tuple[str, bytes, dict[str, str], int, str]]:
    pb = {"authorization": f"Bearer {keys['acme']}", "content-type": "application/x-protobuf"}
    other_tenant = otlp_request("theirs")
    other_tenant.resource_logs[0].scope_logs[0].log_records[0].attributes.add(
        key="tenant_id", value=AnyValue(string_value="beta")
    )
    too_many = otlp_request(*["x"] * 10_001).SerializeToString()
    as_beta = {**pb, "authorization": basic("beta", keys["acme"])}
    unknown_json = {"content-type": "application/json", "authorization": "Bearer lp_x"}
    # Nesting: protobuf's parser stops at 100 message levels (50 AnyValues), before json_depth (64) could
    # (the handler tests reach json_depth with a lower limit).
    return [
        ("garbage", b"\x0a\xff\xff\xff\xff\x0f", pb, 400, "invalid_protobuf"),
        ("deep nesting", nested_otlp(200), pb, 400, "invalid_protobuf"),
        ("gzip bomb", bomb, {**pb, "content-encoding": "gzip"}, 413, "payload_too_large (decoded_bytes)"),
        ("oversized batch", too_many, pb, 413, "payload_too_large (records)"),
        ("another tenant's attribute", other_tenant.SerializeToString(), pb, 403, "tenant_mismatch"),
        ("Basic user of another tenant", b"", as_beta, 403, "tenant_mismatch"),
        ("no credential", b"", {"content-type": "application/x-protobuf"}, 401, "unauthorized"),
        ("unknown key over JSON", b"{", unknown_json, 401, "unauthorized"),
    ]


def test_otlp_hostile_requests(server: LocalServer, keys: dict[str, str], gzip_bomb: bytes) -> None:
    for name, body, headers, status, code in otlp_cases(keys, gzip_bomb):
        response = refused(server, keys, post(server, "/v1/logs", body, headers), status)
        if headers["content-type"] == "application/json":
            assert response.headers["content-type"] == "application/json", name
            message = json.loads(response.content)["message"]
        else:
            assert response.headers["content-type"] == "application/x-protobuf", name
            message = Status.FromString(response.content).message
        assert message.startswith(code), (name, message)


# --- Loki push ---------------------------------------------------------------------------------------


def loki_json(labels: dict[str, str], lines: int = 1) -> bytes:
    return json.dumps(
        {"streams": [{"stream": labels, "values": [["1764128696000000000", "x"]] * lines}]}
    ).encode()


def test_loki_hostile_requests(server: LocalServer, keys: dict[str, str], gzip_bomb: bytes) -> None:
    js = {"authorization": basic("acme", keys["acme"]), "content-type": "application/json"}
    pb = {**js, "content-type": "application/x-protobuf"}
    snappy_bomb = bytes(cramjam.snappy.compress_raw(bytes(20 * MIB)))
    garbage_proto = bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff\xff\xff\x0f"))
    deep = b'{"streams": ' + b"[" * 100 + b"]" * 100 + b"}"
    gzipped = {**js, "content-encoding": "gzip"}
    too_big = "payload_too_large (decoded_bytes)"
    one = loki_json({})
    cases = [
        ("garbage snappy", b"\xff" * 64, pb, 400, "invalid_snappy"),
        ("garbage protobuf", garbage_proto, pb, 400, "invalid_protobuf"),
        ("snappy bomb", snappy_bomb, pb, 413, too_big),
        ("gzip bomb", gzip_bomb, gzipped, 413, too_big),
        ("deep nesting", deep, js, 413, "payload_too_large (json_depth)"),
        ("oversized batch", loki_json({}, 10_001), js, 413, "payload_too_large (records)"),
        ("tenant label", loki_json({"tenant_id": "beta"}), js, 403, "tenant_mismatch"),
        ("X-Scope-OrgID", one, {**js, "x-scope-orgid": "beta"}, 403, "tenant_mismatch"),
        ("Basic user", one, {**js, "authorization": basic("beta", keys["acme"])}, 403, "tenant_mismatch"),
        ("unknown key", one, {**js, "authorization": basic("acme", "lp_nope")}, 401, "unauthorized"),
    ]
    for name, body, headers, status, code in cases:
        response = refused(server, keys, post(server, "/loki/api/v1/push", body, headers), status)
        assert response.headers["content-type"].startswith("text/plain"), name
        assert response.text.startswith(code), (name, response.text)
    assert len(snappy_bomb) < 2 * MIB < cramjam.snappy.decompress_raw_len(snappy_bomb)  # small on the wire


# --- Splunk HEC --------------------------------------------------------------------------------------


def test_hec_hostile_requests(server: LocalServer, keys: dict[str, str], gzip_bomb: bytes) -> None:
    hec = {"authorization": f"Splunk {keys['acme']}"}
    deep = b'{"event": ' + b"[" * 100 + b"]" * 100 + b"}"
    many = b'{"event": "x"}' * 10_001
    cases = [
        ("garbage", b"\x00\xff{", hec, 400, 6),
        ("deep nesting", deep, hec, 413, 6),
        ("gzip bomb", gzip_bomb, {**hec, "content-encoding": "gzip"}, 413, 6),
        ("oversized batch", many, hec, 413, 6),
        ("another tenant's event", b'{"event": {"tenant_id": "beta", "message": "x"}}', hec, 403, 4),
        ("no token", b'{"event": "x"}', {}, 401, 2),
        ("unknown token", b'{"event": "x"}', {"authorization": "Splunk lp_nope"}, 403, 4),
    ]
    for name, body, headers, status, code in cases:
        response = refused(server, keys, post(server, "/services/collector/event", body, headers), status)
        assert response.json()["code"] == code, (name, response.text)


def test_no_record_crosses_tenants_and_no_handler_failed(server: LocalServer, keys: dict[str, str]) -> None:
    body = otlp_request("acme's own").SerializeToString()
    headers = {"authorization": f"Bearer {keys['acme']}", "content-type": "application/x-protobuf"}
    assert post(server, "/v1/logs", body, headers).status_code == 200
    assert "handler failed" not in server.log_text() and "Traceback" not in server.log_text()
