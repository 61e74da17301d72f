"""The admin function's dependencies: the store and how callers are authenticated."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logpipe_backend import settings
from logpipe_backend.ports import AdminDeps
from logpipe_backend.settings import Env

if TYPE_CHECKING:
    from logpipe_backend.wiring.local import LocalPorts


def auth_mode(environ: Env | None = None) -> str:
    return settings.admin_auth_mode(environ)


def local_deps(ports: LocalPorts, mode: str = "token") -> AdminDeps:
    return AdminDeps(store=ports.store, keys=ports.keys, auth_mode=mode)


def deps(environ: Env | None = None) -> AdminDeps:
    env = settings.env_or_os(environ)
    mode = auth_mode(env)
    if not settings.on_aws(env):
        from logpipe_backend.wiring import local

        return local_deps(local.ports_from_env(env), mode)

    from logpipe_backend.wiring import aws

    # The admin route has AWS_IAM authorization at API Gateway: no key store is read. Under strict
    # isolation admin's per-tenant sessions may only query (purpose="read").
    return AdminDeps(store=aws.store_from_env(env, purpose="read"), keys=None, auth_mode=mode)
