"""Fixtures and helpers for the AWS adapter tests: moto-backed AWS, with spies for the limits moto lacks.

moto accepts more than 25 items per BatchWriteItem, items over 400 KB and characters SQS refuses; the
``limits`` spy checks every real call our code makes against AWS's documented limits, so a test fails where
AWS would have refused the call.

A module with a name of its own, not a conftest.py: test modules elsewhere import from ``conftest`` by name,
and a second conftest.py on sys.path would shadow theirs. Test modules import the fixtures from here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from aws_lambda_sim import FakeContext, admin_event
from logpipe_backend.adapters.aws.chunks import decode_chunk
from logpipe_backend.adapters.aws.dynamodb import DYNAMODB_ITEM_LIMIT, item_size
from logpipe_backend.core.envelope import sqs_safe
from logpipe_backend.core.record import Record
from logpipe_backend.lambdas import admin, ingest, tenant_read, worker
from logpipe_backend.wiring import aws as aws_wiring
from moto import mock_aws

REGION = "us-east-1"
SQS_MAX_BATCH = 10
SQS_MAX_BYTES = 1_048_576
DDB_MAX_BATCH = 25


@dataclass
class CallLog:
    """Every API call made through the spied clients, with its parameters; and any AWS limit broken."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def operations(self) -> list[str]:
        return [name for name, _ in self.calls]

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == operation]


def _check(operation: str, params: dict[str, Any], log: CallLog) -> None:
    if operation == "BatchWriteItem":
        for table, requests in params["RequestItems"].items():
            if len(requests) > DDB_MAX_BATCH:
                log.violations.append(f"BatchWriteItem of {len(requests)} items on {table}")
            keys = [json.dumps(r["PutRequest"]["Item"].get("log_id")) for r in requests if "PutRequest" in r]
            if len(keys) != len(set(keys)):
                log.violations.append("BatchWriteItem names the same key twice")
            deletes = [json.dumps(r["DeleteRequest"]["Key"]) for r in requests if "DeleteRequest" in r]
            if len(deletes) != len(set(deletes)):
                log.violations.append("BatchWriteItem deletes the same key twice")
            for request in requests:
                item = request.get("PutRequest", {}).get("Item", {})
                if item_size(item) > DYNAMODB_ITEM_LIMIT:
                    log.violations.append(f"item of {item_size(item)} bytes")
    elif operation == "PutItem":
        if item_size(params["Item"]) > DYNAMODB_ITEM_LIMIT:
            log.violations.append("PutItem over 400 KB")
    elif operation == "SendMessageBatch":
        entries = params["Entries"]
        if len(entries) > SQS_MAX_BATCH:
            log.violations.append(f"SendMessageBatch of {len(entries)} entries")
        total = sum(len(e["MessageBody"].encode("utf-8")) for e in entries)
        if total > SQS_MAX_BYTES:
            log.violations.append(f"SendMessageBatch of {total} bytes")
        for entry in entries:
            if not sqs_safe(entry["MessageBody"]):
                log.violations.append("a message body holds a character SQS refuses")
    elif operation == "SendMessage" and not sqs_safe(params["MessageBody"]):
        log.violations.append("a message body holds a character SQS refuses")


def spy(client: Any, log: CallLog) -> Any:
    """Record (and limit-check) every call ``client`` makes, before it is sent."""

    def before(params: dict[str, Any], model: Any, **_: Any) -> None:
        log.calls.append((model.name, params))
        _check(model.name, params, log)

    client.meta.events.register(
        "provide-client-params.*.*", lambda params, model, **kw: before(params, model)
    )
    return client


@dataclass
class Aws:
    sqs: Any
    dynamodb: Any
    log: CallLog
    queue_url: str
    dlq_url: str
    logs_table: str = "logs"
    tenants_table: str = "tenants"
    idempotency_table: str = "idempotency"

    def env(self) -> dict[str, str]:
        """What Terraform sets on the functions (infra/terraform/lambda.tf), pointing at these resources."""
        return {
            "LOGPIPE_QUEUE_URL": self.queue_url,
            "LOGPIPE_TABLE_NAME": self.logs_table,
            "LOGPIPE_TENANTS_TABLE_NAME": self.tenants_table,
            "LOGPIPE_IDEMPOTENCY_TABLE_NAME": self.idempotency_table,
        }


def create_logs_table(dynamodb: Any) -> None:
    """The logs table as Terraform makes it: partition key tenant_id, sort key log_id."""
    dynamodb.create_table(
        TableName="logs",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "tenant_id", "KeyType": "HASH"},
            {"AttributeName": "log_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "log_id", "AttributeType": "S"},
        ],
    )


def create_resources(sqs: Any, dynamodb: Any, *, visibility_timeout: int = 30) -> tuple[str, str]:
    dlq_url = sqs.create_queue(QueueName="ingest-dlq", Attributes={"MaximumMessageSize": "1048576"})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(
        QueueName="ingest",
        Attributes={
            "MaximumMessageSize": "1048576",
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}),
        },
    )["QueueUrl"]
    create_logs_table(dynamodb)
    for name in ("tenants", "idempotency"):
        dynamodb.create_table(
            TableName=name,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        )
    return queue_url, dlq_url


@pytest.fixture(autouse=True, name="fake_credentials")
def fake_credentials_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    # Never let a test reach a real account, whatever the machine's environment holds.
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture(name="aws")
def aws_fixture() -> Iterator[Aws]:
    with mock_aws():
        log = CallLog()
        sqs = boto3.client("sqs", region_name=REGION)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        queue_url, dlq_url = create_resources(sqs, dynamodb)
        # Spy only after set-up, so the log holds what the code under test did.
        yield Aws(spy(sqs, log), spy(dynamodb, log), log, queue_url, dlq_url)
        assert not log.violations, log.violations


@pytest.fixture(name="lambdas")
def lambdas_fixture(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    """The three Lambda entry points, cold-started on moto with Terraform's settings (admin: IAM auth)."""
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LOGPIPE_ADMIN_AUTH", "iam")
    monkeypatch.delenv("LOGPIPE_STRICT_ISOLATION", raising=False)
    aws_wiring.set_client("sqs", aws.sqs)
    aws_wiring.set_client("dynamodb", aws.dynamodb)
    for module in (ingest, worker, admin, tenant_read):  # a cold start for each test
        monkeypatch.setattr(module, "_deps", None)
    yield aws
    aws_wiring.reset_clients()


def query(params: dict[str, str]) -> dict[str, Any]:
    """``GET /admin/logs`` through the admin Lambda entry point: the body of its 200 response."""
    response = admin.handler(admin_event(params), FakeContext())
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    return body


def scan_items(dynamodb: Any, table: str = "logs") -> list[dict[str, Any]]:
    """Every item of a table, read with a Scan outside the code under test (bounded pages)."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": table}
    for _ in range(1000):
        page = dynamodb.scan(**params)
        items += page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return items
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError("table scan did not end")


def stored_records(dynamodb: Any, table: str = "logs") -> list[Record]:
    """Every record the logs table holds, out of its chunks, in log_id order (a copy per chunk holding it)."""
    records = [r for item in scan_items(dynamodb, table) for r in decode_chunk(item, item["tenant_id"]["S"])]
    return sorted(records, key=lambda r: r["log_id"])
