"""Storage safety: the data dir is checked at start, SQLite is set up for durability, a full disk is a 503.

Tests run as root, where file modes do not stop writes, so the unwritable cases are made honestly in
other ways: a data dir whose parent is a regular file (cannot be created), a file-size limit of 0 for the
server process (``RLIMIT_FSIZE``: every write fails with EFBIG, as on a full disk), and a free-space
minimum above what the disk has (``LOGPIPE_MIN_FREE_MB``, the real setting).
"""

from __future__ import annotations

import base64
import os
import random
import resource
import subprocess
from pathlib import Path

import httpx
import pytest
from local_stack import REPO, logpipe_command
from logpipe_backend.adapters.sqlite._sqlite import connect
from logpipe_backend.adapters.sqlite.datadir import DataDir, DataDirError
from logpipe_backend.settings import ConfigError
from logpipe_backend.settings import min_free_bytes as min_free_bytes_from_env


def serve(
    data_dir: Path | None, tmp_path: Path, *, env: dict[str, str] | None = None, fsize: int | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGPIPE_", "AWS_"))}
    full_env.update({"XDG_CONFIG_HOME": str(tmp_path / "config"), **(env or {})})

    def limit() -> None:
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return subprocess.run(
        [
            *logpipe_command(),
            *("serve", "--port", "0", "--workers", "0"),
            *(["--data-dir", str(data_dir)] if data_dir is not None else []),
        ],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=REPO,
        timeout=30,
        preexec_fn=limit,
        check=False,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""  # never "serving on": it did not start
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("logpipe: "), done.stderr
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_data_dir_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    done = serve(tmp_path / "file" / "data", tmp_path)
    assert_one_line_error(done, "cannot create data dir", "Not a directory")


def test_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file")
    # Through the environment: click already refuses such a --data-dir as a usage error (exit 2).
    done = serve(None, tmp_path, env={"LOGPIPE_DATA_DIR": str(tmp_path / "data")})
    assert_one_line_error(done, "data dir", str(tmp_path / "data"))


def test_unwritable_data_dir_is_refused(tmp_path: Path) -> None:
    done = serve(tmp_path / "data", tmp_path, fsize=0)  # no byte can be written: a full disk
    assert_one_line_error(done, "is not writable", "File too large")
    assert list((tmp_path / "data").iterdir()) == []  # the probe was cleaned up


def test_too_little_free_space_is_refused(tmp_path: Path) -> None:
    done = serve(tmp_path / "data", tmp_path, env={"LOGPIPE_MIN_FREE_MB": str(2**40)})
    assert_one_line_error(done, "MiB free, below the minimum", "LOGPIPE_MIN_FREE_MB")


def test_check_units(tmp_path: Path) -> None:
    DataDir(tmp_path / "ok").check(min_free_bytes=0)
    assert (tmp_path / "ok").is_dir() and list((tmp_path / "ok").iterdir()) == []
    assert (tmp_path / "ok").stat().st_mode & 0o777 == 0o700
    with pytest.raises(DataDirError, match="below the minimum"):
        DataDir(tmp_path / "ok").check(min_free_bytes=2**62)
    assert min_free_bytes_from_env({}) == 64 * 2**20
    assert min_free_bytes_from_env({"LOGPIPE_MIN_FREE_MB": "0"}) == 0
    for bad in ("lots", "-1", "nan"):
        with pytest.raises(ConfigError, match="LOGPIPE_MIN_FREE_MB"):
            min_free_bytes_from_env({"LOGPIPE_MIN_FREE_MB": bad})


def test_sqlite_is_set_for_durability(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync on every commit
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    finally:
        conn.close()


def test_disk_full_while_running_is_a_503_not_a_202(tmp_path: Path) -> None:
    # The server may write at most 1 MiB per file: enough to start, too little for a big request's WAL.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGPIPE_", "AWS_"))}
    env.update({"XDG_CONFIG_HOME": str(tmp_path / "config"), "LOGPIPE_MIN_FREE_MB": "0"})
    limit = 1 << 20
    proc = subprocess.Popen(
        [*logpipe_command(), "serve", "--port", "0", "--workers", "0", "--data-dir", str(tmp_path / "d")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit)),
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().decode().split(" on ", 1)[1].split(" ", 1)[0]
        from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore

        keys = SqliteKeyStore(tmp_path / "d" / "tenants.db")
        key = keys.create_tenant("acme")
        keys.close()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/plain"}
        small = httpx.post(f"{url}/ingest", content="fits", headers=headers, timeout=30)
        assert small.status_code == 202
        # ~2 MiB of random base64: over the limit even as queue.db keeps it (deflated, ~1.5 MiB).
        rng = random.Random(0)
        big = "\n".join(f"line {i} " + base64.b64encode(rng.randbytes(150)).decode() for i in range(10_000))
        full = httpx.post(f"{url}/ingest", content=big, headers=headers, timeout=30)
        assert full.status_code == 503, full.text
        assert full.json()["error"]["code"] == "queue_unavailable" and "retry-after" in full.headers
        depth = httpx.get(f"{url}/healthz", timeout=10).json()["queue_depth"]
        assert depth == 1  # only the small one: the big request left nothing behind
        again = httpx.post(f"{url}/ingest", content="still fine", headers=headers, timeout=30)
        assert again.status_code == 202  # the server survived it
    finally:
        os.killpg(proc.pid, 9)
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
