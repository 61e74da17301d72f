"""The worker function's dependencies: the store, the queue it re-queues unfinished work to, the redactor
and the simulated-work setting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from logpipe_backend.core.redact import Redactor
from logpipe_backend.handlers.worker import WorkerDeps, work_per_char_from_env
from logpipe_backend.ports import Queue, Store
from logpipe_backend.wiring import env_or_os, on_aws


def deps_for_store(
    store: Store,
    environ: Mapping[str, str] | None = None,
    *,
    requeue: Queue | None = None,
    time_margin_ms: int | None = None,
) -> WorkerDeps:
    """The worker's dependencies around a given store and queue (the local worker loop opens its own)."""
    env = env_or_os(environ)
    built = WorkerDeps(
        store=store,
        redactor=Redactor.from_env(env),
        work_per_char_s=work_per_char_from_env(env),
        requeue=requeue,
    )
    return built if time_margin_ms is None else replace(built, time_margin_ms=time_margin_ms)


def deps(environ: Mapping[str, str] | None = None) -> WorkerDeps:
    env = env_or_os(environ)
    if not on_aws(env):
        import logpipe_backend.adapters.local.wiring as local

        ports = local.ports_from_env(env)
        return deps_for_store(ports.store, env, requeue=ports.queue)

    from logpipe_backend.adapters.aws import wiring as aws

    # purpose: under strict isolation the worker's per-tenant sessions may only write. The queue is the one
    # the event source mapping reads (LOGPIPE_QUEUE_URL): a re-queued remainder comes back to this function.
    return deps_for_store(aws.store_from_env(env, purpose="write"), env, requeue=aws.queue_from_env(env))
