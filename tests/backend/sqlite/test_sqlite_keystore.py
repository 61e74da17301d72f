"""Tenants and keys: only hashes stored, revocation, the admin token, the data dir's token file."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from logpipe_backend.adapters.sqlite.datadir import DataDir
from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore, TenantError
from logpipe_backend.settings import data_dir as default_data_dir
from logpipe_backend.wiring.local import admin_token_from


def test_create_lookup_revoke(tmp_path: Path) -> None:
    keys = SqliteKeyStore(tmp_path / "tenants.db")
    key = keys.create_tenant("acme")
    assert key.startswith("lp_")
    assert keys.tenant_for_key(key) == "acme"
    assert keys.tenant_for_key(key + "x") is None
    with pytest.raises(TenantError):
        keys.create_tenant("acme")
    keys.revoke_tenant("acme")
    assert keys.tenant_for_key(key) is None
    [info] = keys.list_tenants()
    assert info.tenant_id == "acme" and info.revoked_ms is not None and info.active_keys == 0
    new_key = keys.create_tenant("acme")  # re-activated with a new key; the old one stays dead
    assert keys.tenant_for_key(new_key) == "acme" and keys.tenant_for_key(key) is None
    with pytest.raises(TenantError):
        keys.revoke_tenant("nobody")


def test_only_hashes_are_stored(tmp_path: Path) -> None:
    keys = SqliteKeyStore(tmp_path / "tenants.db")
    key = keys.create_tenant("acme")
    keys.close()
    dump = "\n".join(sqlite3.connect(tmp_path / "tenants.db").iterdump())
    assert key not in dump and key[3:] not in dump


@pytest.mark.parametrize("bad", ["A", "x", "UPPER", "has space", "a" * 64, "../etc", ""])
def test_invalid_tenant_ids(tmp_path: Path, bad: str) -> None:
    with pytest.raises(TenantError):
        SqliteKeyStore(tmp_path / "tenants.db").create_tenant(bad)


def test_admin_token(tmp_path: Path) -> None:
    keys = SqliteKeyStore(tmp_path / "tenants.db", admin_token="lpadm_secret")
    assert keys.is_admin_token("lpadm_secret")
    assert not keys.is_admin_token("lpadm_secreT")
    assert not SqliteKeyStore(tmp_path / "t2.db").is_admin_token("")


def test_data_dir_token_file(tmp_path: Path) -> None:
    d = DataDir(tmp_path / "data")
    token, created = d.ensure_admin_token()
    assert created and token.startswith("lpadm_")
    assert stat.S_IMODE(d.admin_token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(d.root.stat().st_mode) == 0o700
    assert d.ensure_admin_token() == (token, False)
    assert admin_token_from(d, {}) == token
    assert admin_token_from(d, {"LOGPIPE_ADMIN_TOKEN": "lpadm_env"}) == "lpadm_env"


def test_default_data_dir() -> None:
    assert default_data_dir({"LOGPIPE_DATA_DIR": "/x/y"}) == Path("/x/y")
    assert default_data_dir({"XDG_DATA_HOME": "/xdg"}) == Path("/xdg/logpipe")
    assert default_data_dir({"XDG_DATA_HOME": "relative"}) == Path.home() / ".local/share/logpipe"


def test_key_scopes_and_a_database_made_before_them(tmp_path: Path) -> None:
    from logpipe_backend.core.auth import KeyGrant, hash_secret, parse_scopes

    path = tmp_path / "tenants.db"
    legacy = "lp_" + "L" * 43
    with sqlite3.connect(path) as conn:  # the schema before issue 15: no scopes column
        conn.executescript(
            "CREATE TABLE tenants (tenant_id TEXT PRIMARY KEY, created_ms INTEGER NOT NULL,"
            " revoked_ms INTEGER);"
            "CREATE TABLE api_keys (key_hash TEXT PRIMARY KEY, tenant_id TEXT NOT NULL,"
            " created_ms INTEGER NOT NULL, revoked_ms INTEGER);"
        )
        conn.execute("INSERT INTO tenants VALUES ('old', 1, NULL)")
        conn.execute("INSERT INTO api_keys VALUES (?, 'old', 1, NULL)", (hash_secret(legacy),))
    keys = SqliteKeyStore(path)
    assert keys.grant_for_key(legacy) == KeyGrant("old", frozenset({"ingest"}))
    read_key = keys.create_key("old", parse_scopes("read"))
    both = keys.create_key("old", parse_scopes("ingest,read"))
    assert keys.grant_for_key(read_key) == KeyGrant("old", frozenset({"read"}))
    assert keys.grant_for_key(both) == KeyGrant("old", frozenset({"ingest", "read"}))
    assert [t.active_keys for t in keys.list_tenants()] == [3]
    with pytest.raises(TenantError, match="no active tenant 'ghost'"):
        keys.create_key("ghost", parse_scopes("read"))
    keys.revoke_tenant("old")
    assert keys.grant_for_key(read_key) is None and keys.grant_for_key(legacy) is None
    with pytest.raises(TenantError):
        keys.create_key("old", parse_scopes("read"))
    keys.close()
    assert SqliteKeyStore(path).grant_for_key(both) is None  # reopening migrates nothing twice
