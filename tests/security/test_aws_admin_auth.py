"""The admin route on AWS (issue #5): only IAM-signed requests reach the admin Lambda, and the handler,
with ``LOGPIPE_ADMIN_AUTH=iam``, trusts only API Gateway's verified IAM identity — never a bearer token.

Two layers, each tested: Terraform (every route to the admin integration has ``AWS_IAM`` authorization and
nothing else can invoke the admin function), and the handler (an event without
``requestContext.authorizer.iam`` is 401 whatever credential headers it carries, and no query runs).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_security_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    FakeContext,
    Ref,
    TfModel,
    admin_event,
    aws_fixture,
    create_tenants,
    drain,
    fake_credentials_fixture,
    ingest_event,
    lambdas_fixture,
)
from logpipe_backend.handlers import admin
from logpipe_backend.lambdas import admin as admin_lambda
from logpipe_backend.lambdas import ingest
from logpipe_backend.wiring import admin as admin_wiring


@pytest.fixture(scope="module", params=[False, True], ids=["default", "strict"])
def tf(request: pytest.FixtureRequest) -> TfModel:
    return TfModel(overrides={"strict_isolation": request.param})


def _mentions(node: Any, needle: str) -> bool:
    if isinstance(node, dict):
        return any(_mentions(v, needle) for v in node.values())
    if isinstance(node, list):
        return any(_mentions(v, needle) for v in node)
    return isinstance(node, str) and needle in node


def test_every_route_to_the_admin_function_requires_iam(tf: TfModel) -> None:
    admin_integration = f"integrations/{Ref('aws_apigatewayv2_integration.admin', 'id')}"
    routes = {tf.eval(r["route_key"]): r for r in tf.of_type("aws_apigatewayv2_route").values()}
    to_admin = {key for key, r in routes.items() if tf.eval(r["target"]) == admin_integration}
    assert to_admin == {f"{method} {path}" for path in admin.PATHS for method in ("GET", "ANY")}
    for key in to_admin:
        assert tf.eval(routes[key]["authorization_type"]) == "AWS_IAM", key
        assert "authorizer_id" not in routes[key]  # IAM, not a custom or JWT authorizer
    # And every route on the admin path goes to the admin integration (none to ingest, unauthenticated).
    assert {key for key in routes if key.split(" ", 1)[1].startswith("/admin/")} == to_admin
    # No route lacks an explicit authorization type (API Gateway's default is NONE).
    assert all("authorization_type" in r for r in routes.values())


def test_nothing_else_can_invoke_the_admin_function(tf: TfModel) -> None:
    referring = {
        key for key, body in tf.raw_resources.items() if _mentions(body, "aws_lambda_function.admin.")
    }
    assert referring == {"aws_apigatewayv2_integration.admin", "aws_lambda_permission.admin"}
    assert tf.eval(tf.resources["aws_apigatewayv2_integration.admin"]["integration_uri"]) == Ref(
        "aws_lambda_function.admin", "invoke_arn"
    )
    permission = tf.resources["aws_lambda_permission.admin"]
    assert tf.eval(permission["principal"]) == "apigateway.amazonaws.com"
    assert tf.eval(permission["action"]) == "lambda:InvokeFunction"
    assert tf.eval(permission["source_arn"]).endswith("/*/*/admin/*")
    # No function URL, no other trigger, no event source mapping onto it.
    assert not tf.of_type("aws_lambda_function_url")
    for esm in tf.of_type("aws_lambda_event_source_mapping").values():
        assert tf.eval(esm["function_name"]) != Ref("aws_lambda_function.admin", "arn")
    # The admin function is told to trust IAM only.
    env = tf.eval(tf.block(tf.resources["aws_lambda_function.admin"], "environment")["variables"])
    assert env["LOGPIPE_ADMIN_AUTH"] == "iam"


def test_on_aws_the_admin_handler_has_no_key_store_to_accept_a_token(lambdas: Aws) -> None:
    deps = admin_wiring.deps()
    assert deps.auth_mode == "iam" and deps.keys is None


def _without_iam(event: dict[str, Any], **headers: str) -> dict[str, Any]:
    bare = copy.deepcopy(event)
    bare["requestContext"].pop("authorizer", None)
    bare["headers"] = {k: v for k, v in bare["headers"].items() if k != "authorization"}
    bare["headers"].update(headers)
    return bare


def test_a_tenant_key_on_the_admin_path_is_refused_and_reads_nothing(lambdas: Aws) -> None:
    keys = create_tenants(lambdas, "acme")
    assert (
        ingest.handler(ingest_event(keys["acme"], json.dumps({"message": "secret"})), FakeContext())[
            "statusCode"
        ]
        == 202
    )
    drain(lambdas)
    lambdas.log.calls.clear()
    signed = admin_event({"tenant": "acme"})
    attempts = [
        _without_iam(signed, authorization=f"Bearer {keys['acme']}"),
        _without_iam(signed, **{"x-api-key": keys["acme"]}),
        _without_iam(signed, authorization="Bearer lpadm_" + "a" * 43),
        _without_iam(signed),
    ]
    # Authorizer shapes that are not API Gateway's verified IAM identity.
    for authorizer in (
        {},
        {"iam": None},
        {"iam": {}},
        {"lambda": {"tenant": "acme"}},
        {"jwt": {"claims": {}}},
    ):
        event = _without_iam(signed, authorization=f"Bearer {keys['acme']}")
        event["requestContext"]["authorizer"] = authorizer
        attempts.append(event)
    for event in attempts:
        response = admin_lambda.handler(event, FakeContext())
        assert response["statusCode"] == 401, (event["requestContext"].get("authorizer"), response)
        assert "secret" not in response["body"]
    assert not lambdas.log.of("Query"), "a refused request must not read the store"
    # The same request signed (API Gateway's IAM identity present) is answered, bearer header or not.
    assert admin_lambda.handler(signed, FakeContext())["statusCode"] == 200
    with_bearer = copy.deepcopy(signed)
    with_bearer["headers"]["authorization"] = f"Bearer {keys['acme']}"
    assert admin_lambda.handler(with_bearer, FakeContext())["statusCode"] == 200
