"""Credentials on the local stack (issue #5): keys of high entropy, kept only as hashes, compared in
constant time, shown once; revocation takes effect on the very next request; one and the same 401 for an
unknown key and a nearly right one; tenant ids validated.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from local_stack import logpipe_command
from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore, TenantError
from sec_local import LocalServer, assert_error, ingest, queue_rows, start_module_server

KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    yield from start_module_server(tmp_path_factory, "creds")


def _cli(server: LocalServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGPIPE_", "AWS_"))}
    env["XDG_CONFIG_HOME"] = str(server.workdir / "config")
    return subprocess.run(
        [*logpipe_command(), "tenants", *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def _files_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def test_keys_have_high_entropy(server: LocalServer) -> None:
    keys = [server.create_tenant(f"entropy-{i}") for i in range(40)]
    assert len(set(keys)) == len(keys)
    for key in keys:
        assert key.startswith("lp_") and len(key) == 46
        body = key[3:]
        assert set(body) <= set(KEY_CHARS)
        assert len(base64.urlsafe_b64decode(body + "=")) == 32  # 256 random bits
    # 40 keys × 43 characters from a 64-letter alphabet: every letter shows up if they are random.
    assert len(set("".join(k[3:] for k in keys))) > 56


def test_key_is_shown_once_and_stored_only_as_its_hash(server: LocalServer) -> None:
    created = _cli(server, "create", "hashed")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert created.stdout == key + "\n", "the key alone on stdout"
    assert key.startswith("lp_")
    listed = _cli(server, "list")
    assert listed.returncode == 0 and "hashed" in listed.stdout
    assert key not in listed.stdout + listed.stderr
    again = _cli(server, "create", "hashed")  # a second create does not reveal or reissue it
    assert again.returncode != 0 and key not in again.stdout + again.stderr

    assert ingest(server, key, b'{"message":"with the key"}').status_code == 202
    uri = f"file:{server.data_dir / 'tenants.db'}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        hashes = [row[0] for row in conn.execute("SELECT key_hash FROM api_keys WHERE tenant_id = 'hashed'")]
    assert hashes == [hashlib.sha256(key.encode()).hexdigest()]
    # Nowhere on disk (databases, WAL files, logs) and not in the server's log: only the hash.
    everything = _files_bytes(server.workdir)
    assert key.encode() not in everything
    assert key[3:].encode() not in everything


def test_revocation_takes_effect_on_the_next_request(server: LocalServer) -> None:
    key = server.create_tenant("revokee")
    assert ingest(server, key, b'{"message":"before"}').status_code == 202
    revoked = _cli(server, "revoke", "revokee")
    assert revoked.returncode == 0, revoked.stderr
    before = queue_rows(server)
    assert_error(ingest(server, key, b'{"message":"after"}'), 401, "unauthorized")
    assert_error(ingest(server, key, b'{"message":"again"}'), 401, "unauthorized")
    assert queue_rows(server) == before
    # A new key for the tenant works; the old one stays dead.
    created = _cli(server, "create", "revokee")
    assert created.returncode == 0, created.stderr
    new_key = created.stdout.strip()
    assert new_key != key
    assert ingest(server, new_key, b'{"message":"new key"}').status_code == 202
    assert_error(ingest(server, key, b'{"message":"old key"}'), 401, "unauthorized")


def _ingest_with(server: LocalServer, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{server.url}/ingest",
        content=b'{"message":"probe"}',
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )


def _shape(response: httpx.Response) -> tuple[int, Any, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in response.headers.items() if k not in ("date",))
    return response.status_code, response.json(), headers


def test_same_401_for_unknown_nearly_right_and_revoked_keys(server: LocalServer) -> None:
    key = server.create_tenant("nearly")
    revoked_key = server.create_tenant("gone")
    keys = SqliteKeyStore(server.data_dir / "tenants.db")
    try:
        keys.revoke_tenant("gone")
    finally:
        keys.close()
    flipped_last = key[:-1] + ("A" if key[-1] != "A" else "B")
    flipped_first = key[:3] + ("A" if key[3] != "A" else "B") + key[4:]
    attempts = {
        "unknown": {"Authorization": "Bearer lp_" + "Q" * 43},
        "last char changed": {"Authorization": f"Bearer {flipped_last}"},
        "first char changed": {"Authorization": f"Bearer {flipped_first}"},
        "one char short": {"Authorization": f"Bearer {key[:-1]}"},
        "one char long": {"Authorization": f"Bearer {key}A"},
        "upper-cased": {"Authorization": f"Bearer {key.upper()}"},
        "prefix only": {"Authorization": "Bearer lp_"},
        "revoked": {"Authorization": f"Bearer {revoked_key}"},
        "admin token": {"Authorization": f"Bearer {server.admin_token}"},
        "X-Api-Key nearly": {"X-Api-Key": flipped_last},
        "other scheme": {"Authorization": f"Basic {key}"},
        "empty bearer": {"Authorization": "Bearer"},
        "none": {},
    }
    shapes = {name: _shape(_ingest_with(server, headers)) for name, headers in attempts.items()}
    reference = shapes["unknown"]
    assert reference[0] == 401 and reference[1]["error"]["code"] == "unauthorized"
    different = {name: shape for name, shape in shapes.items() if shape != reference}
    assert not different, f"these 401s differ from an unknown key's: {different}"
    # The right key still works (nothing above locked it out).
    assert _ingest_with(server, {"Authorization": f"Bearer {key}"}).status_code == 202


def test_secrets_are_compared_in_constant_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin token is compared with ``hmac.compare_digest``; a tenant key is never compared at all:
    it is looked up by its SHA-256, so timing can at most tell about a hash, which reveals nothing."""
    import hmac

    import logpipe_backend.adapters.sqlite.keystore as keystore_module
    import logpipe_backend.core.auth as auth

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    store = SqliteKeyStore(tmp_path / "tenants.db", admin_token="lpadm_" + "s" * 43)
    try:
        assert not store.is_admin_token("lpadm_" + "s" * 42 + "t")
        assert store.is_admin_token("lpadm_" + "s" * 43)
        assert len(calls) == 2
        key = store.create_tenant("timing")
        hashed: list[str] = []
        real_hash = keystore_module.hash_secret

        def hash_spy(secret: str) -> str:
            hashed.append(secret)
            return real_hash(secret)

        monkeypatch.setattr(keystore_module, "hash_secret", hash_spy)
        assert store.tenant_for_key(key) == "timing"
        assert store.tenant_for_key(key[:-1] + "x") is None
        assert hashed == [key, key[:-1] + "x"]
    finally:
        store.close()


VALID_IDS = ["ab", "a-b_c", "0x", "x" * 63, "--", "acme-prod_2"]
INVALID_IDS = ["a", "x" * 64, "Acme", "ACME", "ac me", "ac.me", "ac/me", "ácme", "acme\n", "", "ac%", "a'b"]


@pytest.mark.parametrize("tenant", VALID_IDS)
def test_valid_tenant_ids(tmp_path: Path, tenant: str) -> None:
    store = SqliteKeyStore(tmp_path / "tenants.db")
    try:
        key = store.create_tenant(tenant)
        assert store.tenant_for_key(key) == tenant
    finally:
        store.close()


@pytest.mark.parametrize("tenant", INVALID_IDS)
def test_invalid_tenant_ids_are_refused(tmp_path: Path, tenant: str) -> None:
    store = SqliteKeyStore(tmp_path / "tenants.db")
    try:
        with pytest.raises(TenantError):
            store.create_tenant(tenant)
        assert store.list_tenants() == []
    finally:
        store.close()


def test_cli_refuses_invalid_tenant_id(server: LocalServer) -> None:
    result = _cli(server, "create", "Not_Valid")
    assert result.returncode != 0
    assert "lp_" not in result.stdout
    assert "Traceback" not in result.stderr
