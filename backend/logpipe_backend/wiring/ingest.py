"""The ingest function's dependencies: queue, key store, idempotency store, limits and rate limit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logpipe_backend import settings
from logpipe_backend.ports import IdempotencyStore, IngestDeps, KeyStore, Queue
from logpipe_backend.settings import Env

if TYPE_CHECKING:
    from logpipe_backend.wiring.local import LocalPorts


def deps_for(
    queue: Queue, keys: KeyStore, idempotency: IdempotencyStore, environ: Env | None = None
) -> IngestDeps:
    """The one place IngestDeps is assembled: the given adapters and the settings around them."""
    env = settings.env_or_os(environ)
    return IngestDeps(
        queue=queue,
        keys=keys,
        idempotency=idempotency,
        limits=settings.limits(env),
        max_queue_depth=settings.max_queue_depth(env),
        # On AWS per Lambda container: API Gateway's stage throttling is the global bound (docs/security.md).
        # Locally one process serves every request, so the in-memory limiter is exact.
        rate_limiter=settings.rate_limiter(env),
    )


def local_deps(ports: LocalPorts, environ: Env | None = None) -> IngestDeps:
    return deps_for(ports.queue, ports.keys, ports.idempotency, environ)


def deps(environ: Env | None = None) -> IngestDeps:
    env = settings.env_or_os(environ)
    if not settings.on_aws(env):
        from logpipe_backend.wiring import local

        return local_deps(local.ports_from_env(env), env)

    from logpipe_backend.wiring import aws

    # No copy when it already is a dict: a test's recording environment must see every read.
    aws_env = env if isinstance(env, dict) else dict(env)
    return deps_for(
        aws.queue_from_env(aws_env),
        aws.key_store_from_env(aws_env),
        aws.idempotency_store_from_env(aws_env),
        aws_env,
    )
