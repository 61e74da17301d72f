"""The admin function: ``GET /admin/*`` behind IAM (``handlers.admin``)."""

from __future__ import annotations

from typing import Any

from logpipe_backend.handlers import admin
from logpipe_backend.ports import AdminDeps
from logpipe_backend.wiring import admin as wiring

_deps: AdminDeps | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point; dependencies are built once per process (cold start)."""
    global _deps
    if _deps is None:
        _deps = wiring.deps()
    return admin.handle(event, _deps)
