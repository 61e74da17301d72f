"""The ingest function's dependencies: queue, key store and idempotency store."""

from __future__ import annotations

from collections.abc import Mapping

from logpipe_backend.core.limits import Limits
from logpipe_backend.core.ratelimit import rate_limiter_from_env
from logpipe_backend.handlers.ingest import IngestDeps, max_queue_depth_from_env
from logpipe_backend.wiring import env_or_os, on_aws


def deps(environ: Mapping[str, str] | None = None) -> IngestDeps:
    env = env_or_os(environ)
    if not on_aws(env):
        import logpipe_backend.adapters.local.wiring as local

        return local.ingest_deps(local.ports_from_env(env), env)

    from logpipe_backend.adapters.aws import wiring as aws

    # No copy when it already is a dict: a test's recording environment must see every read.
    aws_env = env if isinstance(env, dict) else dict(env)
    return IngestDeps(
        queue=aws.queue_from_env(aws_env),
        keys=aws.key_store_from_env(aws_env),
        idempotency=aws.idempotency_store_from_env(aws_env),
        limits=Limits.from_env(aws_env),
        max_queue_depth=max_queue_depth_from_env(aws_env),
        # Per Lambda container: API Gateway's stage throttling is the global bound (README, Security).
        rate_limiter=rate_limiter_from_env(aws_env),
    )
