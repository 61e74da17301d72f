"""``logpipe serve``: the HTTP server and N worker processes on one data dir, supervised, stopped cleanly.

Life of the stack:

1. open the data dir (queue.db, logs.db, tenants.db) and bind the listening socket (port 0: any free one);
2. start N worker processes (``python -m logpipe_backend.runtime.worker_loop``) and serve HTTP;
3. supervise: a worker that dies is started again (with a short backoff); a thread sweeps expired records
   every ``retention_sweep_s`` (adapters/sqlite/retention.py); ingest answers 507 while the disk is nearly
   full (runtime/diskspace.py);
4. on SIGINT/SIGTERM: stop accepting, let in-flight requests finish (their 202s go out: each was answered
   only after the queue's COMMIT), tell the workers to finish their batch, wait, exit 0. Messages still
   queued stay in queue.db and are processed on the next start — nothing answered 202 is lost, even on
   kill -9, because the queue is durable and the store's upsert makes redelivery harmless.
   A second signal stops at once (still without losing acknowledged records).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from logpipe_backend.core.retention import DEFAULT_RETENTION_S
from logpipe_backend.handlers import admin, doors, tenant_read
from logpipe_backend.handlers.reads import READ_ENDPOINTS
from logpipe_backend.runtime import malloc_tuning
from logpipe_backend.runtime.diskspace import DiskGuard, MinFree
from logpipe_backend.runtime.gc_tuning import tune_gc
from logpipe_backend.runtime.routes import one_at_a_time
from logpipe_backend.runtime.server import LocalHttpServer, Routes
from logpipe_backend.wiring import admin as admin_wiring
from logpipe_backend.wiring import ingest as ingest_wiring
from logpipe_backend.wiring import local as wiring
from logpipe_backend.wiring import tenant_read as tenant_read_wiring
from logpipe_backend.wiring.local import (
    DEFAULT_MAX_RECEIVES,
    DEFAULT_SWEEP_S,
    DEFAULT_VISIBILITY_TIMEOUT_S,
    DataDir,
    RetentionSweep,
    enable_incremental_vacuum,
    run_sweeps,
    store_bytes,
)

log = logging.getLogger("logpipe.serve")

SUPERVISE_INTERVAL_S = 0.5
RESTART_BACKOFF_MAX_S = 10.0
WORKER_STOP_GRACE_S = 5.0  # beyond the visibility timeout, before a worker is killed


@dataclass
class StackOptions:
    data_dir: DataDir
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    visibility_timeout_s: float = DEFAULT_VISIBILITY_TIMEOUT_S
    max_receives: int = DEFAULT_MAX_RECEIVES
    admin_token: str | None = None
    log_level: str = "WARNING"
    worker_env: dict[str, str] | None = None  # None: inherit
    retention_s: int = DEFAULT_RETENTION_S  # 0: keep forever; tenants may have their own
    retention_sweep_s: float = DEFAULT_SWEEP_S
    min_free: MinFree = field(default_factory=MinFree)


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]
    restarts: int = 0
    next_start: float = 0.0


@dataclass
class LocalStack:
    """The running stack; :meth:`run` blocks until a signal (or :meth:`request_stop`) and cleans up."""

    options: StackOptions
    on_ready: Callable[[str], None] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _force: threading.Event = field(default_factory=threading.Event)
    _workers: list[_Worker] = field(default_factory=list)

    def request_stop(self) -> None:
        if self._stop.is_set():
            self._force.set()
        self._stop.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.request_stop()

    def run(self) -> int:
        opts = self.options
        malloc_tuning.keep_freed_buffers()  # each request's ~1 MB buffers: reused, not fresh pages
        enable_incremental_vacuum(opts.data_dir.logs_db)  # once, before anything else opens it
        ports = wiring.local_ports(
            opts.data_dir, admin_token=opts.admin_token, max_receives=opts.max_receives
        )
        # One process serves every request, so the in-memory per-tenant rate limiter is exact here.
        ingest_deps = ingest_wiring.local_deps(ports)
        admin_deps = admin_wiring.local_deps(ports)
        tenant_read_deps = tenant_read_wiring.local_deps(ports)

        disk = DiskGuard(opts.data_dir.root, opts.min_free)

        def health() -> dict[str, Any]:
            queued, dead = ports.queue.depths()
            alive = sum(1 for w in self._workers if w.process.poll() is None)
            return {
                "status": "ok",
                "queue_depth": queued,
                "dlq_depth": dead,
                "workers": alive,
                "store_bytes": store_bytes(opts.data_dir.logs_db),
                "disk_free_bytes": disk.free_bytes(),
                "disk_low": disk.low(),
            }

        routes = Routes(
            ingest=disk.guard(one_at_a_time(lambda event: doors.handle(event, ingest_deps))),
            admin=lambda event: admin.handle(event, admin_deps),
            health=health,
            max_body_bytes=ingest_deps.limits.body_bytes,
            tenant_read=lambda event: tenant_read.handle(event, tenant_read_deps),
            reads=frozenset(READ_ENDPOINTS),
        )
        tune_gc()  # as the workers do: each request's records are not walked again and again
        try:
            httpd = LocalHttpServer((opts.host, opts.port), routes)
        except BaseException:
            ports.close()
            raise
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            for i in range(opts.workers):
                self._workers.append(_Worker(i, self._spawn_worker()))
            server_thread = threading.Thread(
                target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="logpipe-http", daemon=True
            )
            server_thread.start()
            sweep = RetentionSweep(ports.store, ports.keys, opts.retention_s, stop=self._stop)
            sweeper = threading.Thread(
                target=run_sweeps,
                args=(sweep, opts.retention_sweep_s, self._stop),
                name="logpipe-retention",
                daemon=True,
            )
            sweeper.start()
            if self.on_ready is not None:
                self.on_ready(httpd.url)
            while not self._stop.wait(SUPERVISE_INTERVAL_S):
                self._supervise()
            log.info("stopping: no new requests; finishing the ones in flight")
            httpd.stop()
            server_thread.join(timeout=5)
            self._stop_workers()
            sweeper.join(timeout=5)  # it ends after its current batch; the store must not close under it
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            for w in self._workers:  # only left running if something above raised
                if w.process.poll() is None:
                    w.process.kill()
                    w.process.wait()
            ports.close()
        return 0

    def _spawn_worker(self) -> subprocess.Popen[bytes]:
        opts = self.options
        cmd = [
            sys.executable,
            "-m",
            "logpipe_backend.runtime.worker_loop",
            "--data-dir",
            str(opts.data_dir.root),
            "--visibility-timeout",
            str(opts.visibility_timeout_s),
            "--max-receives",
            str(opts.max_receives),
            "--parent-pid",
            str(os.getpid()),
            "--log-level",
            opts.log_level,
        ]
        return subprocess.Popen(cmd, env=opts.worker_env, stdin=subprocess.DEVNULL)

    def _supervise(self) -> None:
        now = time.monotonic()
        for w in self._workers:
            rc = w.process.poll()
            if rc is None:
                continue
            if w.next_start == 0.0:
                delay = min(RESTART_BACKOFF_MAX_S, 0.5 * (2**w.restarts))
                log.warning("worker %d exited with %s; restarting in %.1fs", w.index, rc, delay)
                w.next_start = now + delay
            elif now >= w.next_start and not self._stop.is_set():
                w.process = self._spawn_worker()
                w.restarts += 1
                w.next_start = 0.0

    def _stop_workers(self) -> None:
        for w in self._workers:
            if w.process.poll() is None:
                w.process.terminate()  # SIGTERM: finish the current batch, then exit
        deadline = time.monotonic() + self.options.visibility_timeout_s + WORKER_STOP_GRACE_S
        for w in self._workers:
            while w.process.poll() is None:
                if self._force.is_set() or time.monotonic() > deadline:
                    # Unfinished messages are not lost: their lease expires and they are delivered again.
                    w.process.kill()
                    w.process.wait()
                    break
                time.sleep(0.05)
