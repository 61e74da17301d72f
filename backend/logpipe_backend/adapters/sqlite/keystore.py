"""Tenants and their keys on SQLite (``tenants.db``); only the sha256 of each key is kept.

A key is 256 random bits, so a fast hash is as safe as a slow one here (there is nothing to brute-force),
and it lets a lookup be one primary-key read. Revoking a tenant revokes all its keys at once.

Each key has ``scopes`` (``"ingest"``, ``"read"`` or ``"ingest,read"``; issue 15). A ``tenants.db`` made
before scopes existed gains the column on open, NULL for its keys, which ``core.auth.parse_scopes`` reads
as ingest only: existing keys keep doing exactly what they did.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from logpipe_backend.adapters.sqlite._sqlite import Database
from logpipe_backend.core.auth import (
    LEGACY_SCOPES,
    KeyGrant,
    hash_secret,
    new_api_key,
    parse_scopes,
    scopes_text,
    secrets_equal,
    valid_tenant_id,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tenants (
    tenant_id TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER,
    retention_s INTEGER,
    purge_started_ms INTEGER
);
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants (tenant_id),
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER,
    scopes TEXT
);
CREATE INDEX IF NOT EXISTS api_keys_tenant ON api_keys (tenant_id)
"""


# Columns added after the first version: a tenants.db made before gets them when first opened. NULL means
# what the old version did: the stack's default retention, no purge under way, a key's scopes ingest only
# (``core.auth.parse_scopes``).
_ADDED_COLUMNS = {
    "tenants": {"retention_s": "INTEGER", "purge_started_ms": "INTEGER"},
    "api_keys": {"scopes": "TEXT"},
}


def _upgrade(conn: sqlite3.Connection) -> None:
    for table, added in _ADDED_COLUMNS.items():
        have = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in added.items():
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


class TenantError(Exception):
    """A tenant operation that cannot be done (exists already, unknown, invalid name)."""


@dataclass(frozen=True)
class TenantInfo:
    tenant_id: str
    created_ms: int
    revoked_ms: int | None
    active_keys: int
    retention_s: int | None = None  # None: the stack's default (``logpipe serve --retention``)
    purge_started_ms: int | None = None  # set while ``tenants purge`` is under way (or was interrupted)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SqliteKeyStore:
    """Implements ``ports.KeyStore``; ``admin_token`` is the one the local admin route accepts."""

    def __init__(self, path: Path, *, admin_token: str | None = None) -> None:
        self._db = Database(path, _SCHEMA)
        self._db.transaction(_upgrade)
        self._admin_token = admin_token

    # -- ports.KeyStore --------------------------------------------------------------------------------

    def grant_for_key(self, api_key: str) -> KeyGrant | None:
        digest = hash_secret(api_key)
        row = self._db.read(
            lambda conn: conn.execute(
                "SELECT k.tenant_id, k.scopes FROM api_keys k JOIN tenants t ON t.tenant_id = k.tenant_id"
                " WHERE k.key_hash = ? AND k.revoked_ms IS NULL AND t.revoked_ms IS NULL",
                (digest,),
            ).fetchone()
        )
        return None if row is None else KeyGrant(str(row[0]), parse_scopes(row[1]))

    def tenant_for_key(self, api_key: str) -> str | None:
        """The key's tenant whatever its scopes (operator checks and tests)."""
        grant = self.grant_for_key(api_key)
        return None if grant is None else grant.tenant_id

    def is_admin_token(self, token: str) -> bool:
        return self._admin_token is not None and secrets_equal(token, self._admin_token)

    # -- operator commands (``logpipe tenants``) -------------------------------------------------------

    def create_tenant(self, tenant_id: str) -> str:
        """Create (or re-activate a revoked) tenant with a new (ingest) key; returns the key, keeps only its
        hash."""
        if not valid_tenant_id(tenant_id):
            raise TenantError(
                f"invalid tenant id {tenant_id!r}: use 2-63 lowercase letters, digits, '-' or '_'"
            )
        key = new_api_key()
        now = _now_ms()

        def create(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT revoked_ms FROM tenants WHERE tenant_id = ?", (tenant_id,)).fetchone()
            if row is not None and row[0] is None:
                raise TenantError(f"tenant {tenant_id!r} already exists")
            conn.execute(
                "INSERT INTO tenants (tenant_id, created_ms, revoked_ms) VALUES (?, ?, NULL)"
                " ON CONFLICT (tenant_id) DO UPDATE SET revoked_ms = NULL",
                (tenant_id, now),
            )
            _insert_key(conn, key, tenant_id, LEGACY_SCOPES, now)

        self._db.transaction(create)
        return key

    def create_key(self, tenant_id: str, scopes: frozenset[str]) -> str:
        """One more key of an active tenant, with these scopes; returns it (only its hash is kept)."""
        key = new_api_key()
        now = _now_ms()

        def create(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT revoked_ms FROM tenants WHERE tenant_id = ?", (tenant_id,)).fetchone()
            if row is None or row[0] is not None:
                raise TenantError(f"no active tenant {tenant_id!r}")
            _insert_key(conn, key, tenant_id, scopes, now)

        self._db.transaction(create)
        return key

    def revoke_tenant(self, tenant_id: str) -> None:
        now = _now_ms()

        def revoke(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT revoked_ms FROM tenants WHERE tenant_id = ?", (tenant_id,)).fetchone()
            if row is None:
                raise TenantError(f"no tenant {tenant_id!r}")
            conn.execute(
                "UPDATE tenants SET revoked_ms = coalesce(revoked_ms, ?) WHERE tenant_id = ?",
                (now, tenant_id),
            )
            conn.execute(
                "UPDATE api_keys SET revoked_ms = ? WHERE tenant_id = ? AND revoked_ms IS NULL",
                (now, tenant_id),
            )

        self._db.transaction(revoke)

    def set_retention(self, tenant_id: str, retention_s: int | None) -> None:
        """Keep ``tenant_id``'s records ``retention_s`` seconds (0: forever; None: the stack's default)."""

        def update(conn: sqlite3.Connection) -> None:
            done = conn.execute(
                "UPDATE tenants SET retention_s = ? WHERE tenant_id = ?", (retention_s, tenant_id)
            )
            if done.rowcount == 0:
                raise TenantError(f"no tenant {tenant_id!r}")

        self._db.transaction(update)

    def retentions(self) -> dict[str, int]:
        """Every tenant's own retention in seconds (tenants on the default are absent)."""
        rows = self._db.read(
            lambda conn: conn.execute(
                "SELECT tenant_id, retention_s FROM tenants WHERE retention_s IS NOT NULL"
            ).fetchall()
        )
        return {str(t): int(s) for t, s in rows}

    def mark_purge(self, tenant_id: str, started_ms: int | None) -> None:
        """Record that a purge of ``tenant_id`` began (``started_ms``) or finished (None).

        A tenant unknown here (its records only in logs.db) gets a revoked row, so the mark is visible."""

        def mark(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO tenants (tenant_id, created_ms, revoked_ms, purge_started_ms)"
                " VALUES (?, ?, ?, ?)"
                " ON CONFLICT (tenant_id) DO UPDATE SET purge_started_ms = excluded.purge_started_ms",
                (tenant_id, _now_ms(), _now_ms(), started_ms),
            )

        self._db.transaction(mark)

    def list_tenants(self) -> list[TenantInfo]:
        rows = self._db.read(
            lambda conn: conn.execute(
                "SELECT t.tenant_id, t.created_ms, t.revoked_ms,"
                " (SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.tenant_id AND k.revoked_ms IS NULL),"
                " t.retention_s, t.purge_started_ms"
                " FROM tenants t ORDER BY t.tenant_id"
            ).fetchall()
        )
        return [
            TenantInfo(
                str(r[0]),
                int(r[1]),
                None if r[2] is None else int(r[2]),
                int(r[3]),
                None if r[4] is None else int(r[4]),
                None if r[5] is None else int(r[5]),
            )
            for r in rows
        ]

    def close(self) -> None:
        self._db.close()


def _insert_key(conn: sqlite3.Connection, key: str, tenant_id: str, scopes: frozenset[str], now: int) -> None:
    if not scopes:
        raise TenantError("a key needs at least one scope")
    conn.execute(
        "INSERT INTO api_keys (key_hash, tenant_id, created_ms, scopes) VALUES (?, ?, ?, ?)",
        (hash_secret(key), tenant_id, now, scopes_text(scopes)),
    )
