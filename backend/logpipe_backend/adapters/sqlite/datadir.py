"""Where the local stack keeps its state, and the admin token.

Layout of a data dir (created 0700, since it holds the admin token and every tenant's logs)::

    queue.db      messages, dlq, idempotency claims
    logs.db       records, keyed (tenant_id, log_id)
    tenants.db    tenants and the sha256 of their keys
    admin_token   the local admin token (0600), unless LOGPIPE_ADMIN_TOKEN is set
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from logpipe_backend import settings
from logpipe_backend.core.auth import new_admin_token
from logpipe_backend.settings import DEFAULT_MIN_FREE_MB

PROBE_BYTES = 4096  # one page: enough to find a full disk or a file-size limit, cheap to fsync


class DataDirError(Exception):
    """The data dir cannot hold the stack's state; the message says why, in one line."""


@dataclass(frozen=True)
class DataDir:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> DataDir:
        return cls(Path(explicit).expanduser() if explicit else settings.data_dir())

    @property
    def queue_db(self) -> Path:
        return self.root / "queue.db"

    @property
    def logs_db(self) -> Path:
        return self.root / "logs.db"

    @property
    def tenants_db(self) -> Path:
        return self.root / "tenants.db"

    @property
    def admin_token_file(self) -> Path:
        return self.root / "admin_token"

    def create(self) -> None:
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def check(self, min_free_bytes: int = DEFAULT_MIN_FREE_MB * 1024 * 1024) -> None:
        """Create the data dir if needed and prove it can keep what a 202 promises, or raise DataDirError.

        Checked at start, so that the operator reads one clear reason instead of the first requests
        failing with 503: the path is (or can be made) a directory; a file can be created, written and
        fsync'ed in it (a read-only mount, a full disk or a file-size limit all fail here); and the file
        system has at least ``min_free_bytes`` free.
        """
        try:
            self.create()
        except OSError as exc:
            raise DataDirError(f"cannot create data dir {self.root}: {_reason(exc)}") from exc
        if not self.root.is_dir():
            raise DataDirError(f"data dir {self.root} is not a directory")
        probe = self.root / f".write-probe.{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                written = os.write(fd, b"\0" * PROBE_BYTES)
                if written != PROBE_BYTES:  # a short write: the disk filled up under us
                    raise OSError(28, "No space left on device")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise DataDirError(f"data dir {self.root} is not writable: {_reason(exc)}") from exc
        finally:
            with contextlib.suppress(OSError):
                os.unlink(probe)
        free = shutil.disk_usage(self.root).free
        if free < min_free_bytes:
            raise DataDirError(
                f"data dir {self.root} has {free / 2**20:.1f} MiB free, below the minimum of"
                f" {min_free_bytes / 2**20:.0f} MiB (LOGPIPE_MIN_FREE_MB); free some space"
            )

    def read_admin_token(self) -> str | None:
        try:
            token = self.admin_token_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return token or None

    def ensure_admin_token(self) -> tuple[str, bool]:
        """The stored admin token, made (0600, never readable by others) on first use; (token, created)."""
        existing = self.read_admin_token()
        if existing:
            return existing, False
        self.create()
        token = new_admin_token()
        tmp = self.admin_token_file.with_name(f".admin_token.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(token + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                # link() fails if another process made the token first: then theirs wins, and both agree.
                os.link(tmp, self.admin_token_file)
            except FileExistsError:
                stored = self.read_admin_token()
                if stored:
                    return stored, False
                raise
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return token, True


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
