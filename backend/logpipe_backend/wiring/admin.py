"""The admin function's dependencies: the store and how callers are authenticated."""

from __future__ import annotations

from collections.abc import Mapping

from logpipe_backend.handlers.admin import AUTH_MODES, AdminDeps
from logpipe_backend.wiring import env_or_os, on_aws


def auth_mode(environ: Mapping[str, str] | None = None) -> str:
    env = env_or_os(environ)
    mode = env.get("LOGPIPE_ADMIN_AUTH") or ("iam" if on_aws(env) else "token")
    if mode not in AUTH_MODES:
        raise ValueError(f"LOGPIPE_ADMIN_AUTH must be one of {AUTH_MODES}, not {mode!r}")
    return mode


def deps(environ: Mapping[str, str] | None = None) -> AdminDeps:
    env = env_or_os(environ)
    mode = auth_mode(env)
    if not on_aws(env):
        import logpipe_backend.adapters.local.wiring as local

        return AdminDeps(store=(ports := local.ports_from_env(env)).store, keys=ports.keys, auth_mode=mode)

    from logpipe_backend.adapters.aws import wiring as aws

    # The admin route has AWS_IAM authorization at API Gateway: no key store is read. Under strict
    # isolation admin's per-tenant sessions may only query (purpose="read").
    return AdminDeps(store=aws.store_from_env(env, purpose="read"), keys=None, auth_mode=mode)
