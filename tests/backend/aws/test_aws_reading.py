"""Reading on AWS (moto): the admin Lambda runs the filters, /admin/stats and /admin/fields over records the
real ingest and worker handlers stored through real boto3 calls (docs/contract.md §3)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from aws_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    aws_fixture,
    fake_credentials_fixture,
    lambdas_fixture,
)
from aws_lambda_sim import EventSourceMapping, FakeContext, admin_event, ingest_event
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.handlers import admin
from logpipe_backend.lambdas import admin as admin_lambda
from logpipe_backend.lambdas import ingest, worker
from logpipe_backend.wiring import admin as admin_wiring


def _fill(aws: Aws) -> None:
    keys = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    acme, globex = keys.create_tenant("acme"), keys.create_tenant("globex")
    records = [
        {
            "level": "error" if i % 10 == 0 else "info",
            "message": f"GET /orders/{i} {'timeout' if i % 20 == 0 else 'done'}",
            "status": 503 if i % 10 == 0 else 200,
            "host": f"web-{i % 3}",
            "db": {"host": "db1"},
        }
        for i in range(200)
    ]
    for key, batch in ((acme, records), (globex, [{"message": "GET /orders/0 timeout", "status": 503}])):
        response = ingest.handler(ingest_event(key, json.dumps(batch)), FakeContext())
        assert response["statusCode"] == 202, response
    EventSourceMapping(aws.sqs, aws.queue_url, worker.handler).drain(FakeContext())


def _get(params: list[tuple[str, str]], path: str = "/admin/logs") -> dict[str, Any]:
    response = admin_lambda.handler(admin_event(params, path=path), FakeContext())
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    return body


def _messages(params: list[tuple[str, str]]) -> list[str]:
    found: list[str] = []
    cursor: list[tuple[str, str]] = []
    for _ in range(50):
        body = _get([*params, ("limit", "7"), *cursor])
        found += [r["message"] for r in body["items"]]
        if body["next_cursor"] is None:
            return found
        cursor = [("cursor", body["next_cursor"])]
    raise AssertionError("too many pages")


def test_filters_run_in_the_admin_function(lambdas: Aws) -> None:
    _fill(lambdas)
    acme = [("tenant", "acme")]
    errors = _messages([*acme, ("where", "status>=500"), ("where", "host=web-0")])
    assert sorted(errors) == sorted(
        f"GET /orders/{i} {'timeout' if i % 20 == 0 else 'done'}" for i in range(0, 200, 30)
    )
    assert len(_messages([*acme, ("contains", "orders"), ("contains", "TIMEOUT")])) == 10
    assert len(_messages([*acme, ("levels", "error"), ("not_contains", "timeout")])) == 10
    assert _messages([*acme, ("regex", r"/1\d\d timeout$")]) == [
        f"GET /orders/{i} timeout" for i in (180, 160, 140, 120, 100)
    ]
    assert len(_messages([*acme, ("where", "db.host=db1")])) == 200
    assert _messages([*acme, ("where", "missing")]) == []
    # The other tenant's matching record is never among them.
    assert _messages([("tenant", "globex"), ("where", "status>=500")]) == ["GET /orders/0 timeout"]


def test_bad_filters_are_400_from_the_admin_function(lambdas: Aws) -> None:
    for params in ([("where", "status>=lots")], [("regex", "(unclosed")], [("levels", "loud")]):
        response = admin_lambda.handler(admin_event([("tenant", "acme"), *params]), FakeContext())
        assert response["statusCode"] == 400, response
        assert json.loads(response["body"])["error"]["code"] == "invalid_query"


def test_stats_and_fields_on_aws(lambdas: Aws) -> None:
    _fill(lambdas)
    stats = _get(
        [("tenant", "acme"), ("since", "1h"), ("by", "host"), ("where", "status>=500")], "/admin/stats"
    )
    assert stats["totals"] == {"web-0": 7, "web-1": 7, "web-2": 6} and stats["records"] == 20
    assert stats["partial"] is False and stats["bucket_seconds"] == 60
    assert sum(sum(b["counts"].values()) for b in stats["buckets"]) == 20
    fields = _get([("tenant", "acme"), ("sample", "50")], "/admin/fields")
    names = {f["name"]: f for f in fields["fields"]}
    assert fields["sampled"] == 50 and set(names) == {"status", "host", "db.host"}
    assert names["db.host"]["values"] == [{"value": "db1", "count": 50}]


def test_stats_stop_at_their_read_limit_and_say_so(lambdas: Aws) -> None:
    key = DynamoKeyStore(lambdas.dynamodb, lambdas.tenants_table).create_tenant("bulk")
    body = json.dumps([{"message": f"m{i}"} for i in range(1500)])
    assert ingest.handler(ingest_event(key, body), FakeContext())["statusCode"] == 202
    EventSourceMapping(lambdas.sqs, lambdas.queue_url, worker.handler).drain(FakeContext())
    event = admin_event([("tenant", "bulk"), ("since", "1h")], path="/admin/stats")
    deps = admin_wiring.deps()
    whole = json.loads(admin.handle(event, replace(deps, stats_max_pages=10))["body"])
    assert whole["records"] == 1500 and whole["partial"] is False and whole["complete_from"] is None
    one_page = json.loads(admin.handle(event, replace(deps, stats_max_pages=1))["body"])
    assert one_page["partial"] is True and one_page["records"] == 1000 and one_page["complete_from"]
