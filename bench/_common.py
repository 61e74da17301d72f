"""What the benchmarks share: the records they send, a ``logpipe serve`` of their own, small statistics.

Records are generated, not sampled from real logs, but shaped like them: about 70 % JSON objects from a web
service (timestamp, level, message, request fields) and 30 % plain-text lines with a leading timestamp and
level, ~250 bytes each, about 1 % holding something the worker must redact (an e-mail address, a
``password=``). The generator is seeded, so two runs (and the pipeline and the floor of one run) see
exactly the same records.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
# The launcher of a real `logpipe serve` is the tests' (tests/harness/): one, kept out of the product.
sys.path.insert(0, str(REPO / "tests"))

from harness.launcher import ServeProcess, isolated_env  # noqa: E402

TENANT = "bench"
START_TIMEOUT_S = 30.0
SEED = 7

_SERVICES = ("api", "billing", "auth", "search", "checkout", "mailer")
_LEVELS_JSON = ("info",) * 14 + ("debug",) * 3 + ("warn",) * 2 + ("error",)
_LEVELS_TEXT = ("INFO",) * 14 + ("DEBUG",) * 3 + ("WARN",) * 2 + ("ERROR",)
_PATHS = ("/api/v1/users", "/api/v1/orders", "/api/v1/search", "/healthz", "/api/v2/carts", "/login")
_VERBS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
_WORDS = (
    "cache miss for key", "upstream responded slowly", "retrying request to", "processed job",
    "connection pool at", "scheduled task finished", "user session refreshed", "payment authorized for order",
    "feature flag evaluated", "rendered template",
)  # fmt: skip
TARGET_BYTES = 250


def _pad(text: str, rng: random.Random, target: int) -> str:
    missing = target - len(text)
    if missing <= 0:
        return text
    filler = " ".join(rng.choice(_WORDS) for _ in range(missing // 18 + 1))
    return text + " " + filler[: max(0, missing - 1)]


def make_line(i: int, rng: random.Random) -> str:
    """Record ``i`` as one input line (JSON object or text), about ``TARGET_BYTES`` long."""
    ms = 1_764_128_696_000 + i * 7
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
    secret = rng.random() < 0.01
    if rng.random() < 0.7:
        verb, path = rng.choice(_VERBS), rng.choice(_PATHS)
        record: dict[str, Any] = {
            "ts": ts,
            "level": rng.choice(_LEVELS_JSON),
            "msg": f"{verb} {path}/{rng.randrange(10**6)} {rng.choice((200, 200, 201, 204, 404, 500))}",
            "service": rng.choice(_SERVICES),
            "host": f"web-{rng.randrange(40)}",
            "request_id": f"{rng.getrandbits(64):016x}",
            "user_id": rng.randrange(10**7),
            "duration_ms": round(rng.random() * 300, 2),
            "bytes": rng.randrange(10**5),
        }
        if secret:
            record["email"] = f"user{rng.randrange(10**4)}@example.com"
        base = json.dumps(record, separators=(",", ":"))
        record["note"] = ""
        room = TARGET_BYTES - len(base) - len(',"note":""')
        record["note"] = _pad("", rng, room).strip() if room > 0 else ""
        return json.dumps(record, separators=(",", ":"))
    level = rng.choice(_LEVELS_TEXT)
    text = (
        f"{ts} {level} [{rng.choice(_SERVICES)}-{rng.randrange(8)}] {rng.choice(_WORDS)} "
        f"{rng.randrange(10**6)} in {rng.randrange(500)}ms"
    )
    if secret:
        text += f" password={rng.getrandbits(48):012x}"
    return _pad(text, rng, TARGET_BYTES)


def iter_lines(n: int, seed: int = SEED) -> Iterator[str]:
    rng = random.Random(seed)
    for i in range(n):
        yield make_line(i, rng)


def write_records(path: Path, n: int, seed: int = SEED) -> int:
    """Write ``n`` records, one a line; the file's size in bytes."""
    with path.open("w", encoding="utf-8") as f:
        for line in iter_lines(n, seed):
            f.write(line)
            f.write("\n")
    return path.stat().st_size


def read_lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as f:
        yield from f


# --- statistics ------------------------------------------------------------------------------------------


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation: a p99 of 200 samples is the 198th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": sys.platform,
        "load_avg_1m_at_start": round(load[0], 2),
    }


# --- a logpipe serve of the benchmark's own -----------------------------------------------------------


@dataclass
class Stack:
    """``logpipe serve`` on a free port and a temporary data dir; a context manager."""

    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    url: str = ""
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="logpipe-bench-")))
    admin_token: str = "lpadm_bench_" + os.urandom(16).hex()
    _serve: ServeProcess | None = field(default=None, repr=False)
    _http: http.client.HTTPConnection | None = field(default=None, repr=False)
    _http_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        return self._serve.process if self._serve is not None else None

    def __enter__(self) -> Stack:
        self._serve = ServeProcess(
            self.data_dir,
            workers=self.workers,
            env=isolated_env(self.workdir, {"LOGPIPE_ADMIN_TOKEN": self.admin_token, **self.env}),
            cwd=REPO,
            log_path=self.workdir / "serve.log",
            start_timeout=START_TIMEOUT_S,
        )
        try:
            self.url = self._serve.start().url
        except BaseException:
            self.__exit__()
            raise
        return self

    def log_tail(self) -> str:
        return self._serve.log_tail(4000) if self._serve is not None else ""

    def create_tenant(self, tenant: str = TENANT) -> str:
        assert self._serve is not None, "not started"
        return self._serve.create_tenant(tenant)

    def health(self) -> dict[str, Any]:
        """The /healthz body, over one kept-alive connection (the watcher and the waiter share it). The
        benchmarks poll it every 20 ms while they wait, and that CPU is counted as the client's: a client
        made per call (``httpx.get``) builds a TLS context every time, and its cost would be charged to the
        SDK under test. Keep the one ``http.client`` connection (docs/performance.md, How each figure is
        obtained)."""
        assert self._serve is not None, "not started"
        with self._http_lock:
            try:
                return self._get_health()
            except (http.client.HTTPException, OSError):  # the kept connection was closed: a new one
                self._close_http()
                return self._get_health()

    def _get_health(self) -> dict[str, Any]:
        if self._http is None:
            url = urlsplit(self.url)
            self._http = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        self._http.request("GET", "/healthz")
        body: dict[str, Any] = json.loads(self._http.getresponse().read())
        return body

    def _close_http(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def stored(self, tenant: str = TENANT) -> int:
        """Records in the store for ``tenant`` (a read of logs.db, as the admin API reads it)."""
        import sqlite3

        conn = sqlite3.connect(f"file:{self.data_dir / 'logs.db'}?mode=ro", uri=True, timeout=30)
        try:
            row = conn.execute("SELECT count(*) FROM records WHERE tenant_id = ?", (tenant,)).fetchone()
            return int(row[0])
        finally:
            conn.close()

    def wait_all_stored(self, expected: int, timeout_s: float, tenant: str = TENANT) -> int:
        """Until the queue is empty (nothing waiting or leased) and the store holds ``expected`` records."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.health()["queue_depth"] == 0:
                count = self.stored(tenant)
                if count >= expected:
                    return count
            if time.monotonic() > deadline:
                raise TimeoutError(f"not all stored in {timeout_s}s: {self.health()}, {self.stored(tenant)}")
            time.sleep(0.02)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system) used so far by the server and by its workers (Linux /proc only)."""
        out = {"server": 0.0, "workers": 0.0}
        if self.process is None or not Path("/proc/self/stat").exists():
            return out
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            # fields[2] is the process group (the stack runs in its own session); [11], [12] utime, stime.
            if int(fields[2]) != self.process.pid:
                continue
            seconds = (int(fields[11]) + int(fields[12])) / tick
            out["server" if int(entry.name) == self.process.pid else "workers"] += seconds
        return out

    def __exit__(self, *exc: object) -> None:
        with self._http_lock:
            self._close_http()
        if self._serve is not None:
            # SIGTERM to the server and its workers at once; one that hangs is killed: no worker may
            # outlive the benchmark.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._serve.stop(signal.SIGTERM, timeout=40, group=True)
        if not os.environ.get("LOGPIPE_BENCH_KEEP"):
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)
