"""The local adapters on one data dir, and the ingest dependencies built on them.

What ``logpipe serve`` (one set for the server process), its worker processes and the handlers' local
fallback (``logpipe_backend.wiring``) use.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from logpipe_backend.adapters.local.datadir import DataDir, admin_token_from, default_data_dir
from logpipe_backend.adapters.local.keystore import SqliteKeyStore
from logpipe_backend.adapters.local.queue import DEFAULT_MAX_RECEIVES, SqliteIdempotencyStore, SqliteQueue
from logpipe_backend.adapters.local.store import SqliteStore
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.ratelimit import rate_limiter_from_env
from logpipe_backend.handlers.admin import AdminDeps
from logpipe_backend.handlers.ingest import IngestDeps, max_queue_depth_from_env
from logpipe_backend.handlers.tenant_read import TenantReadDeps


@dataclass(frozen=True)
class LocalPorts:
    """The local adapters on one data dir."""

    data_dir: DataDir
    queue: SqliteQueue
    idempotency: SqliteIdempotencyStore
    store: SqliteStore
    keys: SqliteKeyStore

    def close(self) -> None:
        for part in (self.queue, self.idempotency, self.store, self.keys):
            part.close()


def local_ports(
    data_dir: DataDir,
    *,
    admin_token: str | None = None,
    max_receives: int = DEFAULT_MAX_RECEIVES,
) -> LocalPorts:
    data_dir.create()
    return LocalPorts(
        data_dir=data_dir,
        queue=SqliteQueue(data_dir.queue_db, max_receives=max_receives),
        idempotency=SqliteIdempotencyStore(data_dir.queue_db),
        store=SqliteStore(data_dir.logs_db),
        keys=SqliteKeyStore(data_dir.tenants_db, admin_token=admin_token),
    )


def ports_from_env(environ: Mapping[str, str] | None = None) -> LocalPorts:
    env = os.environ if environ is None else environ
    data_dir = DataDir(default_data_dir(env))
    return local_ports(data_dir, admin_token=admin_token_from(data_dir, env))


def ingest_deps(ports: LocalPorts, environ: Mapping[str, str] | None = None) -> IngestDeps:
    env = dict(os.environ if environ is None else environ)
    return IngestDeps(
        queue=ports.queue,
        keys=ports.keys,
        idempotency=ports.idempotency,
        limits=Limits.from_env(env),
        max_queue_depth=max_queue_depth_from_env(env),
        rate_limiter=rate_limiter_from_env(env),
    )


def admin_deps(ports: LocalPorts) -> AdminDeps:
    return AdminDeps(store=ports.store, keys=ports.keys, auth_mode="token")


def tenant_read_deps(ports: LocalPorts) -> TenantReadDeps:
    return TenantReadDeps(store=ports.store, keys=ports.keys)
