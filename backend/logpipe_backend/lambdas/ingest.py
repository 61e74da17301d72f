"""The ingest function: every door (POST /ingest, OTLP, Loki, Splunk HEC) is this one function; it picks
by path (``handlers.doors``)."""

from __future__ import annotations

from typing import Any

from logpipe_backend.handlers import doors
from logpipe_backend.ports import IngestDeps
from logpipe_backend.wiring import ingest as wiring

_deps: IngestDeps | None = None


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point; dependencies are built once per process (cold start)."""
    global _deps
    if _deps is None:
        _deps = wiring.deps()
    return doors.handle(event, _deps)
