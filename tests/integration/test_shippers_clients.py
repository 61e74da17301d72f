"""Real shippers against a real ``logpipe serve``, the records read back through /admin/logs: the
OpenTelemetry Python SDK (OTLP/HTTP protobuf, configured by its environment variables) and
python-logging-loki (Loki push JSON, Basic auth)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import logging_loki
import pytest
from local_stack import LocalServer
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource


@pytest.fixture
def fresh_logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    logger = logging.getLogger(f"shippers.{request.node.name}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


def test_opentelemetry_sdk_logs_reach_the_store(
    running_server: LocalServer, fresh_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = running_server.create_tenant("acme")
    running_server.create_tenant("other")
    # What docs/shippers.md tells an OTel SDK user to set.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running_server.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{key}")
    provider = LoggerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter()))
    fresh_logger.addHandler(LoggingHandler(level=logging.DEBUG, logger_provider=provider))

    fresh_logger.warning("card declined for order %s", 42, extra={"order_id": 42})
    try:
        raise ValueError("bad amount")
    except ValueError:
        fresh_logger.exception("payment failed")
    provider.shutdown()

    running_server.wait_drained()
    records = {r["message"]: r for r in running_server.admin_query(tenant="acme")}
    assert set(records) == {"card declined for order 42", "payment failed"}
    warned = records["card declined for order 42"]
    assert warned["level"] == "warn" and warned["attributes"]["order_id"] == 42
    assert warned["attributes"]["resource"]["service.name"] == "checkout"
    failed = records["payment failed"]
    assert failed["level"] == "error"
    assert failed["attributes"]["exception.type"] == "ValueError"
    assert failed["attributes"]["exception.message"] == "bad amount"
    assert 'raise ValueError("bad amount")' in failed["attributes"]["exception.stacktrace"]
    assert running_server.admin_query(tenant="other") == []


def test_python_logging_loki_reaches_the_store(
    running_server: LocalServer, fresh_logger: logging.Logger
) -> None:
    key = running_server.create_tenant("acme")
    handler = logging_loki.LokiHandler(
        url=f"{running_server.url}/loki/api/v1/push",
        tags={"application": "billing"},
        auth=("acme", key),
        version="1",
    )
    fresh_logger.addHandler(handler)
    fresh_logger.error("invoice %s failed", "INV-7", extra={"tags": {"region": "eu"}})
    fresh_logger.info("invoice sent")

    running_server.wait_drained()
    records = {r["message"]: r for r in running_server.admin_query(tenant="acme")}
    assert set(records) == {"invoice INV-7 failed", "invoice sent"}
    failed = records["invoice INV-7 failed"]
    assert failed["level"] == "error"
    assert failed["attributes"]["application"] == "billing" and failed["attributes"]["region"] == "eu"
    assert records["invoice sent"]["level"] == "info"


def test_python_logging_loki_with_another_tenants_name_stores_nothing(
    running_server: LocalServer, fresh_logger: logging.Logger
) -> None:
    key = running_server.create_tenant("acme")
    running_server.create_tenant("beta")
    handler = logging_loki.LokiHandler(
        url=f"{running_server.url}/loki/api/v1/push", tags={}, auth=("beta", key), version="1"
    )
    fresh_logger.addHandler(handler)
    fresh_logger.error("must not land")  # the handler reports the 403 through logging's handleError
    running_server.wait_drained()
    assert running_server.admin_query(tenant="beta") == [] and running_server.admin_query(tenant="acme") == []
