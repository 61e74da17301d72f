"""The tenant read function: ``GET /logs`` and the other reads with a tenant's read key
(``handlers.tenant_read``)."""

from __future__ import annotations

from typing import Any

from logpipe_backend.handlers import tenant_read
from logpipe_backend.ports import TenantReadDeps
from logpipe_backend.wiring import tenant_read as wiring

_deps: TenantReadDeps | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point; dependencies are built once per process (cold start)."""
    global _deps
    if _deps is None:
        _deps = wiring.deps()
    return tenant_read.handle(event, _deps)
