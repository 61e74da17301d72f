"""Run ``logpipe serve`` as a child process: start it, learn its URL, wait until it answers, stop it.

The one implementation behind everything that drives a real local stack from outside: the test fixtures
(``tests/local_stack.py``), the benchmarks (``bench/_common.py``) and the demo (``examples/demo.py``)::

    serve = ServeProcess(data_dir, workers=2, env=isolated_env(workdir), log_path=workdir / "serve.log")
    serve.start()                  # returns once /healthz answers; ServeError (with the log tail) if not
    httpx.post(f"{serve.url}/ingest", ...)
    serve.stop()                   # SIGTERM, wait; killed (and TimeoutExpired raised) if it hangs

The stack runs in a process group of its own, so a Ctrl-C in the caller's terminal is not delivered to it
twice, and :meth:`ServeProcess.kill` (and the clean-up after any stop) reaches every worker too.

Not part of the product package (tests and benches only), so httpx is fine here.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore

START_TIMEOUT_S = 20.0  # for the first stdout line, and again for /healthz
STOP_TIMEOUT_S = 20.0
HEALTH_POLL_S = 0.05
LOG_TAIL_CHARS = 5000
# What `logpipe serve` prints once it listens: "logpipe serving on http://127.0.0.1:PORT (data: …, …)".
BANNER_PREFIX = "logpipe serving on "
# Settings that would point the child at another stack (or at AWS) if they leaked in from the caller.
STRIPPED_ENV_PREFIXES = ("LOGPIPE_", "AWS_")


class ServeError(RuntimeError):
    """``logpipe serve`` did not start, or never answered /healthz (the message ends with its log tail)."""


def logpipe_command() -> list[str]:
    """How to run the ``logpipe`` console script of the running interpreter (its virtualenv's)."""
    script = Path(sys.executable).parent / "logpipe"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from logpipe_cli.main import main; sys.exit(main())"]


def isolated_env(workdir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment for a stack of its own under ``workdir``, ``extra`` on top.

    No ``LOGPIPE_*``/``AWS_*`` setting leaks in, and the XDG dirs point into ``workdir``: ``serve`` writes
    its ``local`` profile into the config dir, never into the user's real one. Unbuffered, so the banner
    and the log lines arrive as they are written.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(STRIPPED_ENV_PREFIXES)}
    env.update(
        {
            "XDG_CONFIG_HOME": str(workdir / "config"),
            "XDG_DATA_HOME": str(workdir / "xdg-data"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class ServeProcess:
    """One ``logpipe serve`` (server + workers) on ``data_dir``; see the module docstring."""

    data_dir: Path
    port: int = 0  # 0: the server picks a free port and prints it (no race with anyone else)
    workers: int = 2
    extra_args: Sequence[str] = ()  # more `serve` options, e.g. ("--visibility-timeout", "2")
    env: Mapping[str, str] | None = None  # the child's whole environment; None: this process's
    cwd: Path | None = None
    log_path: Path | None = None  # the child's stderr is appended here; None: it shares ours
    start_timeout: float = START_TIMEOUT_S
    banner: str = field(default="", init=False)  # the first line it printed
    url: str = field(default="", init=False)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ServeProcess:
        """Start it and wait until /healthz answers; on any failure it is killed and ServeError raised."""
        if self.process is not None:
            raise RuntimeError("logpipe serve is already running")
        cmd = [
            *logpipe_command(), "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
            "--workers", str(self.workers), *self.extra_args,
        ]  # fmt: skip
        log = self.log_path.open("ab") if self.log_path is not None else None
        try:
            self.process = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=log,
                env=dict(self.env) if self.env is not None else None,
                cwd=self.cwd,
                start_new_session=True,
            )
        finally:
            if log is not None:
                log.close()  # the child has its own descriptor
        try:
            self.banner = self._first_line()
            if not self.banner.startswith(BANNER_PREFIX):
                raise self._error(f"unexpected first line from logpipe serve: {self.banner!r}")
            self.url = self.banner.removeprefix(BANNER_PREFIX).split(" ", 1)[0]
            self.wait_healthy()
        except BaseException:
            self.kill()
            raise
        return self

    def _first_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + self.start_timeout
        buf = b""
        with selectors.DefaultSelector() as sel:
            sel.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in buf:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise self._error("logpipe serve did not start")
                if sel.select(timeout=0.2):
                    chunk = os.read(self.process.stdout.fileno(), 4096)
                    if not chunk:
                        raise self._error("logpipe serve closed stdout")
                    buf += chunk
        return buf.split(b"\n", 1)[0].decode()

    def wait_healthy(self, timeout: float | None = None) -> dict[str, Any]:
        """The /healthz body, once it answers 200 (within ``timeout``, default ``start_timeout``)."""
        deadline = time.monotonic() + (self.start_timeout if timeout is None else timeout)
        while True:
            try:
                r = httpx.get(f"{self.url}/healthz", timeout=2)
                if r.status_code == 200:
                    body: dict[str, Any] = r.json()
                    return body
            except httpx.HTTPError:
                pass  # not listening yet, or busy: ask again until the deadline
            if time.monotonic() > deadline:
                raise self._error("/healthz never answered")
            time.sleep(HEALTH_POLL_S)

    def health(self, timeout: float = 5.0) -> dict[str, Any]:
        """The /healthz body now: status, queue_depth, dlq_depth, workers."""
        body: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=timeout).json()
        return body

    def create_tenant(self, tenant: str) -> str:
        """A new tenant key, made as ``logpipe tenants create`` does (directly: no CLI to start)."""
        keys = SqliteKeyStore(self.data_dir / "tenants.db")
        try:
            return keys.create_tenant(tenant)
        finally:
            keys.close()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S, *, group: bool = False) -> int:
        """Send ``sig`` to the server (``group``: to every process of the stack) and wait; its exit code.

        A stack that does not stop within ``timeout`` is killed, and ``subprocess.TimeoutExpired`` raised.
        """
        if self.process is None:
            return 0
        if self.process.poll() is None:
            if group:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return self._finish()

    def kill(self) -> int:
        """kill -9 of the whole process group: the server and every worker, mid-whatever."""
        if self.process is None:
            return 0
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)
        return self._finish()

    def _finish(self) -> int:
        assert self.process is not None
        rc = self.process.returncode
        # Orphaned workers notice their parent is gone; make sure none outlives it even for a moment.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None
        return rc

    def log_tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        """The end of the log file ("" without one): what a failure report should show."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    def _error(self, what: str) -> ServeError:
        tail = self.log_tail()
        return ServeError(f"{what}; log:\n{tail}" if tail else what)
