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

Every server runs in its own process group (so ``kill()`` takes the workers down too), with
``XDG_CONFIG_HOME`` pointed into the test's tmp dir (``serve`` writes the ``local`` profile there, never
into the real config), its stderr in ``<data dir>/../serve.log`` for post-mortems, and is stopped at teardown.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0


def logpipe_command() -> list[str]:
    """How to run the ``logpipe`` console script of the interpreter running the tests."""
    script = Path(sys.executable).parent / "logpipe"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from logpipe_cli.main import main; sys.exit(main())"]


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
    process: subprocess.Popen[bytes] | None = None
    _log: Any = field(default=None, repr=False)

    # -- life cycle -------------------------------------------------------------------------------------

    def start(self) -> LocalServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGPIPE_", "AWS_"))}
        env.update(
            {
                "XDG_CONFIG_HOME": str(self.workdir / "config"),
                "XDG_DATA_HOME": str(self.workdir / "xdg-data"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        cmd = [
            *logpipe_command(),
            "serve",
            "--port",
            str(self.port),  # 0: the server picks a free port and prints it: no race with other tests
            "--data-dir",
            str(self.data_dir),
            "--workers",
            str(self.workers),
            "--visibility-timeout",
            str(self.visibility_timeout),
        ]
        self._log = open(self.workdir / "serve.log", "ab")  # noqa: SIM115 - closed in stop()/kill()
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=self._log, env=env, cwd=REPO, start_new_session=True
        )
        line = self._first_line()
        # "logpipe serving on http://127.0.0.1:PORT (data: …, workers: N)"
        self.url = line.split(" on ", 1)[1].split(" ", 1)[0]
        self.wait_healthy()
        return self

    def _first_line(self) -> str:
        assert self.process is not None and self.process.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + START_TIMEOUT_S
        buf = b""
        while b"\n" not in buf:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"logpipe serve did not start; log:\n{self.log_text()}")
            if sel.select(timeout=0.2):
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    raise RuntimeError(f"logpipe serve closed stdout; log:\n{self.log_text()}")
                buf += chunk
        sel.close()
        return buf.split(b"\n", 1)[0].decode()

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = httpx.get(f"{self.url}/healthz", timeout=2)
                if r.status_code == 200:
                    body: dict[str, Any] = r.json()
                    return body
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"/healthz never answered; log:\n{self.log_text()}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Ask the stack to stop (SIGTERM by default); its exit code. Kills it if it does not stop."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        return self._finish()

    def kill(self) -> None:
        """kill -9 of the whole process group: the server and every worker, mid-whatever."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)
        self._finish()

    def _finish(self) -> int:
        assert self.process is not None
        rc = self.process.returncode
        # Orphaned workers notice their parent is gone; make sure none outlives the test.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.process = None
        return rc

    def restart(self) -> LocalServer:
        """Start again on the same data dir (a new port)."""
        if self.process is not None:
            self.stop()
        return self.start()

    def log_text(self) -> str:
        path = self.workdir / "serve.log"
        return path.read_text(errors="replace")[-5000:] if path.exists() else ""

    # -- helpers ---------------------------------------------------------------------------------------

    @property
    def admin_token(self) -> str:
        return (
            self.extra_env.get("LOGPIPE_ADMIN_TOKEN") or (self.data_dir / "admin_token").read_text().strip()
        )

    def create_tenant(self, tenant: str) -> str:
        """A new tenant key, made as ``logpipe tenants create`` does (directly, to stay fast)."""
        from logpipe_backend.adapters.local.keystore import SqliteKeyStore

        keys = SqliteKeyStore(self.data_dir / "tenants.db")
        try:
            return keys.create_tenant(tenant)
        finally:
            keys.close()

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=5).json()
        return body

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
