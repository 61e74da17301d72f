"""Helpers for the local security tests (issue #5): a stack shared by a module, requests, and the checks
every attack ends with — the exact error, nothing queued, the server still serving.

A uniquely named module (not a conftest), imported by the ``test_*`` modules of this directory; the AWS
half of the battery (``test_aws_*.py``) has its own helpers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from local_stack import LocalServer

__all__ = [
    "LocalServer",
    "assert_error",
    "assert_serving",
    "ingest",
    "queue_rows",
    "start_module_server",
]

JSON = "application/json"


def start_module_server(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    *,
    workers: int = 0,
    env: Mapping[str, str] | None = None,
) -> Iterator[LocalServer]:
    """A ``logpipe serve`` for a whole module (a generator for a module-scoped fixture).

    ``workers=0`` by default: then nothing leaves the queue, so "nothing queued" is an exact count.
    """
    workdir = tmp_path_factory.mktemp(name)
    server = LocalServer(
        data_dir=workdir / "data",
        workdir=workdir,
        workers=workers,
        visibility_timeout=2.0,
        extra_env=dict(env or {}),
    )
    server.start()
    try:
        yield server
    finally:
        server.kill()


def ingest(
    server: LocalServer,
    key: str | None,
    body: bytes | str,
    *,
    content_type: str | None = JSON,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
) -> httpx.Response:
    """POST /ingest with a tenant key (None: no credential)."""
    sent: dict[str, str] = {}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    if content_type is not None:
        sent["Content-Type"] = content_type
    sent.update(headers or {})
    content = body.encode("utf-8") if isinstance(body, str) else body
    return httpx.post(f"{server.url}/ingest", content=content, headers=sent, timeout=timeout)


def queue_rows(server: LocalServer) -> int:
    """Messages in the SQLite queue, read straight from ``queue.db`` (not through the server)."""
    uri = f"file:{Path(server.data_dir) / 'queue.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True, timeout=10)) as conn:
        return int(conn.execute("SELECT count(*) FROM messages").fetchone()[0])


def assert_error(response: httpx.Response, status: int, code: str, **detail: Any) -> dict[str, Any]:
    """The response is the JSON error of docs/contract.md §3 with this status, code and detail fields."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    error = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"]
    for name, value in detail.items():
        assert error.get(name) == value, (name, body)
    return error


def assert_serving(server: LocalServer, key: str) -> None:
    """The server process is alive, /healthz answers, and a valid record is accepted (202)."""
    assert server.process is not None and server.process.poll() is None, server.log_text()
    before = server.health()["queue_depth"]
    response = ingest(server, key, b'{"message":"still serving"}')
    assert response.status_code == 202, response.text
    assert server.health()["queue_depth"] >= before  # workers may drain it; never an error
