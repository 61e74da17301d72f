"""The local server's routes (runtime/routes.py): the read endpoints at /admin/<name> and /<name>."""

from __future__ import annotations

from typing import Any

from logpipe_backend.handlers.reads import READ_ENDPOINTS
from logpipe_backend.runtime.routes import Routes


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
