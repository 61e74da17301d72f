"""The OpenAPI 3.1 document of the HTTP API (``backend/logpipe_backend/openapi.json``), served by the local
stack at ``/openapi.json``, and schemathesis against a live local server (issue #5): no 5xx, and every
response — status, content type, body — as the document says.

Bounded: a fixed number of generated cases per operation (``MAX_EXAMPLES``), no deadline, derandomized so
a failure reproduces; the whole module stays well under a minute on a shared 2-core machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from importlib import resources
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from logpipe_backend.core.routes import INGEST_ROUTES
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sec_local import LocalServer, ingest, start_module_server

MAX_EXAMPLES = int(os.environ.get("SEC_MAX_EXAMPLES", "40"))  # more for a one-off deeper run
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
DOCUMENT: dict[str, Any] = json.loads(
    resources.files("logpipe_backend").joinpath("openapi.json").read_text(encoding="utf-8")
)
DOOR_PATHS = set(INGEST_ROUTES) - {"/ingest"}
OPERATIONS = [
    (path, method.upper())
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if method != "parameters"
]


@schemathesis.serializer("application/x-ndjson", "application/jsonl")
def _ndjson(ctx: Any, value: Any) -> bytes:
    """NDJSON bodies are strings in the document: sent as they are (UTF-8)."""
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "surrogatepass")


@schemathesis.serializer("application/x-protobuf")
def _protobuf(ctx: Any, value: Any) -> bytes:
    """Protobuf bodies (OTLP, Loki) are binary strings in the document: sent as the bytes generated."""
    return value if isinstance(value, bytes) else str(value).encode("utf-8", "surrogatepass")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    # Workers store what is accepted, so /admin/logs answers real records; no rate limit interferes.
    env = {"LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "0"}
    yield from start_module_server(tmp_path_factory, "openapi", workers=1, env=env)


@pytest.fixture(scope="module")
def read_key(server: LocalServer, tenant_key: str) -> str:
    """acme's read key (issue 15): what GET /logs takes."""
    from pathlib import Path

    from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore
    from logpipe_backend.core.auth import parse_scopes

    keys = SqliteKeyStore(Path(server.data_dir) / "tenants.db")
    try:
        return keys.create_key("acme", parse_scopes("read"))
    finally:
        keys.close()


@pytest.fixture(scope="module")
def tenant_key(server: LocalServer) -> str:
    key = server.create_tenant("acme")
    body = json.dumps([{"message": f"seed {i}", "level": "warn", "n": i} for i in range(30)])
    assert ingest(server, key, body).status_code == 202
    server.wait_drained()
    return key


def test_document_is_openapi_3_1_and_served(server: LocalServer) -> None:
    assert DOCUMENT["openapi"].startswith("3.1")
    response = httpx.get(f"{server.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == DOCUMENT
    assert httpx.post(f"{server.url}/openapi.json", timeout=10).status_code == 405
    # Every route the server has is described, with the error schema on every error status: logpipe's own
    # on its own paths, the protocol's on the shippers' doors (issue 14).
    assert set(DOCUMENT["paths"]) == {
        "/ingest", "/admin/logs", "/admin/stats", "/admin/fields", "/logs", "/stats", "/fields",
        "/healthz", "/openapi.json", *INGEST_ROUTES,
    }  # fmt: skip
    for path, method in OPERATIONS:
        for status, answer in DOCUMENT["paths"][path][method.lower()]["responses"].items():
            if int(status) >= 400 and path not in DOOR_PATHS:
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)
            elif int(status) >= 400:
                assert answer["content"], (path, status)
    # schemathesis can load it (it validates the document as it loads).
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    assert {(op.path, op.method.upper()) for op in _operations(schema)} == set(OPERATIONS)


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


# Invalid data (wrong types, missing required parameters, bodies off the schema) only where there is
# something to get wrong: the two operations without parameters or body have no invalid form.
RUNS = [(p, m, GenerationMode.POSITIVE) for p, m in OPERATIONS] + [
    (p, m, GenerationMode.NEGATIVE)
    for p, m in OPERATIONS
    if p == "/ingest"
    or p.startswith("/admin/")
    or p in ("/logs", "/stats", "/fields")
    or (p in ("/v1/logs", "/loki/api/v1/push", "/services/collector/event") and m == "POST")
]


@pytest.mark.parametrize(
    ("path", "method", "mode"), RUNS, ids=[f"{m} {p} {mode.value}" for p, m, mode in RUNS]
)
def test_schemathesis(
    server: LocalServer, tenant_key: str, read_key: str, path: str, method: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    operation = schema[path][method]
    if path.startswith("/admin/"):
        credential = server.admin_token
    else:
        credential = read_key if path in ("/logs", "/stats", "/fields") else tenant_key
    headers = {"Authorization": f"Bearer {credential}"}
    seen: list[int] = []

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @given(case=operation.as_strategy(mode))
    def run(case: Any) -> None:
        response = case.call_and_validate(base_url=server.url, headers=headers, checks=CHECKS, timeout=30)
        seen.append(response.status_code)

    run()
    print(path, method, len(seen), sorted(set(seen)))
    assert seen, "schemathesis generated no case"
    assert all(status < 500 for status in seen)
    assert server.process is not None and server.process.poll() is None
