"""A poison record: it fails on every receive, lands in the DLQ after exactly 5, while the canary flows on.

How the poison is made, honestly and without a code path only tests use: the fault is injected into the
*storage*, as a disk or a broken migration would — a trigger in ``logs.db`` makes SQLite refuse any record
whose text holds ``POISON-PILL`` (``RAISE(ABORT, …)``, an IntegrityError, which no retry can fix). The record
itself goes in through the ordinary path (SDK → ingest → queue → worker). A second poison is a corrupt
message (truncated JSON) put straight into queue.db, as a bug in a producer would leave it.

Then the operator's path: ``logpipe dlq list`` shows both with their last error; the storage is "fixed"
(the trigger dropped) and ``logpipe dlq redrive <id>`` moves the record back, to be stored once; the corrupt
message stays in the DLQ.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Callable
from typing import Any

import logpipe
from faults_support import CanaryThread, assert_clean, log_lines, wait_for
from local_stack import REPO, LocalServer, logpipe_command
from logpipe_backend.adapters.sqlite.queue import SqliteQueue

POISON_TRIGGER = """
CREATE TRIGGER poison BEFORE INSERT ON records WHEN NEW.doc LIKE '%POISON-PILL%'
BEGIN SELECT RAISE(ABORT, 'simulated storage fault: record refused'); END
"""


def cli(server: LocalServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGPIPE_", "AWS_"))}
    env["XDG_CONFIG_HOME"] = str(server.workdir / "config")
    return subprocess.run(
        [*logpipe_command(), *args, "--data-dir", str(server.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=30,
        check=False,
    )


def dead_letters(server: LocalServer) -> list[dict[str, Any]]:
    r = cli(server, "dlq", "list", "--output", "json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def test_poison_record_goes_to_the_dlq_after_5_receives_and_is_redriven_once_fixed(
    server_factory: Callable[..., LocalServer],
) -> None:
    server = server_factory(workers=2, visibility_timeout=1.0)  # failed messages come back after ~1 s
    key = server.create_tenant("acme")
    logs = sqlite3.connect(server.data_dir / "logs.db")
    logs.execute(POISON_TRIGGER)
    logs.commit()

    canary = CanaryThread(server, key, duration_s=6.0).start()
    with logpipe.Client(server.url, key, "acme") as client:
        poison_ids = client.send({"message": "POISON-PILL: this record always fails", "n": 1}).log_ids
    assert len(poison_ids) == 1
    corrupt = SqliteQueue(server.data_dir / "queue.db")
    try:
        corrupt.send(['{"v": 1, "tenant_id": "acme", "records": [{"log_id": '])  # truncated JSON
    finally:
        corrupt.close()

    # The rest flows on: every canary record is stored exactly once, none waits for the poison.
    report = canary.result()
    assert_clean(report)
    assert report.failed == 0, report.summary()

    assert wait_for(lambda: server.health()["dlq_depth"] == 2, timeout=20), server.health()
    letters = {d["last_error"].split(":")[0]: d for d in dead_letters(server)}
    assert set(letters) == {"IntegrityError", "ValueError"}, letters
    refused, broken = letters["IntegrityError"], letters["ValueError"]
    assert refused["receive_count"] == 5 and broken["receive_count"] == 5  # exactly 5 receives
    assert "simulated storage fault: record refused" in refused["last_error"]  # why, kept with it
    assert refused["tenant_id"] == "acme" and refused["records"] == 1
    # Each was received 5 times: 4 redeliveries logged per message.
    assert len(log_lines(server, f"message {refused['message_id']} delivered again")) == 4
    assert server.admin_query(tenant="acme", contains="POISON-PILL") == []

    # The text listing shows the same, one line a message.
    text = cli(server, "dlq", "list")
    assert text.returncode == 0 and refused["message_id"] in text.stdout
    assert "simulated storage fault" in text.stdout

    # Fixed: the storage accepts the record again. Redrive it (only it): stored once, with its log_id.
    logs.execute("DROP TRIGGER poison")
    logs.commit()
    logs.close()
    moved = cli(server, "dlq", "redrive", refused["message_id"])
    assert moved.returncode == 0 and "redrove 1 message" in moved.stderr, moved.stderr
    server.wait_drained(timeout=15)
    stored = server.admin_query(tenant="acme", contains="POISON-PILL")
    assert [r["log_id"] for r in stored] == poison_ids
    remaining = dead_letters(server)
    assert [d["message_id"] for d in remaining] == [broken["message_id"]]  # the corrupt one stays
    assert server.health() == {**server.health(), "queue_depth": 0, "dlq_depth": 1}
