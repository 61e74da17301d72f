"""HTTP request ⇄ API Gateway HTTP API (payload 2.0) event: what the local server hands the handlers, and
how it reads their answers back. The same shapes API Gateway produces on AWS, so one handler serves both
(docs/contract.md §1); the HTTP mechanics (limits, timeouts, keep-alive) are the server's (runtime/server.py).
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from logpipe_backend.runtime.routes import Event

__all__ = ["build_event", "error_parts", "json_bytes", "openapi_document", "response_parts"]


def json_bytes(body: object) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def error_parts(status: int, code: str, message: str, **detail: Any) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        {"content-type": "application/json"},
        json_bytes({"error": {"code": code, "message": message, **detail}}),
    )


def _request_id() -> str:
    # API Gateway's request ids are short opaque strings; uniqueness is all that matters.
    return secrets.token_urlsafe(12)


def build_event(
    *,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes,
    source_ip: str,
    now_ms: int | None = None,
    request_id: str | None = None,
    binary_as_bytes: bool = False,
) -> Event:
    """The API Gateway HTTP API payload 2.0 event for one request (what a Lambda would receive).

    ``binary_as_bytes`` (the local server's own events): a body that is not UTF-8 text is handed over as the
    bytes it is, with ``isBase64Encoded`` false, instead of in base64 (``core.http.body_bytes`` takes either);
    base64 would only be encoded here to be decoded again by the handler, on every gzip body.
    """
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    split = urlsplit(target)
    raw_path = split.path or "/"
    raw_query = split.query
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        # API Gateway 2.0 joins repeated headers with commas.
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    request_id = request_id or _request_id()
    route_key = f"{method} {unquote(raw_path)}"
    event: Event = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": "local",
            "apiId": "local",
            "domainName": merged.get("host", "localhost"),
            "domainPrefix": merged.get("host", "localhost").split(".")[0],
            "http": {
                "method": method,
                "path": unquote(raw_path),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
            "timeEpoch": now_ms,
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if params:
        event["queryStringParameters"] = params
    if body:
        encoding = merged.get("content-encoding", "").strip().lower()
        text: str | None = None
        if encoding in ("", "identity"):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        # Like API Gateway with binary media types: anything that is not plain UTF-8 text goes base64.
        if text is None and binary_as_bytes:
            event["body"] = body
        elif text is None:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
        else:
            event["body"] = text
    return event


def response_parts(response: Mapping[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body bytes) from a handler's 2.0 response."""
    status = int(response.get("statusCode", 200))
    headers = {str(k).lower(): str(v) for k, v in (response.get("headers") or {}).items()}
    raw = response.get("body")
    if raw is None:
        body = b""
    elif response.get("isBase64Encoded"):
        body = base64.b64decode(str(raw))
    else:
        body = str(raw).encode("utf-8")
    return status, headers, body


@functools.cache
def openapi_document() -> bytes:
    """The OpenAPI 3.1 description of the HTTP API (package data ``logpipe_backend/openapi.json``)."""
    return importlib.resources.files("logpipe_backend").joinpath("openapi.json").read_bytes()
