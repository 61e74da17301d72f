"""Which paths the ingest function serves, and which door (protocol) answers each.

One table for the three places that route: the local server (runtime/server.py), the ingest
function's own dispatch (handlers/doors.py) and API Gateway's routes (infra/terraform/api.tf, tied to this
table by tests/infra). A path missing from one of them would work locally and 404 on AWS, or the reverse.
"""

from __future__ import annotations

from typing import Final

INGEST: Final = "ingest"
OTLP: Final = "otlp"
LOKI: Final = "loki"
HEC: Final = "hec"

# path → (door, the methods it serves; the door answers 405 to others).
INGEST_ROUTES: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "/ingest": (INGEST, ("POST",)),
    # OTLP/HTTP 1.x, logs signal (opentelemetry-proto: specification/protocol/otlp.md, "OTLP/HTTP").
    "/v1/logs": (OTLP, ("POST",)),
    # Loki's push API (grafana.com/docs/loki/latest/reference/loki-http-api/#ingest-logs).
    "/loki/api/v1/push": (LOKI, ("POST",)),
    # Splunk HTTP Event Collector. Docker's splunk driver posts to /services/collector/event/1.0 and checks
    # the URL with OPTIONS first (moby daemon/logger/splunk); /services/collector is the event alias.
    "/services/collector": (HEC, ("POST", "OPTIONS")),
    "/services/collector/event": (HEC, ("POST", "OPTIONS")),
    "/services/collector/event/1.0": (HEC, ("POST", "OPTIONS")),
    "/services/collector/raw": (HEC, ("POST", "OPTIONS")),
    "/services/collector/raw/1.0": (HEC, ("POST", "OPTIONS")),
    "/services/collector/health": (HEC, ("GET",)),
    "/services/collector/health/1.0": (HEC, ("GET",)),
}


def door_of(path: str) -> str | None:
    """The door serving ``path``, or None when the ingest function does not serve it."""
    route = INGEST_ROUTES.get(path)
    return None if route is None else route[0]
