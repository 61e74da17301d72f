"""The worker function: the SQS event source mapping's batches (``handlers.worker``)."""

from __future__ import annotations

from typing import Any

from logpipe_backend.handlers import worker
from logpipe_backend.ports import WorkerDeps
from logpipe_backend.wiring import worker as wiring

_deps: WorkerDeps | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point; dependencies are built once per process (cold start)."""
    global _deps
    if _deps is None:
        _deps = wiring.deps()
    return worker.handle(event, _deps, context)
