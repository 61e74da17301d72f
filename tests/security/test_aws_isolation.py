"""Tenant isolation in IAM (issue #5): ``dynamodb:LeadingKeys`` where a tenant is known, and the
``strict_isolation`` mode, in which every tenant's records are written and read with STS credentials whose
session policy allows only that tenant's partition.

What these tests prove, and what they cannot (moto does not evaluate session policies or IAM conditions;
``test_moto_cannot_prove_the_cross_tenant_denial`` pins exactly how far its enforcement goes):

- proven: Terraform's shape (the tenant-access role, its trust, its LeadingKeys condition on the session
  tag; worker/admin without direct table access in strict mode); the exact session policy and tag sent
  with every ``AssumeRole``; that every DynamoDB call for tenant A is made with a client built from the
  credentials STS returned for tenant A's session; that the cache is per tenant and renews before expiry;
  that every call the code makes satisfies its session policy (evaluated here for the one condition used).
- not proven here: that AWS denies a cross-tenant call made with such a session. That is IAM's documented
  behaviour for ``ForAllValues:StringEquals`` on ``dynamodb:LeadingKeys``, not something moto can show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from aws_security_fixtures import (  # noqa: F401  (fixtures)
    REGION,
    Aws,
    CallLog,
    EventSourceMapping,
    FakeContext,
    Ref,
    TfModel,
    admin_event,
    aws_fixture,
    create_logs_table,
    create_tenants,
    fake_credentials_fixture,
    ingest_event,
    lambdas_fixture,
    spy,
)
from logpipe_backend.adapters.aws.dynamodb import DynamoStore, StoreError
from logpipe_backend.adapters.aws.isolation import (
    REFRESH_MARGIN_SECONDS,
    SESSION_SECONDS,
    TenantCredentials,
    TenantScopedStore,
    TenantSessions,
    session_policy,
)
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.record import Record
from logpipe_backend.lambdas import admin, ingest, worker
from logpipe_backend.ports import LogQuery
from logpipe_backend.wiring import aws as aws_wiring
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

ROLE_NAME = "logpipe-dev-tenant-access"


# --- Terraform ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def strict_tf() -> TfModel:
    return TfModel(overrides={"strict_isolation": True})


def _statements(tf: TfModel, doc: str) -> list[dict[str, Any]]:
    return [tf.eval(s) for s in tf.data[f"data.aws_iam_policy_document.{doc}"]["statement"]]


def test_strict_isolation_is_a_documented_switch_off_by_default() -> None:
    tf = TfModel()
    variable = tf.variables["strict_isolation"]
    assert tf.eval(variable["type"]) in ("bool", "${bool}") and tf.var("strict_isolation") is False
    assert tf.count("aws_iam_role.tenant_access") == 0
    for name in ("worker", "admin"):
        env = tf.eval(tf.block(tf.resources[f"aws_lambda_function.{name}"], "environment")["variables"])
        assert env["LOGPIPE_STRICT_ISOLATION"] == "0" and env["LOGPIPE_TENANT_ACCESS_ROLE_ARN"] == ""


def test_the_tenant_access_role_is_limited_to_the_tagged_tenant(strict_tf: TfModel) -> None:
    tf = strict_tf
    assert tf.count("aws_iam_role.tenant_access") == 1
    role = tf.resources["aws_iam_role.tenant_access"]
    assert tf.eval(role["assume_role_policy"]) == Ref(
        "data.aws_iam_policy_document.tenant_access_trust", "json"
    )
    (trust,) = _statements(tf, "tenant_access_trust")
    assert trust.get("effect", "Allow") == "Allow"
    assert set(trust["actions"]) == {"sts:AssumeRole", "sts:TagSession"}
    (principals,) = trust["principals"]
    assert principals["type"] == "AWS"
    assert principals["identifiers"] == [
        Ref("aws_iam_role.worker", "arn"),
        Ref("aws_iam_role.admin", "arn"),
        Ref("aws_iam_role.tenant_read", "arn"),  # GET /logs with a tenant's read key (issue 15)
    ]
    conditions = {(c["test"], c["variable"]): c["values"] for c in trust["condition"]}
    assert conditions == {
        ("StringLike", "aws:RequestTag/tenant_id"): ["?*"],
        ("ForAllValues:StringEquals", "aws:TagKeys"): ["tenant_id"],
    }
    (grant,) = _statements(tf, "tenant_access")
    assert set(grant["actions"]) == {"dynamodb:BatchWriteItem", "dynamodb:Query"}
    assert grant["resources"] == [Ref("aws_dynamodb_table.logs", "arn")]
    assert grant["condition"] == [
        {
            "test": "ForAllValues:StringEquals",
            "variable": "dynamodb:LeadingKeys",
            "values": ["${aws:PrincipalTag/tenant_id}"],
        }
    ]
    policy = tf.resources["aws_iam_role_policy.tenant_access"]
    assert tf.eval(policy["role"]) == Ref("aws_iam_role.tenant_access", "id")


@pytest.mark.parametrize("name", ["worker", "admin", "tenant_read"])
def test_in_strict_mode_worker_and_admin_cannot_touch_the_logs_table_themselves(
    strict_tf: TfModel, name: str
) -> None:
    tf = strict_tf
    attached = []
    for key, body in tf.of_type("aws_iam_role_policy").items():
        if tf.count(key) and tf.eval(body["role"]) == Ref(f"aws_iam_role.{name}", "id"):
            attached.append(tf.eval(body["policy"]).resource.split(".")[-1])
    assert sorted(attached) == sorted([name, "assume_tenant_access"])
    granted = [s for doc in attached for s in _statements(tf, doc)]
    dynamodb = [s for s in granted if any(a.startswith("dynamodb:") for a in s["actions"])]
    assert not [s for s in dynamodb if Ref("aws_dynamodb_table.logs", "arn") in s["resources"]]
    # The one DynamoDB grant left: the worker's read of each tenant's retention (issue 16) from the tenants
    # table's `tenant#<id>` items only, and tenant_read's key lookup (issue 15); never the logs table.
    if name == "worker":
        (retention,) = dynamodb
        assert retention["actions"] == ["dynamodb:GetItem"]
        assert retention["resources"] == [Ref("aws_dynamodb_table.tenants", "arn")]
        assert retention["condition"] == [
            {"test": "ForAllValues:StringLike", "variable": "dynamodb:LeadingKeys", "values": ["tenant#*"]}
        ]
    elif name == "tenant_read":
        assert [(s["actions"], s["resources"]) for s in dynamodb] == [
            (["dynamodb:GetItem"], [Ref("aws_dynamodb_table.tenants", "arn")])
        ]
    else:
        assert not dynamodb
    (assume,) = _statements(tf, "assume_tenant_access")
    assert set(assume["actions"]) == {"sts:AssumeRole", "sts:TagSession"}
    assert assume["resources"] == [Ref("aws_iam_role.tenant_access", "arn")]
    env = tf.eval(tf.block(tf.resources[f"aws_lambda_function.{name}"], "environment")["variables"])
    assert env["LOGPIPE_STRICT_ISOLATION"] == "1"
    assert env["LOGPIPE_TENANT_ACCESS_ROLE_ARN"] == Ref("aws_iam_role.tenant_access", "arn")


# --- the code, on moto -----------------------------------------------------------------------------------


@dataclass
class RecordingSts:
    """The STS client the store is given: passes every call to moto and keeps (params, response)."""

    real: Any
    calls: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def assume_role(self, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.real.assume_role(**params)
        self.calls.append((params, response))
        return response

    def tenant_of_key(self) -> dict[str, str]:
        """AccessKeyId of each session STS handed out -> the tenant it was asked for."""
        return {r["Credentials"]["AccessKeyId"]: p["RoleSessionName"] for p, r in self.calls}


@dataclass
class TenantClients:
    """The tenant client factory: each client built, the credentials it was built from, its calls."""

    built: list[tuple[TenantCredentials, CallLog]] = field(default_factory=list)

    def __call__(self, credentials: TenantCredentials) -> Any:
        log = CallLog()
        self.built.append((credentials, log))
        made = boto3.client(
            "dynamodb",
            region_name=REGION,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
        )
        return spy(made, log)


@dataclass
class Strict:
    aws: Aws
    sts: RecordingSts
    clients: TenantClients
    role_arn: str


@pytest.fixture
def strict(lambdas: Aws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Strict]:
    role_arn = boto3.client("iam", region_name=REGION).create_role(
        RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )["Role"]["Arn"]
    sts = RecordingSts(boto3.client("sts", region_name=REGION))
    clients = TenantClients()
    monkeypatch.setenv("LOGPIPE_STRICT_ISOLATION", "1")
    monkeypatch.setenv("LOGPIPE_TENANT_ACCESS_ROLE_ARN", role_arn)
    aws_wiring.set_client("sts", sts)
    aws_wiring.set_tenant_client_factory(clients)
    yield Strict(lambdas, sts, clients, role_arn)


def _table_arn(role_arn: str, table: str) -> str:
    account = role_arn.split(":")[4]
    return f"arn:aws:dynamodb:{REGION}:{account}:table/{table}"


def _leading_keys(operation: str, params: dict[str, Any]) -> list[str]:
    """The partition keys a DynamoDB request names: what IAM puts in ``dynamodb:LeadingKeys``."""
    if operation == "BatchWriteItem":
        return [
            r["PutRequest"]["Item"]["tenant_id"]["S"]
            for reqs in params["RequestItems"].values()
            for r in reqs
        ]
    if operation == "Query":
        keys = [params["ExpressionAttributeValues"][":t"]["S"]]
        if "ExclusiveStartKey" in params:
            keys.append(params["ExclusiveStartKey"]["tenant_id"]["S"])
        return keys
    raise AssertionError(f"unexpected operation {operation} on a tenant session")


def allowed_by(policy_json: str, operation: str, params: dict[str, Any], table_arn: str) -> bool:
    """IAM's answer for the one statement shape our session policies use (Allow, action list, one
    resource, ``ForAllValues:StringEquals`` on ``dynamodb:LeadingKeys``); anything else is a test error."""
    (statement,) = json.loads(policy_json)["Statement"]
    assert statement["Effect"] == "Allow" and set(statement["Condition"]) == {"ForAllValues:StringEquals"}
    allowed_keys = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
    return (
        f"dynamodb:{operation}" in statement["Action"]
        and statement["Resource"] == table_arn
        and all(key in allowed_keys for key in _leading_keys(operation, params))
    )


def _ingest_for(aws: Aws, keys: dict[str, str], per_tenant: int = 3) -> None:
    for tenant, key in keys.items():
        body = json.dumps([{"message": f"{tenant} {i}"} for i in range(per_tenant)])
        assert ingest.handler(ingest_event(key, body), FakeContext())["statusCode"] == 202


def test_each_tenant_s_records_are_written_and_read_with_that_tenant_s_session_only(strict: Strict) -> None:
    aws = strict.aws
    keys = create_tenants(aws, "acme", "globex")
    _ingest_for(aws, keys)
    aws.log.calls.clear()
    EventSourceMapping(aws.sqs, aws.queue_url, worker.handler).drain(FakeContext(60_000))
    for tenant in keys:
        response = admin.handler(admin_event({"tenant": tenant, "limit": "2"}), FakeContext())
        body = json.loads(response["body"])
        assert response["statusCode"] == 200 and len(body["items"]) == 2
        assert {r["tenant_id"] for r in body["items"]} == {tenant}
        cursor = {"tenant": tenant, "limit": "2", "cursor": body["next_cursor"]}
        rest = json.loads(admin.handler(admin_event(cursor), FakeContext())["body"])
        assert [r["tenant_id"] for r in rest["items"]] == [tenant]

    # The function's own DynamoDB client never touched the logs table: only tenant sessions did.
    assert not [p for op, p in aws.log.calls if op in ("BatchWriteItem", "Query")]
    table_arn = _table_arn(strict.role_arn, aws.logs_table)
    # Every AssumeRole: the tenant-access role, a 15-minute session named and tagged with the tenant, and
    # exactly this session policy (the worker's may write, admin's may query — nothing else).
    assert len(strict.sts.calls) == 4  # worker and admin, two tenants each, each once (cached after)
    for params, _ in strict.sts.calls:
        tenant = params["RoleSessionName"]
        assert tenant in keys
        assert params["RoleArn"] == strict.role_arn
        assert params["DurationSeconds"] == SESSION_SECONDS == 900
        assert params["Tags"] == [{"Key": "tenant_id", "Value": tenant}]
        policy = json.loads(params["Policy"])
        assert policy in [
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "OneTenantPartition",
                        "Effect": "Allow",
                        "Action": [action],
                        "Resource": table_arn,
                        "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [tenant]}},
                    }
                ],
            }
            for action in ("dynamodb:BatchWriteItem", "dynamodb:Query")
        ]
    # Each tenant client was built from the credentials STS returned for one tenant, and every call it
    # made names only that tenant's partition — and is allowed by that session's policy.
    tenant_of_key = strict.sts.tenant_of_key()
    policy_of_key = {r["Credentials"]["AccessKeyId"]: p["Policy"] for p, r in strict.sts.calls}
    assert len(strict.clients.built) == 4
    calls = 0
    for credentials, log in strict.clients.built:
        tenant = tenant_of_key[credentials.access_key_id]
        for operation, params in log.calls:
            calls += 1
            assert set(_leading_keys(operation, params)) == {tenant}
            assert allowed_by(policy_of_key[credentials.access_key_id], operation, params, table_arn)
    assert calls >= 6  # two writes and two queries per tenant, at least


def test_the_policy_check_refuses_a_cross_tenant_call() -> None:
    """The evaluator used above is not vacuous: a call naming another tenant's partition fails it."""
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/logs"
    policy = session_policy(arn, "acme", ["dynamodb:BatchWriteItem"])
    item = {"tenant_id": {"S": "globex"}, "log_id": {"S": "x"}}
    write = {"RequestItems": {"logs": [{"PutRequest": {"Item": item}}]}}
    assert not allowed_by(policy, "BatchWriteItem", write, arn)
    mixed = {
        "RequestItems": {
            "logs": [
                {"PutRequest": {"Item": {**item, "tenant_id": {"S": "acme"}}}},
                *write["RequestItems"]["logs"],
            ]
        }
    }
    assert not allowed_by(policy, "BatchWriteItem", mixed, arn)
    read = {"ExpressionAttributeValues": {":t": {"S": "acme"}}}
    assert not allowed_by(policy, "Query", read, arn)  # not an allowed action for a writer
    assert allowed_by(session_policy(arn, "acme", ["dynamodb:Query"]), "Query", read, arn)


def _rec(tenant: str, log_id: str) -> Record:
    return {
        "tenant_id": tenant,
        "log_id": log_id,
        "timestamp": "2026-11-26T03:44:56.123Z",
        "received_at": "2026-11-26T03:44:56.123Z",
        "level": "info",
        "message": f"{tenant} record",
        "attributes": {},
        "source": "json",
        "redactions": 0,
    }


def test_mixed_records_are_split_by_tenant_each_through_its_own_session(strict: Strict) -> None:
    aws = strict.aws
    sessions = TenantSessions(
        strict.sts, strict.role_arn, _table_arn(strict.role_arn, aws.logs_table), strict.clients
    )
    store = TenantScopedStore(sessions, lambda c: DynamoStore(c, aws.logs_table))
    ids = new_log_ids(4, 1_795_000_000_000)
    store.put_records(
        [_rec("acme", ids[0]), _rec("globex", ids[1]), _rec("acme", ids[2]), _rec("globex", ids[3])]
    )
    tenant_of_key = strict.sts.tenant_of_key()
    for credentials, log in strict.clients.built:
        (call,) = log.of("BatchWriteItem")
        assert set(_leading_keys("BatchWriteItem", call)) == {tenant_of_key[credentials.access_key_id]}
    assert [r["tenant_id"] for r in store.query(LogQuery(tenant_id="acme")).items] == ["acme", "acme"]


@dataclass
class ClockedSts:
    """An STS whose sessions expire SESSION_SECONDS after the test's clock (moto's follow the real clock)."""

    now: list[float]
    calls: list[str] = field(default_factory=list)

    def assume_role(self, **params: Any) -> dict[str, Any]:
        self.calls.append(params["RoleSessionName"])
        expires = datetime.fromtimestamp(self.now[0] + params["DurationSeconds"], UTC)
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIA{n:016d}",
                "SecretAccessKey": f"secret-{n}",
                "SessionToken": f"token-{n}",
                "Expiration": expires,
            }
        }


def test_sessions_are_cached_per_tenant_until_shortly_before_expiry() -> None:
    now = [1_800_000_000.0]
    sts = ClockedSts(now)
    built: list[str] = []

    def factory(credentials: TenantCredentials) -> str:
        built.append(credentials.access_key_id)
        return credentials.access_key_id  # the "client" is the key it was built from

    sessions = TenantSessions(
        sts, "arn:aws:iam::123456789012:role/r", "arn:t", factory, clock=lambda: now[0], max_cached=2
    )
    acme = sessions.client_for("acme")
    assert sessions.client_for("acme") == acme
    globex = sessions.client_for("globex")
    assert globex != acme and sts.calls == ["acme", "globex"]
    # Renewed REFRESH_MARGIN_SECONDS before the session's end, not later and not much earlier.
    now[0] += SESSION_SECONDS - REFRESH_MARGIN_SECONDS - 1
    assert sessions.client_for("acme") == acme and sts.calls == ["acme", "globex"]
    now[0] += 2
    renewed = sessions.client_for("acme")
    assert renewed != acme and sts.calls == ["acme", "globex", "acme"]
    assert sessions.client_for("acme") == renewed
    # Bounded: a third tenant evicts the least recently used one (globex), not the others.
    sessions.client_for("initech")
    assert sessions.client_for("acme") == renewed and sts.calls[-1] == "initech"
    sessions.client_for("globex")
    assert sts.calls == ["acme", "globex", "acme", "initech", "globex"]
    assert built == [f"ASIA{n:016d}" for n in range(1, 6)]


@pytest.mark.parametrize("tenant", ["", "ACME", "a", "acme/../globex", "x" * 64, "acme\n"])
def test_no_session_is_asked_for_an_invalid_tenant_id(strict: Strict, tenant: str) -> None:
    sessions = TenantSessions(strict.sts, strict.role_arn, "arn:aws:dynamodb:::table/logs", strict.clients)
    with pytest.raises(StoreError):
        sessions.client_for(tenant)
    assert not strict.sts.calls


def test_the_default_factory_builds_the_client_from_the_session_s_credentials(
    fake_credentials: None,
) -> None:
    aws_wiring.reset_clients()
    creds = TenantCredentials("ASIATENANTACME000001", "secret-acme", "token-acme", 0.0)
    made = aws_wiring._default_tenant_client(creds)
    frozen = made._request_signer._credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        "ASIATENANTACME000001",
        "secret-acme",
        "token-acme",
    )


def test_strict_isolation_needs_its_role(strict: Strict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOGPIPE_TENANT_ACCESS_ROLE_ARN")
    with pytest.raises(aws_wiring.ConfigError, match="LOGPIPE_TENANT_ACCESS_ROLE_ARN"):
        aws_wiring.store_from_env(purpose="write")
    monkeypatch.setenv("LOGPIPE_TENANT_ACCESS_ROLE_ARN", "not-an-arn")
    with pytest.raises(aws_wiring.ConfigError):
        aws_wiring.store_from_env(purpose="write")
    monkeypatch.setenv("LOGPIPE_STRICT_ISOLATION", "maybe")
    with pytest.raises(aws_wiring.ConfigError, match="LOGPIPE_STRICT_ISOLATION"):
        aws_wiring.store_from_env(purpose="write")


# --- what moto's IAM enforcement can and cannot show -----------------------------------------------------

_ALLOW_ALL_RESOURCES = "*"  # moto checks DynamoDB calls against resource "*": table ARNs never match there


@mock_aws(config={"iam": {"load_aws_managed_policies": False}})
@set_initial_no_auth_action_count(7)
def test_moto_cannot_prove_the_cross_tenant_denial() -> None:
    """With moto's IAM enforcement on: the strict-mode worker identity (only sts:AssumeRole) is refused a
    direct write, and a session can use only the actions of the role's own policy — moto enforces that
    much. But it ignores session policies and conditions: the cross-tenant write below, which AWS refuses,
    succeeds on moto. So the denial itself is stated by IAM's documentation, not proven by this suite.
    If this test starts failing at the marked line, moto has learnt session policies: turn it into a proof.
    """
    iam = boto3.client("iam", region_name=REGION)
    create_logs_table(boto3.client("dynamodb", region_name=REGION))
    iam.create_user(UserName="worker")
    iam.put_user_policy(
        UserName="worker",
        PolicyName="assume-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="worker")["AccessKey"]
    role = iam.create_role(
        RoleName=ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
            }
        ),
    )["Role"]
    iam.put_role_policy(
        RoleName=ROLE_NAME,
        PolicyName="tenant-access",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "dynamodb:BatchWriteItem", "Resource": _ALLOW_ALL_RESOURCES}
                ],
            }
        ),
    )
    iam.list_roles()  # the 7th and last unauthenticated call; from here on every request is checked
    as_worker = {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}
    worker_ddb = boto3.client("dynamodb", region_name=REGION, **as_worker)
    item = {"tenant_id": {"S": "acme"}, "log_id": {"S": "1"}}
    with pytest.raises(worker_ddb.exceptions.ClientError, match="AccessDenied"):
        worker_ddb.batch_write_item(RequestItems={"logs": [{"PutRequest": {"Item": item}}]})

    tenant_clients = TenantClients()
    sessions = TenantSessions(
        boto3.client("sts", region_name=REGION, **as_worker),
        role["Arn"],
        _table_arn(role["Arn"], "logs"),
        tenant_clients,
        actions=["dynamodb:BatchWriteItem"],
    )
    store = DynamoStore(sessions.client_for("acme"), "logs")
    store.put_records([_rec("acme", new_log_ids(1, 1_795_000_000_000)[0])])  # allowed, as on AWS
    with pytest.raises(StoreError):  # Query is not in the role's policy: moto enforces actions
        store.query(LogQuery(tenant_id="acme"))
    # AWS refuses this (globex is outside the session policy's LeadingKeys); moto lets it through:
    store.put_records([_rec("globex", new_log_ids(1, 1_795_000_000_001)[0])])  # <- the marked line
