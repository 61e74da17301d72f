"""The SQLite adapters on one data dir, as the local runtime and the CLI use them.

What ``logpipe serve`` (one set for the server process), its worker processes and the functions' local
fallback (``wiring.ingest`` and the others, without ``LOGPIPE_QUEUE_URL``) use. The local runtime
(``logpipe_backend.runtime``) reaches the SQLite adapters only through this module: the names below are
what it may use of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from logpipe_backend import settings
from logpipe_backend.adapters.sqlite.datadir import DataDir
from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore
from logpipe_backend.adapters.sqlite.queue import (
    DEFAULT_MAX_RECEIVES,
    DEFAULT_VISIBILITY_TIMEOUT_S,
    ReceivedMessage,
    SqliteIdempotencyStore,
    SqliteQueue,
)
from logpipe_backend.adapters.sqlite.retention import (
    DEFAULT_SWEEP_S,
    RetentionSweep,
    enable_incremental_vacuum,
    run_sweeps,
    store_bytes,
)
from logpipe_backend.adapters.sqlite.store import SqliteStore

__all__ = [
    "DEFAULT_MAX_RECEIVES",
    "DEFAULT_SWEEP_S",
    "DEFAULT_VISIBILITY_TIMEOUT_S",
    "DataDir",
    "LocalPorts",
    "ReceivedMessage",
    "RetentionSweep",
    "SqliteQueue",
    "SqliteStore",
    "admin_token_from",
    "enable_incremental_vacuum",
    "local_ports",
    "ports_from_env",
    "run_sweeps",
    "store_bytes",
    "worker_ports",
]


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


def admin_token_from(data_dir: DataDir, environ: Mapping[str, str] | None = None) -> str | None:
    """The admin token the local stack accepts: ``LOGPIPE_ADMIN_TOKEN`` if set, else the stored one."""
    return settings.admin_token(environ) or data_dir.read_admin_token()


def ports_from_env(environ: Mapping[str, str] | None = None) -> LocalPorts:
    data_dir = DataDir(settings.data_dir(environ))
    return local_ports(data_dir, admin_token=admin_token_from(data_dir, environ))


def worker_ports(data_dir: DataDir, *, max_receives: int) -> tuple[SqliteQueue, SqliteStore]:
    """What one local worker process opens: the queue it leases from (and re-queues to) and the store."""
    return SqliteQueue(data_dir.queue_db, max_receives=max_receives), SqliteStore(data_dir.logs_db)
