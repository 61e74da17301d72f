"""The local server's routes (runtime/routes.py): the read endpoints at /admin/<name> and /<name>; the
ingest function served one request at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from logpipe_backend.handlers.reads import READ_ENDPOINTS
from logpipe_backend.runtime.routes import Routes, one_at_a_time


def _handler(name: str) -> Any:
    return lambda event: {"statusCode": 200, "body": name}


def test_each_read_endpoint_is_served_to_admins_and_tenants() -> None:
    ingest, admin, tenant = _handler("ingest"), _handler("admin"), _handler("tenant")
    routes = Routes(ingest, admin, dict, 10, tenant_read=tenant, reads=frozenset(READ_ENDPOINTS))
    assert routes.target("/ingest") is ingest
    for name in READ_ENDPOINTS:
        assert routes.target(f"/admin/{name}") is admin
        assert routes.target(f"/{name}") is tenant
    for path in ("/", "/admin", "/admin/", "/admin/ingest", "/x/logs", "/admin/x/logs", "/logs/", "/secrets"):
        assert routes.target(path) is None, path


def test_without_a_tenant_read_handler_the_tenant_paths_are_not_served() -> None:
    routes = Routes(_handler("ingest"), _handler("admin"), dict, 10)
    assert routes.target("/logs") is None and routes.target("/admin/logs") is not None


def _concurrency_probe(hold: Callable[[], None]) -> tuple[Any, list[int]]:
    """A handler that records how many calls are inside it at once (``seen``) while ``hold()`` runs."""
    lock = threading.Lock()
    inside = [0]
    seen: list[int] = []

    def handler(event: Any) -> Any:
        with lock:
            inside[0] += 1
            seen.append(inside[0])
        try:
            hold()
        finally:
            with lock:
                inside[0] -= 1
        return {"statusCode": 202, "body": event["n"]}

    return handler, seen


def _call_at_once(handler: Any, count: int) -> list[Any]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda n: handler({"n": n})["body"], range(count)))


def test_one_at_a_time_lets_one_request_in_at_a_time() -> None:
    handler, seen = _concurrency_probe(lambda: time.sleep(0.02))
    assert _call_at_once(one_at_a_time(handler), 4) == [0, 1, 2, 3]
    assert seen == [1, 1, 1, 1]


def test_the_probe_sees_requests_that_overlap() -> None:
    # Unwrapped, the four calls meet inside the handler (the barrier waits for all of them): the check
    # above can fail.
    barrier = threading.Barrier(4)
    handler, seen = _concurrency_probe(lambda: barrier.wait(5))
    assert _call_at_once(handler, 4) == [0, 1, 2, 3]
    assert max(seen) == 4


def test_the_server_runs_the_ingest_function_one_request_at_a_time(tmp_path: Path) -> None:
    # `logpipe serve`'s own process (no workers), its ingest and admin handlers replaced by probes: four
    # requests to the doors at once never meet inside the ingest function, while two reads do meet.
    code = f"""
import threading, time, httpx
from concurrent.futures import ThreadPoolExecutor
from logpipe_backend.handlers import admin, doors
from logpipe_backend.runtime.stack import LocalStack, StackOptions
from logpipe_backend.wiring.local import DataDir

lock = threading.Lock()
inside = {{"ingest": 0, "admin": 0}}
most = {{"ingest": 0, "admin": 0}}
barrier = threading.Barrier(2)

def probe(name, hold):
    def handler(event, deps):
        with lock:
            inside[name] += 1
            most[name] = max(most[name], inside[name])
        try:
            hold()
        finally:
            with lock:
                inside[name] -= 1
        return {{"statusCode": 200, "headers": {{}}, "body": "{{}}"}}
    return handler

doors.handle = probe("ingest", lambda: time.sleep(0.1))
admin.handle = probe("admin", lambda: barrier.wait(5))
data_dir = DataDir.resolve({str(tmp_path / "data")!r})
data_dir.create()

def ready(url):
    def call(path):
        method = "GET" if path.startswith("/admin") else "POST"
        return httpx.request(method, url + path, content=None if method == "GET" else b"{{}}", timeout=30)
    paths = ["/ingest", "/v1/logs", "/ingest", "/loki/api/v1/push", "/admin/logs", "/admin/logs"]
    with ThreadPoolExecutor(len(paths)) as pool:
        statuses = [r.status_code for r in pool.map(call, paths)]
    assert statuses == [200] * len(paths), statuses
    stack.request_stop()

stack = LocalStack(StackOptions(data_dir=data_dir, port=0, workers=0), on_ready=ready)
assert stack.run() == 0
assert most == {{"ingest": 1, "admin": 2}}, most
"""
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    )
