"""API Gateway HTTP API (payload format 2.0) helpers: read an event, build a response.

The local HTTP server builds the same event shape, so handlers use only these helpers and never care
where they run. In a 2.0 event header names arrive lower-cased, repeated headers and query parameters are
joined with commas, and a binary body (e.g. gzip) arrives base64-encoded with ``isBase64Encoded``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from logpipe_backend.core.errors import ApiError, bad_request

JSON_CONTENT_TYPE = "application/json"

# Compact, and non-ASCII kept as UTF-8: smaller responses; the body is text, so any code point is fine.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def header(event: Mapping[str, Any], name: str) -> str | None:
    """The value of header ``name`` (any case), or None when absent."""
    headers = event.get("headers") or {}
    wanted = name.lower()
    value = headers.get(wanted)
    if value is not None:
        return str(value)
    # API Gateway lower-cases names, but a hand-built event (tests, local server) may not.
    for key, candidate in headers.items():
        if key.lower() == wanted:
            return str(candidate)
    return None


def body_bytes(event: Mapping[str, Any]) -> bytes:
    """The request body as sent: base64-decoded when ``isBase64Encoded``, else the text as UTF-8 (bytes as
    they are: the local server hands binary bodies over so).

    Raises ApiError 400 ``invalid_body`` when a base64 body does not decode.
    """
    body = event.get("body")
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise bad_request("invalid_body", "the body is marked base64 but does not decode") from exc
    # surrogatepass: a text body with lone surrogates becomes bytes that fail UTF-8 validation later,
    # which answers 400 invalid_utf8 instead of crashing here.
    return str(body).encode("utf-8", "surrogatepass")


def query_params(event: Mapping[str, Any]) -> dict[str, str]:
    """Query string parameters, URL-decoded (from ``queryStringParameters``, else ``rawQueryString``)."""
    params = event.get("queryStringParameters")
    if params:
        return {str(k): str(v) for k, v in params.items() if v is not None}
    raw = event.get("rawQueryString") or ""
    result: dict[str, str] = {}
    for key, value in parse_qsl(str(raw), keep_blank_values=True):
        # Same rule as API Gateway 2.0: repeated parameters are joined with commas.
        result[key] = f"{result[key]},{value}" if key in result else value
    return result


def query_values(event: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every value of every query parameter, in order. From ``rawQueryString`` (API Gateway 2.0 and the local
    server both send it): ``queryStringParameters`` joins repeated parameters with commas, which would make
    ``where=a=1,2&where=b`` ambiguous. Events without it fall back to ``queryStringParameters``."""
    raw = event.get("rawQueryString")
    if raw is None:
        return {key: [value] for key, value in query_params(event).items()}
    result: dict[str, list[str]] = {}
    for key, value in parse_qsl(str(raw), keep_blank_values=True):
        result.setdefault(key, []).append(value)
    return result


def json_response(status: int, body: object, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A 2.0 response with a compact JSON body and ``content-type: application/json``."""
    return json_text_response(status, _ENCODER.encode(body), headers)


def json_text_response(status: int, text: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """:func:`json_response` of a body already in JSON (``text``, as ``json_response`` would write it)."""
    all_headers = {"content-type": JSON_CONTENT_TYPE}
    if headers:
        all_headers.update({k.lower(): v for k, v in headers.items()})
    return {"statusCode": status, "headers": all_headers, "body": text, "isBase64Encoded": False}


def error_response(err: ApiError) -> dict[str, Any]:
    """The JSON error of contract.md §3; ``retry-after`` is set when the error carries ``retry_after``."""
    headers: dict[str, str] = {}
    retry_after = err.detail.get("retry_after")
    if retry_after is not None:
        headers["retry-after"] = str(retry_after)
    return json_response(err.status, err.to_body(), headers)
