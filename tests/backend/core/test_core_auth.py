"""core.auth: key and token formats, hashing, header parsing, tenant id rule."""

from __future__ import annotations

import hashlib
import re

import pytest
from logpipe_backend.core.auth import (
    TENANT_ID_RE,
    credential_from_headers,
    hash_secret,
    new_admin_token,
    new_api_key,
    secrets_equal,
    valid_tenant_id,
)

B64URL_43 = r"[A-Za-z0-9_-]{43}"


def test_api_key_format_and_uniqueness() -> None:
    keys = {new_api_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert re.fullmatch(r"lp_" + B64URL_43, key), key


def test_admin_token_format() -> None:
    token = new_admin_token()
    assert re.fullmatch(r"lpadm_" + B64URL_43, token)
    assert new_admin_token() != token


def test_hash_secret_is_sha256_hex() -> None:
    assert hash_secret("lp_abc") == hashlib.sha256(b"lp_abc").hexdigest()
    assert len(hash_secret(new_api_key())) == 64
    assert hash_secret("a") != hash_secret("b")


def test_secrets_equal() -> None:
    assert secrets_equal("lp_x", "lp_x")
    assert not secrets_equal("lp_x", "lp_y")
    assert not secrets_equal("lp_x", "lp_xx")
    assert secrets_equal("é", "é")  # non-ASCII does not raise (compare_digest refuses non-ASCII str)


@pytest.mark.parametrize("tenant", ["acme", "a1", "my-team_2", "x" * 63, "00"])
def test_valid_tenant_ids(tenant: str) -> None:
    assert valid_tenant_id(tenant)
    assert TENANT_ID_RE.fullmatch(tenant)


@pytest.mark.parametrize(
    "tenant", ["", "a", "x" * 64, "Acme", "ac me", "acme\n", "acmé", "a.b", "a/b", "../x"]
)
def test_invalid_tenant_ids(tenant: str) -> None:
    assert not valid_tenant_id(tenant)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": "Bearer lp_abc"}, "lp_abc"),
        ({"authorization": "bearer lp_abc"}, "lp_abc"),
        ({"authorization": "BEARER   lp_abc  "}, "lp_abc"),
        ({"x-api-key": "lp_abc"}, "lp_abc"),
        ({"x-api-key": " lp_abc "}, "lp_abc"),
        ({"authorization": "Basic dXNlcjpwYXNz", "x-api-key": "lp_k"}, "lp_k"),
        ({"authorization": "AWS4-HMAC-SHA256 Credential=x"}, None),
        ({"authorization": "Bearer "}, None),
        ({"authorization": "Bearer"}, None),
        ({"x-api-key": ""}, None),
        ({}, None),
        ({"Authorization": "Bearer lp_mixed"}, "lp_mixed"),
    ],
)
def test_credential_from_headers(headers: dict[str, str], expected: str | None) -> None:
    assert credential_from_headers(headers) == expected


def test_bearer_wins_over_x_api_key() -> None:
    assert credential_from_headers({"authorization": "Bearer a", "x-api-key": "b"}) == "a"
