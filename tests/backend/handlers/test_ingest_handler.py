"""The ingest handler over recorded API Gateway 2.0 events: success paths and every error of contract §3."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import pytest
from handler_fakes import ACME_READ_KEY, BETA_KEY, MemoryIdempotency, MemoryKeys, MemoryQueue, load_event
from logpipe_backend.core.auth import KeyGrant
from logpipe_backend.core.envelope import unpack
from logpipe_backend.core.limits import Limits
from logpipe_backend.handlers import ingest
from logpipe_backend.ports import IngestDeps

NOW = 1_764_128_700_000


class Env:
    def __init__(self, limits: Limits | None = None, max_depth: int = 10_000) -> None:
        self.queue = MemoryQueue()
        self.idem = MemoryIdempotency()
        self.now = NOW
        self.deps = IngestDeps(
            queue=self.queue,
            keys=MemoryKeys(),
            idempotency=self.idem,
            limits=limits or Limits(),
            max_queue_depth=max_depth,
            clock=lambda: self.now,
        )

    def call(self, event: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
        response = ingest.handle(event, self.deps)
        return response["statusCode"], response["headers"], json.loads(response["body"])

    def records(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for body in self.queue.bodies:
            out.extend(dict(r) for r in unpack(body)[1])
        return out


def test_seed_example_json() -> None:
    env = Env()
    status, headers, body = env.call(load_event("apigw_ingest_json.json"))
    assert status == 202, body
    assert headers["content-type"] == "application/json"
    assert body["accepted"] == 1 and body["request_id"] == "JKJaXmPLvHcESHA="
    [record] = env.records()
    assert record["tenant_id"] == "acme" and record["message"] == "hello"
    assert record["client_log_id"] == "123" and record["log_id"] == body["log_ids"][0]
    assert record["source"] == "json" and "tenant_id" not in record["attributes"]


def test_gzip_ndjson_base64_event() -> None:
    env = Env()
    status, _, body = env.call(load_event("apigw_ingest_ndjson_gzip.json"))
    assert status == 202, body
    records = env.records()
    assert [r["message"] for r in records] == ["disk full", "user alice@example.com logged in"]
    assert records[0]["level"] == "error" and records[0]["attributes"]["host"] == "db1"
    assert records[1]["timestamp"] == "2025-11-26T03:44:50.000Z"
    # Ingest does not redact: the worker does, before storing.
    assert records[0]["attributes"]["password"] == "hunter2"


def test_text_with_x_api_key() -> None:
    env = Env()
    status, _, body = env.call(load_event("apigw_ingest_text.json"))
    assert status == 202, body
    records = env.records()
    assert [r["level"] for r in records] == ["error", "warn"]
    assert records[0]["timestamp"] == "2025-11-26T03:44:50.000Z" and records[0]["source"] == "text"
    assert records[1]["message"] == "WARN retrying"


def _with(event: dict[str, Any], **headers: str | None) -> dict[str, Any]:
    for name, value in headers.items():
        key = name.replace("_", "-")
        if value is None:
            event["headers"].pop(key, None)
        else:
            event["headers"][key] = value
    return event


def _body(event: dict[str, Any], raw: bytes, *, b64: bool = False) -> dict[str, Any]:
    event["body"] = base64.b64encode(raw).decode() if b64 else raw.decode("utf-8", "surrogateescape")
    event["isBase64Encoded"] = b64
    return event


def _json_event(**headers: str | None) -> dict[str, Any]:
    return _with(load_event("apigw_ingest_json.json"), **headers)


ERROR_CASES: list[tuple[str, Any, int, str]] = [
    ("wrong method", lambda: _method(_json_event(), "GET"), 405, "method_not_allowed"),
    ("no credential", lambda: load_event("apigw_ingest_no_auth.json"), 401, "unauthorized"),
    ("unknown key", lambda: _json_event(authorization="Bearer lp_nope"), 401, "unauthorized"),
    ("other scheme", lambda: _json_event(authorization="Basic abc"), 401, "unauthorized"),
    ("x-tenant-id mismatch", lambda: _json_event(x_tenant_id="beta"), 403, "tenant_mismatch"),
    ("tenant_id in body", lambda: _json_event(authorization=f"Bearer {BETA_KEY}"), 403, "tenant_mismatch"),
    # No Content-Type: the body is sniffed (issue 14); one that starts like JSON must be JSON.
    (
        "no content type, broken json",
        lambda: _body(_json_event(content_type=None), b'{"a": '),
        400,
        "invalid_json",
    ),
    ("xml", lambda: _json_event(content_type="application/xml"), 415, "unsupported_media_type"),
    ("brotli", lambda: _json_event(content_encoding="br"), 415, "unsupported_encoding"),
    (
        "bad gzip",
        lambda: _body(_json_event(content_encoding="gzip"), b"not gzip", b64=True),
        400,
        "invalid_gzip",
    ),
    ("malformed json", lambda: _body(_json_event(), b'{"a": '), 400, "invalid_json"),
    ("nan", lambda: _body(_json_event(), b'{"a": NaN}'), 400, "invalid_json"),
    ("not an object", lambda: _body(_json_event(), b"[1, 2]"), 400, "invalid_record"),
    (
        "bad utf-8",
        lambda: _body(_json_event(content_type="text/plain"), b"ok\n\xff\xfe\n", b64=True),
        400,
        "invalid_utf8",
    ),
    ("empty body", lambda: _body(_json_event(), b""), 400, "empty_body"),
    (
        "idempotency key too long",
        lambda: _json_event(idempotency_key="k" * 129),
        400,
        "invalid_idempotency_key",
    ),
]


def _method(event: dict[str, Any], method: str) -> dict[str, Any]:
    event["requestContext"]["http"]["method"] = method
    return event


@pytest.mark.parametrize(("name", "make", "status", "code"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_errors_change_nothing(name: str, make: Any, status: int, code: str) -> None:
    env = Env()
    got_status, headers, body = env.call(make())
    assert (got_status, body["error"]["code"]) == (status, code), body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert headers["content-type"] == "application/json"
    assert env.queue.bodies == [] and env.idem.claims == {}


@pytest.mark.parametrize(
    ("limits", "raw", "limit_name"),
    [
        (Limits(body_bytes=10), b'{"message": "more than ten bytes"}', "body_bytes"),
        (Limits(records=2), b'[{"a":1},{"a":2},{"a":3}]', "records"),
        (Limits(record_bytes=300), b'{"message": "' + b"x" * 400 + b'"}', "record_bytes"),
        (Limits(json_depth=3), b'{"a": {"b": {"c": {"d": 1}}}}', "json_depth"),
    ],
)
def test_limits_answer_413_naming_the_limit(limits: Limits, raw: bytes, limit_name: str) -> None:
    env = Env(limits=limits)
    status, _, body = env.call(_body(_json_event(), raw))
    assert status == 413 and body["error"]["limit"] == limit_name, body
    assert env.queue.bodies == []


def test_decoded_limit_with_gzip_bomb() -> None:
    env = Env(limits=Limits(decoded_bytes=1000))
    bomb = gzip.compress(b'{"message": "' + b"a" * 100_000 + b'"}')
    status, _, body = env.call(_body(_json_event(content_encoding="gzip"), bomb, b64=True))
    assert status == 413 and body["error"]["limit"] == "decoded_bytes"


def test_queue_full_is_429_with_retry_after() -> None:
    env = Env(max_depth=5)
    env.queue.depth_override = 5
    status, headers, body = env.call(_json_event())
    assert status == 429 and body["error"]["code"] == "queue_full"
    assert int(headers["retry-after"]) > 0
    assert env.queue.bodies == []


def test_queue_unavailable_is_503() -> None:
    env = Env()
    env.queue.unavailable = True
    status, headers, body = env.call(_json_event())
    assert status == 503 and body["error"]["code"] == "queue_unavailable" and "retry-after" in headers


def test_idempotent_retry_returns_same_ids_and_identical_records() -> None:
    env = Env()
    raw = b'[{"message": "a"}, {"message": "b"}]'
    _, _, first = env.call(_body(_json_event(idempotency_key="batch-1"), raw))
    env.now += 60_000
    status, _, second = env.call(_body(_json_event(idempotency_key="batch-1"), raw))
    assert status == 202 and second["log_ids"] == first["log_ids"]
    [one, two] = env.queue.bodies
    assert one == two  # byte-identical: the store's upsert keeps one copy
    status, _, body = env.call(_body(_json_event(idempotency_key="batch-1"), b'{"message": "c"}'))
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
    # Another tenant may use the same key independently.
    status, _, _ = env.call(
        _body(_json_event(idempotency_key="batch-1", authorization=f"Bearer {BETA_KEY}"), raw)
    )
    assert status == 202


def test_unexpected_error_is_500_without_details() -> None:
    env = Env()

    def explode(api_key: str) -> KeyGrant | None:
        raise RuntimeError("secret internal detail")

    env.deps.keys.grant_for_key = explode  # type: ignore[method-assign]
    status, _, body = env.call(_json_event())
    assert status == 500 and body["error"]["code"] == "internal_error"
    assert "secret internal detail" not in json.dumps(body) and "Traceback" not in json.dumps(body)


def test_log_ids_are_ordered_ulids() -> None:
    env = Env()
    status, _, body = env.call(_body(_json_event(), b'[{"m":1},{"m":2},{"m":3}]'))
    assert status == 202
    ids = body["log_ids"]
    assert len(ids) == 3 and all(len(i) == 26 for i in ids) and ids == sorted(ids)
    assert [r["log_id"] for r in env.records()] == ids


def test_a_read_only_key_cannot_ingest() -> None:
    env = Env()
    event = _json_event()
    event["headers"]["authorization"] = f"Bearer {ACME_READ_KEY}"
    status, _, body = env.call(event)
    assert status == 403 and body["error"]["code"] == "insufficient_scope"
    assert env.queue.bodies == []
