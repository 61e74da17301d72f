"""Issue 16 on a real ``logpipe serve``: retention by default and per tenant, purge while serving, and a
backup taken under load that a new ``logpipe serve`` restores."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from local_stack import REPO, LocalServer, logpipe_command


def _cli(server: LocalServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"XDG_CONFIG_HOME": str(server.workdir / "config"), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*logpipe_command(), *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
        check=False,
    )


def _send(server: LocalServer, key: str, lines: list[str]) -> list[str]:
    r = httpx.post(
        f"{server.url}/ingest",
        content="\n".join(lines),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/plain"},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    ids: list[str] = r.json()["log_ids"]
    return ids


def _wait(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_retention_by_default_and_per_tenant(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(env={"LOGPIPE_LOG_RETENTION": "3s", "LOGPIPE_RETENTION_SWEEP": "1s"})
    keys = {t: server.create_tenant(t) for t in ("acme", "globex", "initech")}
    assert _cli(server, "tenants", "set-retention", "acme", "0").returncode == 0  # forever
    assert _cli(server, "tenants", "set-retention", "initech", "1h").returncode == 0
    for tenant, key in keys.items():
        _send(server, key, [f"{tenant} {i}" for i in range(20)])
    server.wait_drained()
    assert all(len(server.admin_query(tenant=t)) == 20 for t in keys)
    health = server.health()
    assert health["store_bytes"] > 0 and health["disk_free_bytes"] > 0 and health["disk_low"] is False
    # globex is on the stack's default (3 s): its records go within a few sweeps; the others stay.
    assert _wait(lambda: server.admin_query(tenant="globex") == [], timeout=15)
    assert len(server.admin_query(tenant="acme")) == 20 and len(server.admin_query(tenant="initech")) == 20
    listed = _cli(server, "tenants", "list", "--output", "json")
    retention = {row["tenant_id"]: row["retention"] for row in map(json.loads, listed.stdout.splitlines())}
    assert retention == {"acme": "forever", "globex": "default", "initech": "1h"}


def test_purge_while_serving(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory()
    acme, globex = server.create_tenant("acme"), server.create_tenant("globex")
    for key in (acme, globex):
        _send(server, key, [f"line {i}" for i in range(1200)])
    server.wait_drained()
    dry = _cli(server, "tenants", "purge", "acme", "--dry-run")
    assert dry.returncode == 0 and "would delete 1200 record(s)" in dry.stdout, dry.stderr
    done = _cli(server, "tenants", "purge", "acme", "--yes")
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip()
        == "acme: purged 1200 record(s), 0 queued message(s), 0 dead letter(s); keys revoked"
    )
    assert server.admin_query(tenant="acme") == []
    refused = httpx.post(f"{server.url}/ingest", content="x", headers={"Authorization": f"Bearer {acme}"})
    assert refused.status_code == 401
    assert len(server.admin_query(tenant="globex")) == 1200
    _send(server, globex, ["still accepted"])


class Sender(threading.Thread):
    """Sends batches without pause; remembers each batch's ids and when its 202 arrived."""

    def __init__(self, server: LocalServer, key: str) -> None:
        super().__init__(daemon=True)
        self.server, self.key = server, key
        self.acked: list[tuple[float, list[str]]] = []
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with httpx.Client(timeout=30) as http:
                n = 0
                while not self.stop.is_set():
                    body = "\n".join(f"load {n} {i}" for i in range(100))
                    r = http.post(
                        f"{self.server.url}/ingest",
                        content=body,
                        headers={"Authorization": f"Bearer {self.key}", "Content-Type": "text/plain"},
                    )
                    assert r.status_code == 202, r.text
                    self.acked.append((time.monotonic(), r.json()["log_ids"]))
                    n += 1
        except BaseException as exc:
            self.error = exc


def test_backup_under_load_is_restored_whole(
    server_factory: Callable[..., LocalServer], tmp_path: Path
) -> None:
    server = server_factory()
    key = server.create_tenant("acme")
    sender = Sender(server, key)
    sender.start()
    assert _wait(lambda: len(sender.acked) >= 20)
    began = time.monotonic()
    copy = tmp_path / "backup"
    done = _cli(server, "backup", str(copy))
    during = len(sender.acked)
    time.sleep(0.5)  # the sender goes on after the backup
    sender.stop.set()
    sender.join(30)
    assert sender.error is None, sender.error
    assert done.returncode == 0, done.stderr
    assert "backed up queue.db, logs.db, tenants.db" in done.stdout
    accepted_before = {i for at, ids in sender.acked if at < began for i in ids}
    assert len(accepted_before) >= 2000 and len(sender.acked) > during  # it was under load throughout
    server.stop()

    restored = server_factory(data_dir=copy)
    restored.wait_drained()
    stored = [r["log_id"] for r in restored.admin_query(tenant="acme")]
    assert len(stored) == len(set(stored))  # one copy of each, whatever was in both queue and store
    missing = accepted_before - set(stored)
    assert not missing, f"{len(missing)} record(s) accepted before the backup are not in it"
    _send(restored, key, ["the copy takes the same keys"])
