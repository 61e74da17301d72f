"""POST /ingest with Basic auth (user = tenant id, password = key), and the ingest function's routing."""

from __future__ import annotations

import base64
import json

import pytest
from door_fakes import DoorEnv, door_event
from handler_fakes import ACME_KEY
from logpipe_backend.core.auth import Credential, request_credential


def basic(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


JSON = {"content-type": "application/json"}


def test_basic_auth_with_the_keys_tenant_is_accepted() -> None:
    env = DoorEnv()
    status, _, body = env.call(
        door_event("/ingest", '{"message": "hi"}', {**JSON, "authorization": basic(f"acme:{ACME_KEY}")})
    )
    assert status == 202, body
    assert env.records()[0]["tenant_id"] == "acme"


@pytest.mark.parametrize(
    ("authorization", "status", "code"),
    [
        (basic(f"beta:{ACME_KEY}"), 403, "tenant_mismatch"),
        (basic("acme:lp_unknown"), 401, "unauthorized"),
        (basic("acme"), 401, "unauthorized"),
        (basic("acme:"), 401, "unauthorized"),
        ("Basic !!!not-base64", 401, "unauthorized"),
    ],
)
def test_bad_basic_credentials(authorization: str, status: int, code: str) -> None:
    env = DoorEnv()
    got, _, body = env.call(
        door_event("/ingest", '{"message": "hi"}', {**JSON, "authorization": authorization})
    )
    assert (got, json.loads(body)["error"]["code"]) == (status, code)
    assert env.queue.bodies == []


def test_request_credential_schemes() -> None:
    assert request_credential({"authorization": "Splunk k"}, schemes=("splunk",)) == Credential("k")
    assert request_credential({"authorization": "Splunk k"}) is None
    assert request_credential({"authorization": basic("t:p:q")}) == Credential("p:q", "t")
    assert request_credential({"authorization": basic("t:p")}, basic=False) is None
    assert request_credential({"X-Api-Key": " k "}) == Credential("k")


def test_unknown_path_is_404() -> None:
    status, _, body = DoorEnv().call(door_event("/v2/logs", "x", JSON))
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
