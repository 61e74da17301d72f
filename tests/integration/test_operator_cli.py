"""``logpipe tenants`` and ``logpipe dlq`` on a local data dir (the operator commands of contract.md §4)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from logpipe_backend.adapters.sqlite.keystore import SqliteKeyStore
from logpipe_backend.adapters.sqlite.queue import SqliteQueue
from logpipe_cli.main import cli


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_tenants_create_list_revoke(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    code, out, _ = run("tenants", "create", "acme", "--data-dir", d)
    assert code == 0
    key = out.strip()
    assert out == key + "\n" and key.startswith("lp_")  # the key alone: KEY=$(logpipe tenants create acme)
    keys = SqliteKeyStore(tmp_path / "data" / "tenants.db")
    assert keys.tenant_for_key(key) == "acme"
    dump = "\n".join(sqlite3.connect(tmp_path / "data" / "tenants.db").iterdump())
    assert key not in dump  # only its hash is kept

    code, _, err = run("tenants", "create", "acme", "--data-dir", d)
    assert code == 1 and "already exists" in err
    code, _, err = run("tenants", "create", "Not Valid", "--data-dir", d)
    assert code == 1 and "invalid tenant id" in err and "Traceback" not in err

    code, out, _ = run("tenants", "list", "--data-dir", d, "--output", "json")
    assert code == 0 and json.loads(out)["tenant_id"] == "acme" and json.loads(out)["status"] == "active"
    code, _, _ = run("tenants", "revoke", "acme", "--data-dir", d)
    assert code == 0 and keys.tenant_for_key(key) is None
    code, out, _ = run("tenants", "list", "--data-dir", d)
    assert code == 0 and out.startswith("acme\trevoked")
    code, _, err = run("tenants", "revoke", "nobody", "--data-dir", d)
    assert code == 1 and "no tenant" in err


def test_tenants_uses_logpipe_data_dir(tmp_path: Path) -> None:
    result = CliRunner(env={"LOGPIPE_DATA_DIR": str(tmp_path / "env-data")}).invoke(
        cli, ["tenants", "create", "beta"]
    )
    assert result.exit_code == 0
    assert (
        SqliteKeyStore(tmp_path / "env-data" / "tenants.db").tenant_for_key(result.stdout.strip()) == "beta"
    )


def test_dlq_list_and_redrive(tmp_path: Path) -> None:
    d = tmp_path / "data"
    queue = SqliteQueue(d / "queue.db", max_receives=1)
    queue.send(['{"v":1,"tenant_id":"acme","records":[]}'])
    [m] = queue.receive(1, 30)
    queue.change_visibility(m.receipt_handle, 0, error="ValueError: boom")
    assert queue.receive(1, 30) == []  # moved to the DLQ
    code, out, _ = run("dlq", "list", "--data-dir", str(d), "--output", "json")
    row = json.loads(out)
    assert code == 0 and row["message_id"] == m.message_id and row["tenant_id"] == "acme"
    assert row["last_error"] == "ValueError: boom" and row["receive_count"] == 1
    code, _, err = run("dlq", "redrive", "--data-dir", str(d))
    assert code == 0 and "redrove 1" in err
    assert queue.depths() == (1, 0)
    code, _, err = run("dlq", "list", "--data-dir", str(tmp_path / "nothing-here"))
    assert code == 1 and "no local queue" in err
