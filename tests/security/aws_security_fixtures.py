"""Shared set-up of the AWS security tests (tests/security/test_aws_*.py): moto-backed AWS with the real
handlers wired from the environment Terraform sets.

A uniquely named module, not a conftest.py (a second conftest.py on sys.path would shadow others'). It
reuses the AWS adapter tests' helpers (tests/backend/aws/aws_fixtures.py, aws_lambda_sim.py), which are
plain modules in a directory without ``__init__.py``: that directory (and tests/infra, for the Terraform
reader ``infra_tf``) is put on ``sys.path`` here, as tests/infra/test_infra_iam.py does. Test modules
import the fixtures they use by name.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

_TESTS = Path(__file__).resolve().parents[1]
for _helpers in (_TESTS / "backend" / "aws", _TESTS / "infra"):
    if str(_helpers) not in sys.path:
        sys.path.insert(0, str(_helpers))

from aws_fixtures import (  # noqa: E402
    REGION,
    Aws,
    CallLog,
    aws_fixture,
    create_logs_table,
    fake_credentials_fixture,
    lambdas_fixture,
    query,
    spy,
    stored_records,
)
from aws_lambda_sim import (  # noqa: E402
    EventSourceMapping,
    FakeContext,
    admin_event,
    ingest_event,
    tenant_event,
)
from infra_tf import Ref, TfModel  # noqa: E402
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore  # noqa: E402
from logpipe_backend.lambdas import worker  # noqa: E402

__all__ = [
    "REGION",
    "Aws",
    "CallLog",
    "EventSourceMapping",
    "FakeContext",
    "Ref",
    "TfModel",
    "admin_event",
    "all_items",
    "aws_fixture",
    "create_logs_table",
    "create_tenants",
    "drain",
    "fake_credentials_fixture",
    "ingest_event",
    "lambdas_fixture",
    "query",
    "spy",
    "stored_records",
    "tenant_event",
]


def create_tenants(aws: Aws, *names: str) -> dict[str, str]:
    """Tenants made the operator's way (``logpipe tenants create``); returns tenant -> API key."""
    store = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    return {name: store.create_tenant(name) for name in names}


def drain(aws: Aws) -> EventSourceMapping:
    esm = EventSourceMapping(aws.sqs, aws.queue_url, worker.handler)
    esm.drain(FakeContext(60_000))
    return esm


def all_items(aws: Aws, table: str) -> list[dict[str, Any]]:
    """Every item of a table, read with a Scan outside the code under test (bounded pages)."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": table}
    for _ in range(100):
        page = aws.dynamodb.scan(**params)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError("table scan did not end")
