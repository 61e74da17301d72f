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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from logpipe_backend.core.auth import new_admin_token


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$LOGPIPE_DATA_DIR``, else ``$XDG_DATA_HOME/logpipe``, else ``~/.local/share/logpipe``."""
    env = os.environ if environ is None else environ
    explicit = env.get("LOGPIPE_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_DATA_HOME", "")
    # XDG: a relative XDG_DATA_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "logpipe"


@dataclass(frozen=True)
class DataDir:
    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> DataDir:
        return cls(Path(explicit).expanduser() if explicit else default_data_dir())

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


def admin_token_from(data_dir: DataDir, environ: Mapping[str, str] | None = None) -> str | None:
    """The admin token the local stack accepts: ``LOGPIPE_ADMIN_TOKEN`` if set, else the stored one."""
    env = os.environ if environ is None else environ
    return env.get("LOGPIPE_ADMIN_TOKEN") or data_dir.read_admin_token()
