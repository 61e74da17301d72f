"""Each role allows exactly the AWS calls its function's code makes, on exactly the resources it uses.

The calls are not listed by hand: each handler runs on moto, through real boto3 clients that record every
operation and its table or queue, over every path that reaches AWS (new and repeated Idempotency-Key, an
endpoint that does not return the old item, backpressure, unknown key; records written; queries). The
recorded set must equal what iam.tf grants, statement by statement, apart from what Lambda itself needs
(logs, X-Ray, and for the worker the SQS event source mapping's receive/delete). Both record-access modes
are checked: the default one, and ``strict_isolation`` (the worker and admin may only assume the
tenant-access role; the calls made with the per-tenant sessions must be what that role grants).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from infra_tf import REPO, Ref, TfModel
from moto import mock_aws

# The moto helpers of the AWS adapter tests (uniquely named modules, not conftest).
sys.path.insert(0, str(REPO / "tests" / "backend" / "aws"))
from aws_fixtures import REGION, CallLog, create_resources, spy
from aws_lambda_sim import EventSourceMapping, FakeContext, admin_event, ingest_event, tenant_event
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.lambdas import admin, ingest, tenant_read, worker
from logpipe_backend.wiring import aws as aws_wiring

# API operation → the IAM action that authorizes it.
IAM_ACTION = {
    "SendMessageBatch": "sqs:SendMessage",
    "SendMessage": "sqs:SendMessage",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
    "GetItem": "dynamodb:GetItem",
    "PutItem": "dynamodb:PutItem",
    "BatchWriteItem": "dynamodb:BatchWriteItem",
    "Query": "dynamodb:Query",
    "AssumeRole": "sts:AssumeRole",
}
TENANT_ACCESS_ROLE_NAME = "logpipe-test-tenant-access"
# What the SQS event source mapping calls with the worker's role (Lambda developer guide, SQS permissions).
ESM_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
RUNTIME_SIDS = {"Logs", "Tracing"}
TABLES = {"logs": "logs", "tenants": "tenants", "idempotency": "idempotency"}


@pytest.fixture(scope="module")
def tf() -> TfModel:
    return TfModel()


def attached_documents(tf: TfModel, role: str) -> list[str]:
    """The policy documents of the inline policies this configuration attaches to ``aws_iam_role.<role>``."""
    docs = []
    for key, body in tf.of_type("aws_iam_role_policy").items():
        if tf.count(key) and tf.eval(body["role"]).resource == f"aws_iam_role.{role}":
            policy = tf.eval(body["policy"])
            assert isinstance(policy, Ref) and policy.attribute == "json", policy
            docs.append(policy.resource)
    return sorted(docs)


def statements(tf: TfModel, role: str) -> list[dict[str, Any]]:
    return [st for doc in attached_documents(tf, role) for st in tf.data[doc]["statement"]]


def _granted(tf: TfModel, name: str) -> tuple[set[tuple[str, str]], dict[str, dict[str, Any]]]:
    """(action, resource) pairs iam.tf grants the function's code, and the runtime statements by sid."""
    grants: set[tuple[str, str]] = set()
    runtime: dict[str, dict[str, Any]] = {}
    for statement in statements(tf, name):
        sid = tf.eval(statement["sid"])
        effect = tf.eval(statement.get("effect", '"Allow"'))
        assert effect == "Allow"
        if sid in RUNTIME_SIDS or sid == "QueueEventSource":
            runtime[sid] = statement
            continue
        for action in tf.eval(statement["actions"]):
            for resource in tf.eval(statement["resources"]):
                assert isinstance(resource, Ref) and resource.attribute == "arn", resource
                grants.add((action, resource.resource))
    return grants, runtime


def _resource_of(params: dict[str, Any], queue_url: str) -> str:
    if "RoleArn" in params:
        assert params["RoleArn"].endswith(f":role/{TENANT_ACCESS_ROLE_NAME}")
        return "aws_iam_role.tenant_access"
    if "QueueUrl" in params:
        assert params["QueueUrl"] == queue_url
        return "aws_sqs_queue.this"
    if "RequestItems" in params:
        (table,) = params["RequestItems"]
        return f"aws_dynamodb_table.{TABLES[table]}"
    return f"aws_dynamodb_table.{TABLES[params['TableName']]}"


def _made(log: CallLog, queue_url: str) -> set[tuple[str, str]]:
    made = {(IAM_ACTION[op], _resource_of(params, queue_url)) for op, params in log.calls}
    for op, params in log.calls:
        if op == "AssumeRole" and params.get("Tags"):  # session tags need sts:TagSession as well
            made.add(("sts:TagSession", _resource_of(params, queue_url)))
    return made


class World:
    def __init__(self) -> None:
        self.admin_sqs = boto3.client("sqs", region_name=REGION)
        self.admin_dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.queue_url, self.dlq_url = create_resources(self.admin_sqs, self.admin_dynamodb)
        operator_keys = DynamoKeyStore(self.admin_dynamodb, "tenants")
        self.key = operator_keys.create_tenant("acme")
        self.read_key = operator_keys.create_key("acme", frozenset({"read"}))

        self.tenant_access_role_arn = boto3.client("iam", region_name=REGION).create_role(
            RoleName=TENANT_ACCESS_ROLE_NAME, AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        self.tenant_log = CallLog()  # calls made with per-tenant sessions (strict isolation)

    def function_clients(self, log: CallLog) -> None:
        """Fresh clients for one function, recording into ``log``: what its role is used for."""
        aws_wiring.reset_clients()
        aws_wiring.set_client("sqs", spy(boto3.client("sqs", region_name=REGION), log))
        aws_wiring.set_client("dynamodb", spy(boto3.client("dynamodb", region_name=REGION), log))
        aws_wiring.set_client("sts", spy(boto3.client("sts", region_name=REGION), log))
        self.tenant_log = CallLog()
        aws_wiring.set_tenant_client_factory(
            lambda creds: spy(
                boto3.client(
                    "dynamodb",
                    region_name=REGION,
                    aws_access_key_id=creds.access_key_id,
                    aws_secret_access_key=creds.secret_access_key,
                    aws_session_token=creds.session_token,
                ),
                self.tenant_log,
            )
        )


@pytest.fixture(params=["default", "strict"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch, mode: str) -> Iterator[World]:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        w = World()
        env = {
            "LOGPIPE_QUEUE_URL": w.queue_url,
            "LOGPIPE_TABLE_NAME": "logs",
            "LOGPIPE_TENANTS_TABLE_NAME": "tenants",
            "LOGPIPE_IDEMPOTENCY_TABLE_NAME": "idempotency",
            "LOGPIPE_ADMIN_AUTH": "iam",
            "LOGPIPE_STRICT_ISOLATION": "1" if mode == "strict" else "0",
            "LOGPIPE_TENANT_ACCESS_ROLE_ARN": w.tenant_access_role_arn if mode == "strict" else "",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        for module in (ingest, worker, admin, tenant_read):
            monkeypatch.setattr(module, "_deps", None)
        yield w
    aws_wiring.reset_clients()


def _run_ingest(w: World) -> CallLog:
    log = CallLog()
    w.function_clients(log)
    ctx = FakeContext()
    body = json.dumps([{"message": "a"}, {"message": "b"}])
    assert ingest.handler(ingest_event(w.key, body), ctx)["statusCode"] == 202
    assert ingest.handler(ingest_event("lp_unknown", body), ctx)["statusCode"] == 401
    for _ in range(2):  # a new key, then the same key again (the condition fails, ALL_OLD answers)
        response = ingest.handler(ingest_event(w.key, body, headers={"Idempotency-Key": "k1"}), ctx)
        assert response["statusCode"] == 202
    # An endpoint that does not return the old item on a failed condition: the claim is read instead.
    client = aws_wiring.client("dynamodb")
    client.meta.events.register("after-call.dynamodb.PutItem", lambda parsed, **_: parsed.pop("Item", None))
    response = ingest.handler(ingest_event(w.key, body, headers={"Idempotency-Key": "k1"}), ctx)
    assert response["statusCode"] == 202
    assert (
        log.of("GetItem")
        and log.of("PutItem")
        and log.of("SendMessageBatch")
        and log.of("GetQueueAttributes")
    )
    return log


def _run_worker(w: World) -> CallLog:
    _run_ingest(w)
    log = CallLog()
    w.function_clients(log)
    # The event source mapping's own calls are made with a client outside the function's code.
    esm = EventSourceMapping(w.admin_sqs, w.queue_url, worker.handler)
    # Time for one message only: the others are re-queued (SendMessageBatch to the main queue).
    esm.poll_once(FakeContext(60_000, 1_000), visibility_timeout=0)
    esm.drain(FakeContext(60_000))
    assert log.of("BatchWriteItem") or w.tenant_log.of("BatchWriteItem")
    assert log.of("SendMessageBatch")
    return log


def _run_admin(w: World) -> CallLog:
    _run_worker(w)
    log = CallLog()
    w.function_clients(log)
    for params in ({"tenant": "acme"}, {"tenant": "acme", "level": "warn", "order": "asc", "limit": "1"}):
        assert admin.handler(admin_event(params), FakeContext())["statusCode"] == 200
    assert admin.handler(admin_event({"tenant": "acme"}, iam=False), FakeContext())["statusCode"] == 401
    return log


def _run_tenant_read(w: World) -> CallLog:
    _run_worker(w)
    log = CallLog()
    w.function_clients(log)
    for params in ({}, {"tenant": "acme", "level": "warn", "order": "asc", "limit": "1"}):
        assert tenant_read.handler(tenant_event(w.read_key, params), FakeContext())["statusCode"] == 200
    refusals = ((w.key, {}, 403), ("lp_unknown", {}, 401), (w.read_key, {"tenant": "beta"}, 403))
    for key, params, status in refusals:
        assert tenant_read.handler(tenant_event(key, params), FakeContext())["statusCode"] == status
    return log


RUNNERS = {"ingest": _run_ingest, "worker": _run_worker, "admin": _run_admin, "tenant_read": _run_tenant_read}


def _tf(mode: str) -> TfModel:
    return TfModel(overrides={"strict_isolation": mode == "strict"})


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_role_allows_exactly_the_calls_the_code_makes(world: World, mode: str, name: str) -> None:
    tf = _tf(mode)
    log = RUNNERS[name](world)
    made = _made(log, world.queue_url)
    granted, _ = _granted(tf, name)
    assert made == granted, f"{name} ({mode}): code makes {sorted(made)}; iam.tf grants {sorted(granted)}"
    tenant_made = _made(world.tenant_log, world.queue_url)
    if mode == "default" or name == "ingest":
        assert not tenant_made
        return
    # Strict: the per-tenant sessions make only calls the tenant-access role grants...
    role_grants, _ = _granted(tf, "tenant_access")
    assert tenant_made and tenant_made <= role_grants, (tenant_made, role_grants)
    # ...and exactly the actions their session policy allows (the worker writes, admin reads).
    (assume,) = {json.dumps(p["Policy"]) for p in log.of("AssumeRole")}
    policy_actions = set(json.loads(json.loads(assume))["Statement"][0]["Action"])
    assert {action for action, _ in tenant_made} == policy_actions


@pytest.mark.parametrize("name", ["ingest", "tenant_read"])
def test_key_readers_read_only_key_items_as_their_leading_keys_condition_requires(
    world: World, name: str
) -> None:
    """The TenantKeys statement allows GetItem only on `key#…` partition keys: the code must stay inside."""
    (statement,) = [s for s in statements(_tf("default"), name) if '"TenantKeys"' in s["sid"]]
    tf = _tf("default")
    (condition,) = tf.eval(statement["condition"])
    assert condition == {
        "test": "ForAllValues:StringLike",
        "variable": "dynamodb:LeadingKeys",
        "values": ["key#*"],
    }
    log = RUNNERS[name](world)
    keys = [p["Key"]["pk"]["S"] for p in log.of("GetItem") if p["TableName"] == "tenants"]
    assert keys and all(k.startswith("key#") for k in keys)


@pytest.mark.parametrize("name", sorted(RUNNERS))
@pytest.mark.parametrize("strict", [False, True])
def test_role_runtime_statements(name: str, strict: bool) -> None:
    tf = TfModel(overrides={"strict_isolation": strict})
    _, runtime = _granted(tf, name)
    logs = runtime["Logs"]
    assert set(tf.eval(logs["actions"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert tf.eval(logs["resources"]) == [f"{Ref(f'aws_cloudwatch_log_group.{name}', 'arn')}:*"]
    tracing = runtime["Tracing"]
    assert set(tf.eval(tracing["actions"])) == {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    if name == "worker":
        esm = runtime["QueueEventSource"]
        assert set(tf.eval(esm["actions"])) == ESM_ACTIONS
        assert tf.eval(esm["resources"]) == [Ref("aws_sqs_queue.this", "arn")]
    else:
        assert "QueueEventSource" not in runtime


@pytest.mark.parametrize("name", sorted(RUNNERS))
def test_each_role_is_only_its_own_policy_and_only_lambda_assumes_it(tf: TfModel, name: str) -> None:
    role = tf.resources[f"aws_iam_role.{name}"]
    assert tf.eval(role["assume_role_policy"]) == Ref("data.aws_iam_policy_document.lambda_assume", "json")
    doc = "data.aws_iam_policy_document."
    records = [] if name == "ingest" else [f"{doc}{name}_records"]
    assert attached_documents(tf, name) == sorted([f"{doc}{name}", *records])
    if name != "ingest":
        strict = TfModel(overrides={"strict_isolation": True})
        assert attached_documents(strict, name) == sorted([f"{doc}{name}", f"{doc}assume_tenant_access"])
    assert not tf.of_type("aws_iam_role_policy_attachment"), (
        "no managed policies: they grant more than needed"
    )
    assume = tf.data["data.aws_iam_policy_document.lambda_assume"]["statement"][0]
    assert tf.eval(assume["actions"]) == ["sts:AssumeRole"]
    assert tf.eval(assume["principals"][0]["identifiers"]) == ["lambda.amazonaws.com"]


def test_the_record_of_calls_can_tell_a_missing_grant(tf: TfModel, world: World) -> None:
    """The comparison is not vacuous: dropping a call the code makes from the grants is noticed."""
    made = _made(_run_ingest(world), world.queue_url)
    granted, _ = _granted(tf, "ingest")
    assert ("sqs:SendMessage", "aws_sqs_queue.this") in made
    assert made != granted - {("sqs:SendMessage", "aws_sqs_queue.this")}


def test_the_worker_may_re_queue_to_its_own_queue_only(tf: TfModel) -> None:
    """Issue 12: the worker sends the unfinished rest of a message back to the main queue; never to the DLQ,
    and it may send nothing else."""
    granted, _ = _granted(tf, "worker")
    sqs = {grant for grant in granted if grant[0].startswith("sqs:")}
    assert sqs == {("sqs:SendMessage", "aws_sqs_queue.this")}
