"""The tenant read function's dependencies: the logs store (read) and the key store."""

from __future__ import annotations

from collections.abc import Mapping

from logpipe_backend.handlers.tenant_read import TenantReadDeps
from logpipe_backend.wiring import env_or_os, on_aws


def deps(environ: Mapping[str, str] | None = None) -> TenantReadDeps:
    env = env_or_os(environ)
    if not on_aws(env):
        import logpipe_backend.adapters.local.wiring as local

        ports = local.ports_from_env(env)
        return TenantReadDeps(store=ports.store, keys=ports.keys)

    from logpipe_backend.adapters.aws import wiring as aws

    # Under strict isolation the per-tenant sessions may only query (purpose="read"), as admin's.
    return TenantReadDeps(store=aws.store_from_env(env, purpose="read"), keys=aws.key_store_from_env(env))
