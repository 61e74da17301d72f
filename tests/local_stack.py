"""A real ``logpipe serve`` for tests on a free loopback port, with its own data dir.

Use ``running_server`` for a stack with defaults (2 workers, 2 s visibility timeout), or
``server_factory`` to start stacks with other settings (several per test, restarts on the same data dir)::

    def test_something(running_server: LocalServer) -> None:
        key = running_server.create_tenant("acme")
        r = httpx.post(f"{running_server.url}/ingest", headers={"Authorization": f"Bearer {key}"}, ...)
        running_server.wait_drained()                      # queue_depth 0: everything accepted is stored
        items = running_server.admin_query(tenant="acme")  # GET /admin/logs with the admin token

    def test_other(server_factory: Callable[..., LocalServer], tmp_path: Path) -> None:
        server = server_factory(workers=0, env={"LOGPIPE_MAX_QUEUE_DEPTH": "1"})

Every server is a ``ServeProcess`` (``tests/harness/launcher.py``, shared with the
benchmarks and the demo): it runs in its own process group (so ``kill()`` takes the workers down too), with
``XDG_CONFIG_HOME`` pointed into the test's tmp dir (``serve`` writes the ``local`` profile there, never
into the real config), its stderr in ``<workdir>/serve.log`` for post-mortems, and is stopped at teardown.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from harness.launcher import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    ServeProcess,
    isolated_env,
    logpipe_command,
)

__all__ = ["REPO", "LocalServer", "logpipe_command"]

REPO = Path(__file__).resolve().parents[1]


@dataclass
class LocalServer:
    """A running ``logpipe serve`` (server + workers); see the module docstring."""

    data_dir: Path
    workdir: Path
    workers: int
    visibility_timeout: float
    extra_env: dict[str, str]
    port: int = 0  # 0: the server picks a free one; set it to restart on the same port
    url: str = ""
    _serve: ServeProcess | None = field(default=None, repr=False)

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The ``logpipe serve`` process (leader of the stack's process group) while it runs."""
        return self._serve.process if self._serve is not None else None

    # -- life cycle -------------------------------------------------------------------------------------

    def start(self) -> LocalServer:
        self._serve = ServeProcess(
            self.data_dir,
            port=self.port,
            workers=self.workers,
            extra_args=("--visibility-timeout", str(self.visibility_timeout)),
            env=isolated_env(self.workdir, self.extra_env),
            cwd=REPO,
            log_path=self.workdir / "serve.log",
        )
        self.url = self._serve.start().url
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        assert self._serve is not None, "not started"
        return self._serve.wait_healthy(timeout)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Ask the stack to stop (SIGTERM by default); its exit code. Kills it if it does not stop."""
        return self._serve.stop(sig, timeout) if self._serve is not None else 0

    def kill(self) -> None:
        """kill -9 of the whole process group: the server and every worker, mid-whatever."""
        if self._serve is not None:
            self._serve.kill()

    def restart(self) -> LocalServer:
        """Start again on the same data dir (on a new port, unless ``port`` is set)."""
        if self.process is not None:
            self.stop()
        return self.start()

    def log_text(self) -> str:
        return self._serve.log_tail() if self._serve is not None else ""

    # -- helpers ---------------------------------------------------------------------------------------

    @property
    def admin_token(self) -> str:
        return (
            self.extra_env.get("LOGPIPE_ADMIN_TOKEN") or (self.data_dir / "admin_token").read_text().strip()
        )

    def create_tenant(self, tenant: str) -> str:
        """A new tenant key, made as ``logpipe tenants create`` does (directly, to stay fast)."""
        assert self._serve is not None, "not started"
        return self._serve.create_tenant(tenant)

    def health(self) -> dict[str, Any]:
        assert self._serve is not None, "not started"
        return self._serve.health(timeout=5)

    def wait_drained(self, timeout: float = 20.0) -> None:
        """Until ``queue_depth`` is 0, i.e. every accepted record is stored."""
        deadline = time.monotonic() + timeout
        while self.health()["queue_depth"] != 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"queue not drained in {timeout}s: {self.health()}")
            time.sleep(0.05)

    def admin_query(self, **params: Any) -> list[dict[str, Any]]:
        """Every record the admin API returns for these parameters (following cursors)."""
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"limit": 1000, **params}
        for _ in range(1000):
            r = httpx.get(
                f"{self.url}/admin/logs",
                params=query,
                headers={"Authorization": f"Bearer {self.admin_token}"},
                timeout=10,
            )
            assert r.status_code == 200, r.text
            body = r.json()
            items.extend(body["items"])
            if not body["next_cursor"]:
                return items
            query["cursor"] = body["next_cursor"]
        raise AssertionError("too many pages")
