"""A real syslog-ng (Debian's ``syslog-ng-core`` + ``syslog-ng-mod-http``; ``.ci/run`` installs them) sending
to a real ``logpipe serve`` with the ``http()`` destination of docs/shippers.md: url, the ``Authorization``
header and no Content-Type (syslog-ng then sends libcurl's ``application/x-www-form-urlencoded``, which
/ingest sniffs), and an RFC 5424 body template, so the records read back through /admin/logs carry the
level, time and attributes of the syslog parsing (issue 14).

syslog-ng runs in the foreground (``-F``, its own messages on stderr with ``-e``, read while it runs) with
its config, pid, persist and control files in the test's tmp dir, a TCP source on 127.0.0.1, and is
stopped with SIGTERM. A machine without syslog-ng fails this test: it is part of what CI proves.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

SYSLOG_NG = "syslog-ng"
# docs/shippers.md "## syslog-ng" shows this destination; the test fills in the url and key.
DESTINATION = """
destination d_logpipe {
  http(
    url("%(url)s/ingest")
    method("POST")
    headers("Authorization: Bearer %(key)s")
    body("<${PRI}>1 ${ISODATE} ${HOST} ${PROGRAM:--} ${PID:--} ${MSGID:--} ${SDATA:--} ${MESSAGE}")
    batch-lines(100)
    batch-timeout(200)
  );
};
"""
CONFIG = """@version: 3.38
options { keep-hostname(yes); use-dns(no); frac-digits(3); recv-time-zone("+00:00"); send-time-zone("+00:00");
          stats-freq(0); };
source s_apps { network(ip("127.0.0.1") port(%(port)d) transport("tcp")); };
%(destination)s
log { source(s_apps); destination(d_logpipe); };
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class SyslogNg:
    """syslog-ng in the foreground; its stderr collected by a thread while it runs."""

    def __init__(self, workdir: Path, config: str) -> None:
        workdir.mkdir()
        conf = workdir / "syslog-ng.conf"
        conf.write_text(config)
        binary = shutil.which(SYSLOG_NG) or shutil.which(SYSLOG_NG, path="/usr/sbin:/sbin")
        if binary is None:
            pytest.fail("syslog-ng is not installed (apt-get install syslog-ng-core syslog-ng-mod-http)")
        self.proc = subprocess.Popen(
            [
                binary, "-F", "-e", "--no-caps", "-f", str(conf), "-p", str(workdir / "syslog-ng.pid"),
                "-R", str(workdir / "syslog-ng.persist"), "-c", str(workdir / "syslog-ng.ctl"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.stderr: list[str] = []
        self._reader = threading.Thread(target=self._read, name="syslog-ng-stderr", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)

    def log(self) -> str:
        return "".join(self.stderr[-40:])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        return self.proc.returncode


@pytest.fixture
def syslog_ng_factory(tmp_path: Path) -> Iterator[Callable[[str], SyslogNg]]:
    started: list[SyslogNg] = []

    def start(config: str) -> SyslogNg:
        instance = SyslogNg(tmp_path / f"syslog-ng{len(started)}", config)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


def _connect(port: int, sng: SyslogNg, timeout: float = 20.0) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        if sng.proc.poll() is not None:
            pytest.fail(f"syslog-ng exited with {sng.proc.returncode}:\n{sng.log()}")
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                pytest.fail(f"syslog-ng did not listen on {port}:\n{sng.log()}")
            time.sleep(0.1)


def test_syslog_ng_http_destination(
    server_factory: Callable[..., Any], syslog_ng_factory: Callable[[str], SyslogNg]
) -> None:
    server = server_factory(workers=1)
    key = server.create_tenant("sng")
    port = _free_port()
    config = CONFIG % {"port": port, "destination": DESTINATION % {"url": server.url, "key": key}}
    sng = syslog_ng_factory(config)

    # RFC 3164 lines, as applications and `logger` write them, stamped a minute ago (syslog-ng infers the
    # year; read as UTC by recv-time-zone).
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stamp = f"{when:%b} {when.day:2d} {when:%H:%M:%S}"
    iso = f"{when:%Y-%m-%dT%H:%M:%S}.000Z"
    lines = [
        f"<14>{stamp} web01 payments[4242]: ERROR payment failed for order 17",  # the word beats PRI's info
        f"<12>{stamp} web01 disk-monitor[7]: /var is 91% full",  # user.warning
        f"<27>{stamp} db02 postgres[99]: connection lost",  # daemon.err
        f"<30>{stamp} web01 cron: job started",  # daemon.info, no pid
    ]
    with _connect(port, sng) as conn:
        conn.sendall("".join(line + "\n" for line in lines).encode())

    deadline = time.monotonic() + 30
    records: list[dict[str, Any]] = []
    while len(records) < len(lines):
        if time.monotonic() > deadline:
            pytest.fail(f"{len(records)} of {len(lines)} records stored; syslog-ng says:\n{sng.log()}")
        if sng.proc.poll() is not None:
            pytest.fail(f"syslog-ng exited with {sng.proc.returncode}:\n{sng.log()}")
        time.sleep(0.2)
        records = server.admin_query(tenant="sng")
    assert sng.stop() == 0, sng.log()
    assert "status code" not in sng.log(), sng.log()  # no 4xx/5xx answered to syslog-ng

    by_message = {r["message"]: r for r in records}
    assert set(by_message) == {
        "ERROR payment failed for order 17",
        "/var is 91% full",
        "connection lost",
        "job started",
    }
    got = {
        message: (r["level"], r["timestamp"], r["source"], r["attributes"])
        for message, r in by_message.items()
    }
    assert got == {
        "ERROR payment failed for order 17": (
            "error",
            iso,
            "text",
            {"facility": "user", "severity": "info", "host": "web01", "app": "payments", "pid": 4242},
        ),
        "/var is 91% full": (
            "warn",
            iso,
            "text",
            {"facility": "user", "severity": "warning", "host": "web01", "app": "disk-monitor", "pid": 7},
        ),
        "connection lost": (
            "error",
            iso,
            "text",
            {"facility": "daemon", "severity": "err", "host": "db02", "app": "postgres", "pid": 99},
        ),
        "job started": (
            "info",
            iso,
            "text",
            {"facility": "daemon", "severity": "info", "host": "web01", "app": "cron"},
        ),
    }
