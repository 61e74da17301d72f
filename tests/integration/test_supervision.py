"""`logpipe serve` supervises its workers, and workers never outlive it; the admin token setting."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable

import httpx
from local_stack import LocalServer


def children(pid: int) -> set[int]:
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return {int(x) for x in out.stdout.split()}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) counts as gone.
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().split(")")[-1].split()[0] != "Z"


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_crashed_worker_is_restarted(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=2)
    assert server.process is not None
    pid = server.process.pid
    assert wait_for(lambda: len(children(pid)) == 2)
    victim = min(children(pid))
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: victim not in children(pid) and len(children(pid)) == 2)
    assert server.health()["workers"] == 2
    key = server.create_tenant("acme")
    r = httpx.post(
        f"{server.url}/ingest",
        content="after restart",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/plain"},
    )
    assert r.status_code == 202
    server.wait_drained()


def test_workers_exit_when_the_server_is_killed_alone(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=2)
    assert server.process is not None
    pid = server.process.pid
    assert wait_for(lambda: len(children(pid)) == 2)
    workers = children(pid)
    os.kill(pid, signal.SIGKILL)  # only the server, not its process group
    server.process.wait(timeout=10)
    assert wait_for(lambda: not any(alive(w) for w in workers), timeout=10), "orphaned workers kept running"


def test_admin_token_from_environment(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(workers=1, env={"LOGPIPE_ADMIN_TOKEN": "lpadm_from_the_environment"})
    assert not (server.data_dir / "admin_token").exists()
    r = httpx.get(
        f"{server.url}/admin/logs",
        params={"tenant": "acme"},
        headers={"Authorization": "Bearer lpadm_from_the_environment"},
    )
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
    config = server.workdir / "config" / "logpipe" / "config.toml"
    assert not config.exists()  # a token from the environment is not copied into the profile


def test_port_in_use_is_one_line_exit_1(running_server: LocalServer) -> None:
    from local_stack import logpipe_command

    port = running_server.url.rsplit(":", 1)[1]
    result = subprocess.run(
        [
            *logpipe_command(),
            "serve",
            "--port",
            port,
            "--data-dir",
            str(running_server.workdir / "other"),
            "--workers",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "XDG_CONFIG_HOME": str(running_server.workdir / "cfg2")},
    )
    assert result.returncode == 1 and "cannot listen" in result.stderr and "Traceback" not in result.stderr
