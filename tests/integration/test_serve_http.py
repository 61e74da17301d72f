"""The local stack end to end over real HTTP: content types, gzip, every error, tenant isolation, health."""

from __future__ import annotations

import gzip
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from local_stack import LocalServer

ACME_SEED = '{"tenant_id":"acme","log_id":"123","text":"hello"}'


def post(
    server: LocalServer, key: str | None, body: bytes | str, content_type: str | None, **headers: str
) -> httpx.Response:
    h = {k.replace("_", "-"): v for k, v in headers.items()}
    if key is not None:
        h["Authorization"] = f"Bearer {key}"
    if content_type is not None:
        h["Content-Type"] = content_type
    return httpx.post(f"{server.url}/ingest", content=body, headers=h, timeout=30)


def test_seed_example_with_curl(running_server: LocalServer) -> None:
    key = running_server.create_tenant("acme")
    out = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            f"{running_server.url}/ingest",
            "-H",
            f"Authorization: Bearer {key}",
            "-H",
            "Content-Type: application/json",
            "-d",
            ACME_SEED,
            "-w",
            "\n%{http_code}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    body, status = out.stdout.rsplit("\n", 1)
    assert status == "202", out
    accepted = json.loads(body)
    assert accepted["accepted"] == 1 and len(accepted["log_ids"]) == 1
    running_server.wait_drained()
    [record] = running_server.admin_query(tenant="acme")
    assert record["message"] == "hello" and record["client_log_id"] == "123"
    assert record["tenant_id"] == "acme" and record["log_id"] == accepted["log_ids"][0]
    assert record["level"] == "info" and record["source"] == "json" and record["redactions"] == 0


CONTENT_CASES = [
    ("application/json", b'{"message": "one"}', ["one"]),
    ("application/json; charset=utf-8", b'[{"msg": "a"}, {"log": "b"}]', ["a", "b"]),
    ("application/x-ndjson", b'{"message": "n1"}\n\n{"message": "n2"}\n', ["n1", "n2"]),
    ("application/jsonl", b'{"message": "j1"}\r\n{"message": "j2"}', ["j1", "j2"]),
    ("text/plain", b"line one\r\n\nERROR line two\n", ["line one", "ERROR line two"]),
    ("text/plain; charset=utf-8", "caf\u00e9 \u2603\n".encode(), ["caf\u00e9 \u2603"]),
]


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
def test_content_types(running_server: LocalServer, use_gzip: bool) -> None:
    key = running_server.create_tenant("acme")
    expected: list[str] = []
    for content_type, raw, messages in CONTENT_CASES:
        body = gzip.compress(raw) if use_gzip else raw
        extra = {"Content_Encoding": "gzip"} if use_gzip else {}
        r = post(running_server, key, body, content_type, **extra)
        assert r.status_code == 202, (content_type, r.text)
        assert r.json()["accepted"] == len(messages)
        expected += messages
    running_server.wait_drained()
    got = [r["message"] for r in running_server.admin_query(tenant="acme", order="asc")]
    assert got == expected


def test_chunked_and_keepalive(running_server: LocalServer) -> None:
    key = running_server.create_tenant("acme")

    def body() -> Iterator[bytes]:
        for i in range(50):
            yield f'{{"message": "c{i}"}}\n'.encode()

    with httpx.Client(base_url=running_server.url, headers={"Authorization": f"Bearer {key}"}) as client:
        r = client.post("/ingest", content=body(), headers={"Content-Type": "application/x-ndjson"})
        assert r.status_code == 202 and r.json()["accepted"] == 50
        for i in range(20):  # one connection, many requests
            r = client.post("/ingest", content=f"k{i}", headers={"Content-Type": "text/plain"})
            assert r.status_code == 202
    running_server.wait_drained()
    assert len(running_server.admin_query(tenant="acme")) == 70


@pytest.fixture
def idle_stack(server_factory: Callable[..., LocalServer]) -> tuple[LocalServer, str]:
    """No workers, so the queue depth shows exactly what each request queued."""
    server = server_factory(workers=0)
    return server, server.create_tenant("acme")


def _errors(server: LocalServer, key: str) -> list[tuple[str, Callable[[], httpx.Response], int, str]]:
    beta = server.create_tenant("beta")
    url = server.url
    return [
        ("no credential", lambda: post(server, None, ACME_SEED, "application/json"), 401, "unauthorized"),
        (
            "unknown key",
            lambda: post(server, "lp_unknown", ACME_SEED, "application/json"),
            401,
            "unauthorized",
        ),
        (
            "X-Tenant-Id",
            lambda: post(server, key, "{}", "application/json", X_Tenant_Id="beta"),
            403,
            "tenant_mismatch",
        ),
        ("body tenant_id", lambda: post(server, beta, ACME_SEED, "application/json"), 403, "tenant_mismatch"),
        ("content type", lambda: post(server, key, "<x/>", "application/xml"), 415, "unsupported_media_type"),
        # No Content-Type: sniffed (issue 14); a body that starts like JSON but is not is a 400.
        ("no content type, broken JSON", lambda: post(server, key, "{", None), 400, "invalid_json"),
        (
            "encoding",
            lambda: post(server, key, "{}", "application/json", Content_Encoding="br"),
            415,
            "unsupported_encoding",
        ),
        (
            "corrupt gzip",
            lambda: post(server, key, b"\x1f\x8bnope", "application/json", Content_Encoding="gzip"),
            400,
            "invalid_gzip",
        ),
        ("malformed json", lambda: post(server, key, '{"a":', "application/json"), 400, "invalid_json"),
        (
            "ndjson line",
            lambda: post(server, key, '{"a":1}\n[2]\n', "application/x-ndjson"),
            400,
            "invalid_record",
        ),
        ("NaN", lambda: post(server, key, '{"a": NaN}', "application/json"), 400, "invalid_json"),
        ("utf-8", lambda: post(server, key, b"ok\n\xc3\x28\n", "text/plain"), 400, "invalid_utf8"),
        ("empty", lambda: post(server, key, b"", "application/json"), 400, "empty_body"),
        (
            "body size",
            lambda: post(server, key, b"x" * (4 * 1024 * 1024 + 1), "text/plain"),
            413,
            "payload_too_large",
        ),
        ("records", lambda: post(server, key, b"r\n" * 10_001, "text/plain"), 413, "payload_too_large"),
        (
            "depth",
            lambda: post(server, key, b'{"a":' * 70 + b"1" + b"}" * 70, "application/json"),
            413,
            "payload_too_large",
        ),
        (
            "idempotency key",
            lambda: post(server, key, "{}", "application/json", Idempotency_Key="k" * 129),
            400,
            "invalid_idempotency_key",
        ),
        ("GET /ingest", lambda: httpx.get(f"{url}/ingest"), 405, "method_not_allowed"),
        ("DELETE admin", lambda: httpx.delete(f"{url}/admin/logs?tenant=acme"), 405, "method_not_allowed"),
        ("unknown path", lambda: httpx.get(f"{url}/v2/ingest"), 404, "not_found"),
        ("admin no token", lambda: httpx.get(f"{url}/admin/logs?tenant=acme"), 401, "unauthorized"),
        (
            "admin tenant key",
            lambda: httpx.get(f"{url}/admin/logs?tenant=acme", headers={"Authorization": f"Bearer {key}"}),
            403,
            "forbidden",
        ),
        (
            "admin bad query",
            lambda: httpx.get(
                f"{url}/admin/logs?tenant=acme&limit=5000",
                headers={"Authorization": f"Bearer {server.admin_token}"},
            ),
            400,
            "invalid_query",
        ),
    ]


def test_every_error_is_json_and_changes_nothing(idle_stack: tuple[LocalServer, str]) -> None:
    server, key = idle_stack
    for name, call, status, code in _errors(server, key):
        r = call()
        assert r.status_code == status, (name, r.status_code, r.text)
        assert r.headers["content-type"] == "application/json", name
        error = r.json()["error"]
        assert error["code"] == code and error["message"], (name, error)
        assert server.health()["queue_depth"] == 0, name
    # ...and the stack still works after all that.
    assert post(server, key, ACME_SEED, "application/json").status_code == 202
    assert server.health()["queue_depth"] == 1


def test_queue_full_is_429(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=0, env={"LOGPIPE_MAX_QUEUE_DEPTH": "2"})
    key = server.create_tenant("acme")
    for _ in range(2):
        assert post(server, key, "x", "text/plain").status_code == 202
    r = post(server, key, "x", "text/plain")
    assert r.status_code == 429 and r.json()["error"]["code"] == "queue_full"
    assert int(r.headers["retry-after"]) >= 1
    assert server.health()["queue_depth"] == 2


def test_idempotency_key_over_http(running_server: LocalServer) -> None:
    key = running_server.create_tenant("acme")
    body = '[{"message": "once"}, {"message": "twice?"}]'
    first = post(running_server, key, body, "application/json", Idempotency_Key="batch-7")
    again = post(running_server, key, body, "application/json", Idempotency_Key="batch-7")
    assert first.status_code == again.status_code == 202
    assert first.json()["log_ids"] == again.json()["log_ids"]
    other = post(
        running_server, key, '{"message": "different"}', "application/json", Idempotency_Key="batch-7"
    )
    assert other.status_code == 422
    running_server.wait_drained()
    assert sorted(r["message"] for r in running_server.admin_query(tenant="acme")) == ["once", "twice?"]


def test_tenant_isolation(running_server: LocalServer) -> None:
    a_key = running_server.create_tenant("acme")
    b_key = running_server.create_tenant("beta")
    assert post(running_server, a_key, '{"message": "a-secret"}', "application/json").status_code == 202
    # B cannot write as A: neither by header nor by record field.
    assert (
        post(running_server, b_key, '{"message": "x"}', "application/json", X_Tenant_Id="acme").status_code
        == 403
    )
    r = post(running_server, b_key, '{"tenant_id": "acme", "message": "x"}', "application/json")
    assert r.status_code == 403
    assert post(running_server, b_key, "b-line", "text/plain").status_code == 202
    # B cannot read A's records: a tenant key on the admin path is refused.
    r = httpx.get(
        f"{running_server.url}/admin/logs",
        params={"tenant": "acme"},
        headers={"Authorization": f"Bearer {b_key}"},
    )
    assert r.status_code == 403 and "a-secret" not in r.text
    running_server.wait_drained()
    acme = running_server.admin_query(tenant="acme")
    beta = running_server.admin_query(tenant="beta")
    assert [(r["tenant_id"], r["message"]) for r in acme] == [("acme", "a-secret")]
    assert [(r["tenant_id"], r["message"]) for r in beta] == [("beta", "b-line")]


def test_redaction_and_admin_filters(running_server: LocalServer) -> None:
    key = running_server.create_tenant("acme")
    lines = [
        {"level": "error", "message": "card 4111 1111 1111 1111 declined", "user": "bob@example.com"},
        {"level": "info", "message": "Authorization: Bearer abc.def.ghi", "password": "hunter2"},
        {"level": "warn", "message": "disk almost full"},
    ]
    body = "\n".join(json.dumps(x) for x in lines)
    assert post(running_server, key, body, "application/x-ndjson").status_code == 202
    running_server.wait_drained()
    stored = running_server.admin_query(tenant="acme", order="asc")
    text = json.dumps(stored)
    assert "4111" not in text and "bob@example.com" not in text and "hunter2" not in text
    assert stored[0]["redactions"] >= 2
    warn_up = running_server.admin_query(tenant="acme", level="warn")
    assert sorted(r["level"] for r in warn_up) == ["error", "warn"]
    assert [r["message"] for r in running_server.admin_query(tenant="acme", contains="DISK")] == [
        "disk almost full"
    ]
    page: dict[str, Any] = httpx.get(
        f"{running_server.url}/admin/logs",
        params={"tenant": "acme", "limit": 2},
        headers={"Authorization": f"Bearer {running_server.admin_token}"},
    ).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    head = httpx.head(
        f"{running_server.url}/admin/logs",
        params={"tenant": "acme"},
        headers={"Authorization": f"Bearer {running_server.admin_token}"},
    )
    assert head.status_code == 200 and head.content == b""


def test_healthz_and_profile(running_server: LocalServer) -> None:
    health = running_server.health()
    assert health["status"] == "ok" and health["queue_depth"] == 0 and health["dlq_depth"] == 0
    config = (running_server.workdir / "config" / "logpipe" / "config.toml").read_text()
    assert running_server.url in config and running_server.admin_token in config


def test_simulated_work_setting(server_factory: Callable[..., LocalServer]) -> None:
    # The seed's "sleep 0.05 s per char": 10 characters of messages take the worker half a second.
    server = server_factory(workers=1, env={"LOGPIPE_SIMULATED_WORK_PER_CHAR": "0.05"})
    key = server.create_tenant("acme")
    t0 = time.monotonic()
    assert post(server, key, "hello\nworld\n", "text/plain").status_code == 202
    assert time.monotonic() - t0 < 0.4  # ingest does not wait for the work
    server.wait_drained()
    assert time.monotonic() - t0 >= 0.5
    assert sorted(r["message"] for r in server.admin_query(tenant="acme")) == ["hello", "world"]


def test_awkward_characters_round_trip(running_server: LocalServer) -> None:
    key = running_server.create_tenant("acme")
    body = '{"message": "nul\\u0000 bell\\u0007 sep\\u2028 emoji\\ud83d\\ude00 \\ufffe", "k": "caf\\u00e9"}'
    assert post(running_server, key, body, "application/json").status_code == 202
    running_server.wait_drained()
    [record] = running_server.admin_query(tenant="acme")
    assert record["message"] == "nul\x00 bell\x07 sep\u2028 emoji\U0001f600 \ufffe"
    assert record["attributes"] == {"k": "café"}


def test_shippers_without_a_content_type(running_server: LocalServer) -> None:
    """Issue 14: no Content-Type, or curl's/syslog-ng's form type, is sniffed; Fluent Bit's json format."""
    key = running_server.create_tenant("sniff")
    cases: list[tuple[str | None, bytes, int]] = [
        (None, b'[{"date": 1600000000.25, "log": "fluent bit", "level": "warn"}]', 1),
        (None, b'{"message": "ndjson a"}\n{"message": "ndjson b"}\n', 2),
        ("application/x-www-form-urlencoded", b"<11>Sep 13 12:26:40 web01 app[7]: disk gone\n", 1),
    ]
    for content_type, body, accepted in cases:
        r = post(running_server, key, body, content_type)
        assert r.status_code == 202, (content_type, r.text)
        assert r.json()["accepted"] == accepted
    running_server.wait_drained()
    got = {r["message"]: r for r in running_server.admin_query(tenant="sniff")}
    assert set(got) == {"fluent bit", "ndjson a", "ndjson b", "disk gone"}
    assert (got["fluent bit"]["timestamp"], got["fluent bit"]["level"]) == (
        "2020-09-13T12:26:40.250Z",
        "warn",
    )
    assert got["disk gone"]["level"] == "error" and got["disk gone"]["attributes"]["app"] == "app"
