"""``AdminClient`` with a tenant's read key: it reads ``GET /logs`` (issue 15)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import respx
from logpipe import AdminClient, ConfigError, PermissionDeniedError, RetryPolicy, load_settings

BASE = "http://logpipe.test"
PAGE = {"items": [{"log_id": "01M8AZV7KN0RGZYX4XKYNPYX60", "message": "m"}], "next_cursor": None}


@respx.mock
def test_a_key_alone_reads_the_tenant_path_without_a_tenant() -> None:
    route = respx.get(f"{BASE}/logs").mock(return_value=httpx.Response(200, json=PAGE))
    with AdminClient(BASE + "/ingest", api_key="lp_read") as client:
        assert client.tenant_key_mode and client.logs_url == f"{BASE}/logs"
        assert [r["message"] for r in client.query(None)] == ["m"]
        assert [r["message"] for r in client.query("acme", level="warn")] == ["m"]
    first, second = (call.request for call in route.calls)
    assert first.headers["authorization"] == "Bearer lp_read" and "tenant" not in first.url.params
    assert second.url.params["tenant"] == "acme" and second.url.params["level"] == "warn"


def test_admin_credentials_win_over_a_key() -> None:
    with AdminClient(BASE, admin_token="lpadm_t", api_key="lp_read") as client:
        assert not client.tenant_key_mode and client.logs_url == f"{BASE}/admin/logs"
    with AdminClient(BASE, api_key="lp_read", auth="sigv4", region="us-east-1") as client:
        assert not client.tenant_key_mode


def test_without_any_credential_the_error_names_both() -> None:
    with pytest.raises(ConfigError, match="no admin token or read key"):
        AdminClient(BASE)


@respx.mock
def test_tenant_mismatch_is_a_permission_error() -> None:
    body = {"error": {"code": "tenant_mismatch", "message": "tenant does not match the key's tenant"}}
    respx.get(f"{BASE}/logs").mock(return_value=httpx.Response(403, json=body))
    client = AdminClient(BASE, api_key="lp_read", retry=RetryPolicy(max_attempts=1))
    with client, pytest.raises(PermissionDeniedError) as caught:
        client.query_page("globex")
    assert caught.value.code == "tenant_mismatch"


@pytest.mark.parametrize(
    ("key_from", "token_from", "key_mode"),
    [
        ("flag", "profile", True),  # `logpipe serve` wrote its admin token into the local profile
        ("env", "profile", True),
        ("flag", "env", True),
        ("env", "flag", False),
        ("profile", "env", False),
        ("env", "env", False),  # the same level: the admin token wins
        ("profile", "profile", False),
    ],
)
def test_the_credential_given_most_directly_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key_from: str, token_from: str, key_mode: bool
) -> None:
    config = tmp_path / "config.toml"
    profile = {}
    if key_from == "profile":
        profile["api_key"] = "lp_read"
    if token_from == "profile":
        profile["admin_token"] = "lpadm_t"
    lines = ["[profiles.local]", *(f'{k} = "{v}"' for k, v in profile.items())]
    config.write_text('active_profile = "local"\n' + "\n".join(lines) + "\n")
    monkeypatch.setenv("LOGPIPE_CONFIG", str(config))
    for name in ("LOGPIPE_API_KEY", "LOGPIPE_ADMIN_TOKEN", "LOGPIPE_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    if key_from == "env":
        monkeypatch.setenv("LOGPIPE_API_KEY", "lp_read")
    if token_from == "env":
        monkeypatch.setenv("LOGPIPE_ADMIN_TOKEN", "lpadm_t")
    args = {"api_key": "lp_read"} if key_from == "flag" else {}
    if token_from == "flag":
        args["admin_token"] = "lpadm_t"
    resolved = load_settings(**args)  # both credentials are there, each from where the case says
    assert resolved.api_key == "lp_read" and resolved.admin_token == "lpadm_t"
    assert resolved.sources["api_key"].split(":")[0] == key_from
    assert resolved.sources["admin_token"].split(":")[0] == token_from
    with AdminClient(BASE, **args) as client:
        assert client.tenant_key_mode is key_mode
        assert client.logs_url == (f"{BASE}/logs" if key_mode else f"{BASE}/admin/logs")
