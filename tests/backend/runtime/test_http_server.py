"""The local server's translation of HTTP requests into API Gateway 2.0 events, and back."""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from logpipe_backend.core.http import body_bytes
from logpipe_backend.runtime.server import LocalHttpServer, Routes, build_event, response_parts


def test_build_event_shape() -> None:
    event = build_event(
        method="POST",
        target="/ingest?a=1&a=2&b=x%20y",
        headers=[("Host", "127.0.0.1:8080"), ("X-Thing", "1"), ("x-thing", "2"), ("Cookie", "c=1; d=2")],
        body=b'{"m": 1}',
        source_ip="127.0.0.1",
        now_ms=1_764_128_696_123,
        request_id="rid",
    )
    assert event["version"] == "2.0" and event["routeKey"] == "POST /ingest"
    assert event["rawPath"] == "/ingest" and event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["headers"] == {"host": "127.0.0.1:8080", "x-thing": "1,2"}
    assert event["cookies"] == ["c=1", "d=2"]
    ctx = event["requestContext"]
    assert ctx["http"] == {
        "method": "POST",
        "path": "/ingest",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "",
    }
    assert ctx["requestId"] == "rid" and ctx["timeEpoch"] == 1_764_128_696_123
    assert event["body"] == '{"m": 1}' and event["isBase64Encoded"] is False


def test_binary_and_gzip_bodies_are_base64() -> None:
    raw = gzip.compress(b"hello")
    event = build_event(
        method="POST",
        target="/ingest",
        headers=[("Content-Encoding", "gzip")],
        body=raw,
        source_ip="127.0.0.1",
    )
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == raw
    bad_utf8 = build_event(method="POST", target="/ingest", headers=[], body=b"\xff", source_ip="::1")
    assert bad_utf8["isBase64Encoded"] is True
    empty = build_event(method="GET", target="/admin/logs", headers=[], body=b"", source_ip="::1")
    assert "body" not in empty and "queryStringParameters" not in empty


@pytest.mark.parametrize("body", [gzip.compress(b"hello"), b"\xff", b'{"m": 1}', b"", "é\n".encode()])
@pytest.mark.parametrize("encoding", [[("Content-Encoding", "gzip")], []])
def test_binary_as_bytes_gives_the_same_body(body: bytes, encoding: list[tuple[str, str]]) -> None:
    # The local server's events carry a binary body as bytes instead of base64: the same body to a handler.
    def event(as_bytes: bool) -> dict[str, Any]:
        return build_event(
            method="POST", target="/ingest", headers=encoding, body=body, source_ip="::1",
            now_ms=1, request_id="r", binary_as_bytes=as_bytes,
        )  # fmt: skip

    lambda_like, local = event(False), event(True)
    assert body_bytes(local) == body_bytes(lambda_like) == body
    if lambda_like.get("isBase64Encoded"):
        assert local["body"] == body and local["isBase64Encoded"] is False
    else:  # text stays text, as API Gateway hands it over
        assert local == lambda_like


def test_response_parts() -> None:
    resp = {"statusCode": 202, "headers": {"Content-Type": "application/json"}, "body": "{}"}
    assert response_parts(resp) == (202, {"content-type": "application/json"}, b"{}")
    b64 = {"statusCode": 200, "body": base64.b64encode(b"\x00").decode(), "isBase64Encoded": True}
    assert response_parts(b64)[2] == b"\x00"


@pytest.fixture
def echo_server() -> Iterator[tuple[LocalHttpServer, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any]) -> dict[str, Any]:
        seen.append(event)
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json"},
            "body": json.dumps({"ok": 1}),
        }

    routes = Routes(ingest=handler, admin=handler, health=lambda: {"status": "ok"}, max_body_bytes=1000)
    server = LocalHttpServer(("127.0.0.1", 0), routes)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server, seen
    server.stop()
    thread.join(timeout=5)


def test_routes_keepalive_and_limits(echo_server: tuple[LocalHttpServer, list[dict[str, Any]]]) -> None:
    server, seen = echo_server
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.post("/ingest", content=b"abc").status_code == 200
        assert client.get("/admin/logs?tenant=acme").status_code == 200
        assert client.get("/healthz").json() == {"status": "ok"}
        head = client.head("/admin/logs")
        assert head.status_code == 200 and head.content == b"" and head.headers["content-length"] == "9"
        missing = client.get("/nope")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        assert client.post("/healthz").status_code == 405
        too_big = client.post("/ingest", content=b"x" * 1001)
        assert too_big.status_code == 413 and too_big.json()["error"]["limit"] == "body_bytes"

        def chunks() -> Iterator[bytes]:
            yield b"ab"
            yield b"cd"

        assert client.post("/ingest", content=chunks()).status_code == 200

        def big_chunks() -> Iterator[bytes]:
            for _ in range(20):
                yield b"y" * 100

        assert client.post("/ingest", content=big_chunks()).status_code == 413
    bodies = [e.get("body") for e in seen if e["requestContext"]["http"]["method"] == "POST"]
    assert bodies == ["abc", "abcd"]  # nothing over the cap reached a handler


def test_server_hands_a_binary_body_over_as_bytes(
    echo_server: tuple[LocalHttpServer, list[dict[str, Any]]],
) -> None:
    server, seen = echo_server
    raw = gzip.compress(b"hello")
    with httpx.Client(base_url=server.url, timeout=5) as client:
        assert client.post("/ingest", content=raw, headers={"content-encoding": "gzip"}).status_code == 200
    assert seen[-1]["body"] == raw and seen[-1]["isBase64Encoded"] is False


def test_oversized_content_length_is_refused_before_reading(
    echo_server: tuple[LocalHttpServer, list[dict[str, Any]]],
) -> None:
    server, seen = echo_server
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=5) as sock:
        sock.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):  # the server closes after answering
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b"body_bytes" in reply
    assert seen == []


def test_an_overlong_request_line_gets_a_real_414(
    echo_server: tuple[LocalHttpServer, list[dict[str, Any]]],
) -> None:
    """Over 64 KiB the stdlib does not parse the line; the answer still has a status line and JSON."""
    server, seen = echo_server
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=5) as sock:
        sock.sendall(b"GET /admin/logs?where=" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414") and json.loads(body)["error"]["code"] == "http_414"
    assert seen == []


def test_stop_waits_for_in_flight_request() -> None:
    started = threading.Event()
    release = threading.Event()

    def slow(event: dict[str, Any]) -> dict[str, Any]:
        started.set()
        release.wait(5)
        return {"statusCode": 202, "headers": {}, "body": "done"}

    routes = Routes(ingest=slow, admin=slow, health=lambda: {}, max_body_bytes=1000)
    server = LocalHttpServer(("127.0.0.1", 0), routes)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    result: dict[str, Any] = {}

    def client() -> None:
        r = httpx.post(f"{server.url}/ingest", content=b"x", timeout=10)
        result["status"], result["body"] = r.status_code, r.text

    idle = socket.create_connection(server.server_address[:2])  # an idle keep-alive connection
    c = threading.Thread(target=client)
    c.start()
    assert started.wait(5)
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    stopper.join(0.3)
    assert stopper.is_alive()  # still waiting for the in-flight request
    release.set()
    stopper.join(5)
    c.join(5)
    thread.join(5)
    idle.close()
    assert not stopper.is_alive()
    assert result == {"status": 202, "body": "done"}


def test_slow_client_is_cut_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from logpipe_backend.runtime import server as server_module

    monkeypatch.setattr(server_module._RequestHandler, "timeout", 0.3)
    seen: list[dict[str, Any]] = []
    routes = Routes(
        ingest=lambda e: seen.append(e) or {"statusCode": 200},
        admin=lambda e: {"statusCode": 200},
        health=lambda: {},
        max_body_bytes=1000,
    )
    server = LocalHttpServer(("127.0.0.1", 0), routes)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with socket.create_connection(server.server_address[:2], timeout=5) as sock:
            sock.sendall(b"POST /ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
            t0 = time.monotonic()
            data = sock.recv(4096)  # the server gives up on the body and closes the connection
            assert data == b"" and time.monotonic() - t0 < 3
    finally:
        server.stop()
        thread.join(timeout=5)
    assert seen == []


def test_ipv6_loopback() -> None:
    try:
        server = LocalHttpServer(("::1", 0), Routes(lambda e: {}, lambda e: {}, lambda: {"ok": 1}, 10))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        assert server.url.startswith("http://[::1]:")
        assert httpx.get(f"{server.url}/healthz", timeout=5).json() == {"ok": 1}
    finally:
        server.stop()
        thread.join(timeout=5)


def test_big_refused_body_still_gets_its_413(
    echo_server: tuple[LocalHttpServer, list[dict[str, Any]]],
) -> None:
    server, seen = echo_server
    for _ in range(3):  # a reset instead of the answer would be intermittent: try a few times
        r = httpx.post(f"{server.url}/ingest", content=b"z" * (8 * 1024 * 1024), timeout=10)
        assert r.status_code == 413 and r.json()["error"]["limit"] == "body_bytes"
    assert seen == []
