"""What the fault tests share: the canary (``bench/canary.py``) run in the background against a real
``logpipe serve`` (``tests/local_stack.py``), worker pids, and peeks into queue.db.

Each fault test runs the canary while injecting its fault, lets the stack recover, and asserts the canary's
verdict: every record that got a 202 is stored (``missing == 0``) exactly once (``duplicated == 0``).
Rates and durations are small so that the whole set stays well under two minutes on two shared cores.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_stack import REPO, LocalServer

sys.path.insert(0, str(REPO / "bench"))

from canary import CanaryReport, run_canary

__all__ = [
    "CanaryReport",
    "CanaryThread",
    "assert_clean",
    "busy_worker",
    "children",
    "leased_messages",
    "log_lines",
    "port_of",
    "run_canary",
    "stall_outside_a_write",
    "wait_for",
]

# A short canary: 40 records/s in requests of 4 (10 requests/s), 4 in flight at most.
RATE = 40.0
BATCH = 4
POLL_INTERVAL_S = 0.25
DRAIN_TIMEOUT_S = 30.0


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def children(pid: int) -> set[int]:
    """The worker processes of a ``logpipe serve`` (its child processes)."""
    out = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    ).stdout
    return {int(x) for x in out.split()}


def busy_worker(serve_pid: int, timeout: float = 10.0) -> int:
    """A worker of ``serve_pid`` caught mid-batch: its main thread asleep in the simulated work.

    Between batches a worker waits on an Event (a futex); inside one it sleeps in ``time.sleep``
    (``LOGPIPE_SIMULATED_WORK_PER_CHAR``), which the kernel shows as ``*nanosleep`` in
    ``/proc/<pid>/wchan``. Where wchan is not readable, any worker is returned.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in sorted(children(serve_pid)):
            try:
                with open(f"/proc/{pid}/wchan") as fh:
                    wchan = fh.read().strip()
            except OSError:
                continue
            if wchan in ("", "0"):  # hidden by the kernel: cannot tell, take this one
                return pid
            if "nanosleep" in wchan:
                return pid
        time.sleep(0.01)
    raise AssertionError("no worker was found mid-batch")


def _write_lock_free(db: Path) -> bool:
    """Whether a writer could take ``db``'s write lock now (and gives it back at once)."""
    conn = sqlite3.connect(f"file:{db}?mode=rw", uri=True, timeout=0.2, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:  # "database is locked": someone holds it
        return False
    finally:
        conn.close()


def stall_outside_a_write(pid: int, data_dir: Path, attempts: int = 50) -> None:
    """SIGSTOP ``pid`` at a moment it holds neither database's write lock.

    A worker's lease heartbeat (another thread) writes queue.db a few times a second; stopped inside that
    short transaction, the worker would hold SQLite's write lock for as long as it stays stopped, and every
    other process — the other worker's receive, the server's send — would wait on it. That is a stalled
    database, not the stalled *worker* these tests mean (whose lease expires while the others go on), so
    such a moment is let go (SIGCONT) and another is tried.
    """
    for _ in range(attempts):
        os.kill(pid, signal.SIGSTOP)
        if all(_write_lock_free(data_dir / name) for name in ("queue.db", "logs.db")):
            return
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.02)
    raise AssertionError(f"worker {pid} was inside a write at every one of {attempts} tries")


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def leased_messages(data_dir: Path) -> list[tuple[str, int]]:
    """(message_id, receive_count) of messages leased right now (read-only peek at queue.db)."""
    conn = sqlite3.connect(f"file:{data_dir / 'queue.db'}?mode=ro", uri=True, timeout=10)
    try:
        now_ms = int(time.time() * 1000)
        rows = conn.execute(
            "SELECT message_id, receive_count FROM messages"
            " WHERE receipt_handle IS NOT NULL AND visible_at_ms > ?",
            (now_ms,),
        ).fetchall()
    finally:
        conn.close()
    return [(str(m), int(c)) for m, c in rows]


class CanaryThread:
    """The canary against ``server`` in a background thread; :meth:`result` waits for its report."""

    def __init__(self, server: LocalServer, key: str, *, duration_s: float, **kwargs: Any) -> None:
        options: dict[str, Any] = {
            "rate": RATE,
            "batch": BATCH,
            "poll_interval": POLL_INTERVAL_S,
            "drain_timeout_s": DRAIN_TIMEOUT_S,
        }
        options.update(kwargs)
        self._args = (server.url, key, server.admin_token)
        self._options = options
        self._duration_s = duration_s
        self._report: CanaryReport | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="canary", daemon=True)

    def start(self) -> CanaryThread:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            url, key, token = self._args
            self._report = run_canary(
                url, key, token, tenant="acme", duration_s=self._duration_s, **self._options
            )
        except BaseException as exc:  # handed to the test thread by result()
            self._error = exc

    def result(self, timeout: float = 90.0) -> CanaryReport:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the canary did not finish"
        if self._error is not None:
            raise self._error
        assert self._report is not None
        return self._report


def assert_clean(report: CanaryReport) -> None:
    """The canary's verdict: every record answered 202 is stored, exactly once."""
    summary = report.summary()
    print(summary)  # shown with -s (and on failure): the figures of each fault's run
    assert report.accepted > 0, summary
    assert report.missing == 0, f"missing {report.missing_seqs}: {summary}"
    assert report.duplicated == 0, f"duplicated {report.duplicated_seqs}: {summary}"
    assert report.unexpected == 0, summary
    assert report.id_mismatch == 0, summary
    assert report.ok, summary


def log_lines(server: LocalServer, needle: str) -> list[str]:
    path = server.workdir / "serve.log"
    with contextlib.suppress(FileNotFoundError):
        return [line for line in path.read_text(errors="replace").splitlines() if needle in line]
    return []
