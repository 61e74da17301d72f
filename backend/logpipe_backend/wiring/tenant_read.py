"""The tenant read function's dependencies: the logs store (read) and the key store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logpipe_backend import settings
from logpipe_backend.ports import TenantReadDeps
from logpipe_backend.settings import Env

if TYPE_CHECKING:
    from logpipe_backend.wiring.local import LocalPorts


def local_deps(ports: LocalPorts) -> TenantReadDeps:
    return TenantReadDeps(store=ports.store, keys=ports.keys)


def deps(environ: Env | None = None) -> TenantReadDeps:
    env = settings.env_or_os(environ)
    if not settings.on_aws(env):
        from logpipe_backend.wiring import local

        return local_deps(local.ports_from_env(env))

    from logpipe_backend.wiring import aws

    # Under strict isolation the per-tenant sessions may only query (purpose="read"), as admin's.
    return TenantReadDeps(store=aws.store_from_env(env, purpose="read"), keys=aws.key_store_from_env(env))
