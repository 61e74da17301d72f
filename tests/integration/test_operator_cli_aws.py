"""``logpipe tenants`` and ``logpipe dlq`` with ``--backend aws``, against moto (never a real account)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from click.testing import CliRunner
from logpipe_backend.wiring import aws as aws_wiring
from logpipe_cli.main import cli
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name in list(os.environ):
        if name.startswith(("AWS_", "LOGPIPE_")):
            monkeypatch.delenv(name)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        aws_wiring.reset_clients()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="logpipe-tenants",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sqs = boto3.client("sqs", region_name=REGION)
        dlq_url = sqs.create_queue(QueueName="logpipe-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
        queue_url = sqs.create_queue(QueueName="logpipe-ingest", Attributes={"RedrivePolicy": policy})[
            "QueueUrl"
        ]
        monkeypatch.setenv("LOGPIPE_TENANTS_TABLE_NAME", "logpipe-tenants")
        monkeypatch.setenv("LOGPIPE_QUEUE_URL", queue_url)
        yield {"sqs": sqs, "dynamodb": dynamodb, "queue_url": queue_url, "dlq_url": dlq_url}
        aws_wiring.reset_clients()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--backend", "aws"])
    return result.exit_code, result.stdout, result.stderr


def test_tenants_on_aws(aws: dict[str, Any]) -> None:
    code, out, err = run("tenants", "create", "acme")
    assert code == 0, err
    key = out.strip()
    assert out == key + "\n" and key.startswith("lp_")
    items = aws["dynamodb"].scan(TableName="logpipe-tenants")["Items"]
    assert key not in json.dumps(items)  # only the hash
    code, _, err = run("tenants", "create", "acme")
    assert code == 1 and "already exists" in err
    code, out, _ = run("tenants", "list", "--output", "json")
    assert code == 0 and json.loads(out)["tenant_id"] == "acme"
    assert run("tenants", "revoke", "acme")[0] == 0
    code, _, err = run("tenants", "revoke", "acme")
    assert code == 1 and "no tenant" in err


def test_dlq_on_aws(aws: dict[str, Any]) -> None:
    sqs = aws["sqs"]
    for i in range(3):
        sqs.send_message(
            QueueUrl=aws["dlq_url"], MessageBody=json.dumps({"v": 1, "tenant_id": "acme", "records": [i]})
        )
    code, out, err = run("dlq", "list", "--output", "json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 3 and {r["tenant_id"] for r in rows} == {"acme"}
    # Listing released them again, so a redrive moves them all at once.
    code, _, err = run("dlq", "redrive", rows[0]["message_id"])
    assert code == 0 and "redrove 1" in err, err
    code, _, err = run("dlq", "redrive")
    assert code == 0 and "redrove 2" in err, err
    got = sqs.receive_message(QueueUrl=aws["queue_url"], MaxNumberOfMessages=10)["Messages"]
    assert len(got) == 3
    assert "Messages" not in sqs.receive_message(QueueUrl=aws["dlq_url"], MaxNumberOfMessages=10)


def test_missing_settings_is_one_line(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOGPIPE_TENANTS_TABLE_NAME")
    code, _, err = run("tenants", "list")
    assert code == 1 and "LOGPIPE_TENANTS_TABLE_NAME" in err and "Traceback" not in err


def test_dlq_list_on_aws_shows_the_last_error_from_the_worker_log_group(aws: dict[str, Any]) -> None:
    sqs = aws["sqs"]
    message_id = sqs.send_message(
        QueueUrl=aws["dlq_url"], MessageBody=json.dumps({"v": 1, "tenant_id": "acme", "records": [1, 2]})
    )["MessageId"]
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="/aws/lambda/logpipe-worker")
    logs.create_log_stream(logGroupName="/aws/lambda/logpipe-worker", logStreamName="s")
    logs.put_log_events(
        logGroupName="/aws/lambda/logpipe-worker",
        logStreamName="s",
        logEvents=[
            {
                "timestamp": int(time.time() * 1000),
                "message": f"ERROR message {message_id} failed: ValueError: store refused the batch",
            }
        ],
    )
    code, out, err = run(
        "dlq", "list", "--output", "json", "--worker-log-group", "/aws/lambda/logpipe-worker"
    )
    assert code == 0, err
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["message_id"] == message_id and row["records"] == 2
    assert "store refused the batch" in row["last_error"]
    # Without the log group, SQS alone knows no error.
    code, out, err = run("dlq", "list", "--output", "json")
    assert code == 0 and json.loads(out)["last_error"] is None, err


def test_dlq_redrive_server_side_starts_sqs_move_task(aws: dict[str, Any]) -> None:
    sqs = aws["sqs"]
    attrs = sqs.get_queue_attributes(QueueUrl=aws["queue_url"], AttributeNames=["QueueArn", "RedrivePolicy"])
    dlq_arn = json.loads(attrs["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
    code, _, err = run("dlq", "redrive", "--server-side", "some-id")
    assert code == 2 and "--server-side" in err
    # moto has no StartMessageMoveTask: the CLI's client answers through a Stubber, in the order the
    # command makes its calls (find the DLQ, then start the task).
    aws_wiring.set_client("sqs", sqs)
    stubber = Stubber(sqs)
    stubber.add_response("get_queue_attributes", {"Attributes": attrs["Attributes"]})
    stubber.add_response("get_queue_url", {"QueueUrl": aws["dlq_url"]})
    stubber.add_response("get_queue_attributes", {"Attributes": attrs["Attributes"]})
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "task-7"},
        {"SourceArn": dlq_arn, "DestinationArn": attrs["Attributes"]["QueueArn"]},
    )
    with stubber:
        code, _, err = run("dlq", "redrive", "--server-side")
    assert code == 0 and "task-7" in err, err
    stubber.assert_no_pending_responses()


def test_tenants_create_key_read_only_on_aws(aws: dict[str, Any]) -> None:
    from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
    from logpipe_backend.core.auth import KeyGrant

    assert run("tenants", "create", "acme")[0] == 0
    code, out, err = run("tenants", "create-key", "acme", "--read-only")
    assert code == 0, err
    key = out.strip()
    assert out == key + "\n" and key.startswith("lp_")  # the key alone on stdout
    code, out, err = run("tenants", "create-key", "acme", "--scopes", "ingest,read")
    assert code == 0, err
    both = out.strip()
    store = DynamoKeyStore(aws["dynamodb"], "logpipe-tenants")
    assert store.grant_for_key(key) == KeyGrant("acme", frozenset({"read"}))
    assert store.grant_for_key(both) == KeyGrant("acme", frozenset({"ingest", "read"}))
    code, out, _ = run("tenants", "list", "--output", "json")
    assert json.loads(out)["active_keys"] == 3
    code, out, err = run("tenants", "create-key", "nobody", "--read-only")
    assert code == 1 and out == "" and "no tenant 'nobody'" in err
    assert run("tenants", "revoke", "acme")[0] == 0
    fresh = DynamoKeyStore(aws["dynamodb"], "logpipe-tenants")  # `store` caches what it found
    assert fresh.grant_for_key(key) is None and fresh.grant_for_key(both) is None
