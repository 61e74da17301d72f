"""Settings the CLI needs beyond what the SDK clients resolve themselves."""

from __future__ import annotations

from logpipe import AdminClient, RetryPolicy, load_settings

from logpipe_cli.errors import fail
from logpipe_cli.exit_codes import ExitCode

# A person is waiting: a few quick retries (a server restarting), then say it is unreachable.
READ_RETRY = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=1.0)


def require_tenant(tenant: str | None, profile: str | None) -> str:
    resolved = load_settings(tenant=tenant, profile=profile).tenant
    if not resolved:
        fail("--tenant is required (or LOGPIPE_TENANT, or `logpipe config set tenant T`)", ExitCode.USAGE)
    return resolved


def admin_client(
    *,
    endpoint: str | None,
    admin_token: str | None,
    auth: str | None,
    region: str | None,
    profile: str | None,
) -> AdminClient:
    """The client of ``query`` and ``tail``, from their ``endpoint_options(admin=True)``."""
    settings = load_settings(
        endpoint=endpoint, admin_token=admin_token, profile=profile, auth=auth, region=region
    )
    signs = settings.auth == "sigv4" or ".amazonaws.com" in settings.endpoint
    if not settings.admin_token and not signs:
        # Said here in the CLI's words: the SDK's own message names its keyword arguments.
        fail(
            "no admin token: pass --admin-token, set LOGPIPE_ADMIN_TOKEN,"
            " or `logpipe config set admin_token T` (`logpipe serve` writes it into the local profile);"
            " on AWS use --auth sigv4",
            ExitCode.USAGE,
        )
    return AdminClient(
        endpoint=endpoint,
        admin_token=admin_token,
        profile=profile,
        auth=auth,
        region=region,
        retry=READ_RETRY,
    )
