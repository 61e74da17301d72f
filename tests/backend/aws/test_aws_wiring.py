"""Building the AWS adapters from the environment: clients once per process, injectable, endpoint honoured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aws_fixtures import Aws, aws_fixture, fake_credentials_fixture  # noqa: F401  (fixtures)
from logpipe_backend.adapters.aws.dynamodb import DynamoStore
from logpipe_backend.adapters.aws.idempotency import DynamoIdempotencyStore
from logpipe_backend.adapters.aws.sqs import SqsQueue
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.wiring import admin as admin_wiring
from logpipe_backend.wiring import aws as aws_wiring
from logpipe_backend.wiring import ingest as ingest_wiring
from logpipe_backend.wiring import worker as worker_wiring


@pytest.fixture(autouse=True)
def _fresh_clients() -> Iterator[None]:
    aws_wiring.reset_clients()
    yield
    aws_wiring.reset_clients()


def test_clients_are_made_once_per_process() -> None:
    assert aws_wiring.client("sqs") is aws_wiring.client("sqs")
    assert aws_wiring.client("dynamodb") is not aws_wiring.client("sqs")


def test_aws_endpoint_url_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
    assert aws_wiring.client("sqs").meta.endpoint_url == "http://127.0.0.1:4566"
    assert aws_wiring.client("dynamodb").meta.endpoint_url == "http://127.0.0.1:8000"


def test_injected_clients_are_used(aws: Aws) -> None:
    aws_wiring.set_client("sqs", aws.sqs)
    aws_wiring.set_client("dynamodb", aws.dynamodb)
    env = aws.env()
    queue = aws_wiring.queue_from_env(env)
    assert isinstance(queue, SqsQueue) and queue.queue_url == aws.queue_url
    queue.send(["hello"])
    assert aws.log.of("SendMessageBatch")
    assert isinstance(aws_wiring.store_from_env(env), DynamoStore)
    assert isinstance(aws_wiring.key_store_from_env(env), DynamoKeyStore)
    assert isinstance(aws_wiring.idempotency_store_from_env(env), DynamoIdempotencyStore)


@pytest.mark.parametrize(
    ("build", "missing"),
    [
        (aws_wiring.queue_from_env, "LOGPIPE_QUEUE_URL"),
        (aws_wiring.store_from_env, "LOGPIPE_TABLE_NAME"),
        (aws_wiring.key_store_from_env, "LOGPIPE_TENANTS_TABLE_NAME"),
        (aws_wiring.idempotency_store_from_env, "LOGPIPE_IDEMPOTENCY_TABLE_NAME"),
    ],
)
def test_a_missing_setting_is_named(aws: Aws, build: object, missing: str) -> None:
    env = aws.env()
    del env[missing]
    with pytest.raises(aws_wiring.ConfigError, match=missing):
        build(env)  # type: ignore[operator]


@pytest.mark.parametrize("days", ["-1", "ten"])
def test_a_bad_retention_is_refused(aws: Aws, days: str) -> None:
    with pytest.raises(aws_wiring.ConfigError):
        aws_wiring.store_from_env({**aws.env(), "LOGPIPE_LOG_RETENTION_DAYS": days})


def test_the_backend_wiring_picks_aws_when_a_queue_url_is_set(aws: Aws) -> None:
    aws_wiring.set_client("sqs", aws.sqs)
    aws_wiring.set_client("dynamodb", aws.dynamodb)
    env = aws.env()
    ingest = ingest_wiring.deps(env)
    assert isinstance(ingest.queue, SqsQueue)
    assert isinstance(ingest.keys, DynamoKeyStore)
    assert isinstance(ingest.idempotency, DynamoIdempotencyStore)
    assert isinstance(worker_wiring.deps(env).store, DynamoStore)
    admin = admin_wiring.deps(env)
    assert isinstance(admin.store, DynamoStore) and admin.auth_mode == "iam"
