"""Settings the CLI needs beyond what the SDK clients resolve themselves."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from logpipe import AdminClient, RetryPolicy, load_settings

from logpipe_cli.errors import fail
from logpipe_cli.exit_codes import ExitCode

# A person is waiting: a few quick retries (a server restarting), then say it is unreachable.
READ_RETRY = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=1.0)


def require_tenant(tenant: str | None, profile: str | None, client: AdminClient | None = None) -> str | None:
    """The tenant to read; with a tenant's read key it may be left out (the key's tenant is read)."""
    resolved = load_settings(tenant=tenant, profile=profile).tenant
    if not resolved and client is not None and client.tenant_key_mode:
        return None
    if not resolved:
        fail("--tenant is required (or LOGPIPE_TENANT, or `logpipe config set tenant T`)", ExitCode.USAGE)
    return resolved


@contextlib.contextmanager
def open_reader(tenant: str | None, connection: dict[str, Any]) -> Iterator[tuple[AdminClient, str | None]]:
    """The client of a read command (``options.reader_options``' ``connection``) and the tenant it reads;
    with a tenant's read key the tenant may be left out (the key's own is read)."""
    with admin_client(**connection) as admin:
        yield admin, require_tenant(tenant, connection["profile"], admin)


def admin_client(
    *,
    endpoint: str | None,
    admin_token: str | None,
    auth: str | None,
    region: str | None,
    profile: str | None,
    api_key: str | None = None,
) -> AdminClient:
    """The client of the read commands, from their ``options.reader_options`` (see ``open_reader``).

    With a tenant key (``--api-key``, LOGPIPE_API_KEY, profile) and no admin token it reads ``GET /logs``.
    """
    settings = load_settings(
        endpoint=endpoint, admin_token=admin_token, api_key=api_key, profile=profile, auth=auth, region=region
    )
    signs = settings.auth == "sigv4" or ".amazonaws.com" in settings.endpoint
    if not settings.admin_token and not settings.api_key and not signs:
        # Said here in the CLI's words: the SDK's own message names its keyword arguments.
        fail(
            "no credential to read with: an admin token (--admin-token, LOGPIPE_ADMIN_TOKEN, or"
            " `logpipe config set admin_token T`; `logpipe serve` writes it into the local profile),"
            " a tenant read key (--api-key, LOGPIPE_API_KEY), or on AWS --auth sigv4",
            ExitCode.USAGE,
        )
    return AdminClient(
        endpoint=endpoint,
        admin_token=admin_token,
        api_key=api_key,
        profile=profile,
        auth=auth,
        region=region,
        retry=READ_RETRY,
    )
