"""Settings the CLI needs beyond what the SDK clients resolve themselves."""

from __future__ import annotations

from logpipe import load_settings

from logpipe_cli.errors import fail
from logpipe_cli.exit_codes import ExitCode


def require_tenant(tenant: str | None, profile: str | None) -> str:
    resolved = load_settings(tenant=tenant, profile=profile).tenant
    if not resolved:
        fail("--tenant is required (or LOGPIPE_TENANT, or `logpipe config set tenant T`)", ExitCode.USAGE)
    return resolved
