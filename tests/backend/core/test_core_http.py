"""core.http: reading API Gateway HTTP API (payload 2.0) events and building responses."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from logpipe_backend.core.errors import ApiError, too_many_requests
from logpipe_backend.core.http import body_bytes, error_response, header, json_response, query_params


def _event(**overrides: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "POST /ingest",
        "rawPath": "/ingest",
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-api-key": "k"},
        "requestContext": {"http": {"method": "POST", "path": "/ingest"}},
        "body": '{"a":1}',
        "isBase64Encoded": False,
    }
    event.update(overrides)
    return event


def test_header_is_case_insensitive() -> None:
    event = _event()
    assert header(event, "Content-Type") == "application/json"
    assert header(event, "X-API-KEY") == "k"
    assert header(event, "missing") is None


def test_header_tolerates_a_hand_built_event_with_mixed_case_names() -> None:
    assert header(_event(headers={"Content-Encoding": "gzip"}), "content-encoding") == "gzip"


def test_header_without_headers_map() -> None:
    assert header({"version": "2.0"}, "content-type") is None
    assert header(_event(headers=None), "content-type") is None


def test_body_bytes_plain_text_is_utf8() -> None:
    assert body_bytes(_event(body="héllo")) == "héllo".encode()


def test_body_bytes_base64_gzip() -> None:
    raw = gzip.compress(b'{"message":"x"}\n')
    event = _event(body=base64.b64encode(raw).decode(), isBase64Encoded=True)
    assert body_bytes(event) == raw


def test_body_bytes_missing_body_is_empty() -> None:
    assert body_bytes(_event(body=None)) == b""
    assert body_bytes({"version": "2.0"}) == b""


def test_body_bytes_bad_base64_is_400() -> None:
    with pytest.raises(ApiError) as info:
        body_bytes(_event(body="not base64!!", isBase64Encoded=True))
    assert info.value.status == 400
    assert info.value.code == "invalid_body"


def test_body_bytes_lone_surrogate_text_does_not_crash() -> None:
    # It comes out as bytes that are not UTF-8, which body parsing then refuses with 400 invalid_utf8.
    data = body_bytes(_event(body="a\ud800b"))
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")


def test_query_params_from_query_string_parameters() -> None:
    event = _event(queryStringParameters={"tenant": "acme", "level": "warn"})
    assert query_params(event) == {"tenant": "acme", "level": "warn"}


def test_query_params_from_raw_query_string_decoded_and_repeated_joined() -> None:
    event = _event(rawQueryString="tenant=acme&contains=disk%20full&x=1&x=2&empty=")
    assert query_params(event) == {"tenant": "acme", "contains": "disk full", "x": "1,2", "empty": ""}


def test_query_params_none() -> None:
    assert query_params(_event()) == {}
    assert query_params({}) == {}


def test_json_response_shape() -> None:
    response = json_response(202, {"accepted": 1, "message": "é"}, {"X-Request-Id": "r1"})
    assert response["statusCode"] == 202
    assert response["headers"] == {"content-type": "application/json", "x-request-id": "r1"}
    assert response["isBase64Encoded"] is False
    assert json.loads(response["body"]) == {"accepted": 1, "message": "é"}
    assert " " not in response["body"]  # compact


def test_error_response_contract_body() -> None:
    err = ApiError(400, "invalid_json", "line 3 is not valid JSON", line=3)
    response = error_response(err)
    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {
        "error": {"code": "invalid_json", "message": "line 3 is not valid JSON", "line": 3}
    }
    assert "retry-after" not in response["headers"]


def test_error_response_sets_retry_after() -> None:
    response = error_response(too_many_requests("queue_full", "slow down", retry_after=7))
    assert response["statusCode"] == 429
    assert response["headers"]["retry-after"] == "7"
    assert json.loads(response["body"])["error"]["retry_after"] == 7
