"""The worker function's dependencies: the store, the queue it re-queues unfinished work to, the redactor
and the simulated-work setting."""

from __future__ import annotations

from dataclasses import replace

from logpipe_backend import settings
from logpipe_backend.core.redact import Redactor
from logpipe_backend.ports import Queue, Store, WorkerDeps
from logpipe_backend.settings import Env


def deps_for_store(
    store: Store,
    environ: Env | None = None,
    *,
    requeue: Queue | None = None,
    time_margin_ms: int | None = None,
) -> WorkerDeps:
    """The worker's dependencies around a given store and queue (the local worker loop opens its own)."""
    env = settings.env_or_os(environ)
    built = WorkerDeps(
        store=store,
        redactor=Redactor(settings.redact_patterns(env)),
        work_per_char_s=settings.work_per_char_s(env),
        requeue=requeue,
    )
    return built if time_margin_ms is None else replace(built, time_margin_ms=time_margin_ms)


def deps(environ: Env | None = None) -> WorkerDeps:
    env = settings.env_or_os(environ)
    if not settings.on_aws(env):
        from logpipe_backend.wiring import local

        ports = local.ports_from_env(env)
        return deps_for_store(ports.store, env, requeue=ports.queue)

    from logpipe_backend.wiring import aws

    # purpose: under strict isolation the worker's per-tenant sessions may only write. The queue is the one
    # the event source mapping reads (LOGPIPE_QUEUE_URL): a re-queued remainder comes back to this function.
    return deps_for_store(aws.store_from_env(env, purpose="write"), env, requeue=aws.queue_from_env(env))
