"""``AdminClient`` with a tenant's read key: it reads ``GET /logs`` (issue 15)."""

from __future__ import annotations

import httpx
import pytest
import respx
from logpipe import AdminClient, ConfigError, PermissionDeniedError, RetryPolicy

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
