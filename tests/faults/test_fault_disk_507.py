"""A nearly full disk: ingest answers 507 with Retry-After instead of accepting what it may not store, and
the SDK treats it like a 503 (retries after backoff) until space comes back.

The small disk is made as the other fault tests make theirs (test_fault_datadir.py): with the real setting,
here ``LOGPIPE_MIN_FREE`` (``--min-free``) above what the disk has; and, to see the threshold crossed while
the stack runs, by filling the disk with a preallocated file until it holds less than the threshold.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import logpipe
from local_stack import LocalServer
from logpipe_backend.runtime.diskspace import CHECK_EVERY_S


def _post(server: LocalServer, key: str, text: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/plain"}
    return httpx.post(f"{server.url}/ingest", content=text, headers=headers, timeout=30)


def test_no_room_is_a_507_with_retry_after(server_factory: Callable[..., LocalServer]) -> None:
    server = server_factory(env={"LOGPIPE_MIN_FREE": str(2**60)})
    key = server.create_tenant("acme")
    refused = _post(server, key, "a line")
    assert refused.status_code == 507, refused.text
    assert refused.headers["retry-after"] == "30"
    assert refused.json()["error"]["code"] == "insufficient_storage"
    health = server.health()
    assert health["disk_low"] is True and health["queue_depth"] == 0  # nothing of it was queued
    assert 0 < health["disk_free_bytes"] < 2**60
    # Reading is not refused: the admin API still answers.
    assert server.admin_query(tenant="acme") == []


def test_disk_filling_up_and_freed_again(server_factory: Callable[..., LocalServer], tmp_path: Path) -> None:
    margin = 256 * 2**20
    threshold = shutil.disk_usage(tmp_path).free - margin
    server = server_factory(env={"LOGPIPE_MIN_FREE": str(threshold)})
    key = server.create_tenant("acme")
    assert _post(server, key, "room enough").status_code == 202
    filler = server.data_dir.parent / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.posix_fallocate(fd, 0, 2 * margin)  # the disk now holds less than the threshold
    finally:
        os.close(fd)
    time.sleep(CHECK_EVERY_S * 2)
    assert _post(server, key, "no room").status_code == 507
    # The SDK retries the 507 as it would a 503; space comes back meanwhile and the send succeeds.
    threading.Timer(1.0, filler.unlink).start()
    client = logpipe.Client(
        endpoint=server.url,
        api_key=key,
        retry=logpipe.RetryPolicy(max_attempts=20, base_delay=0.2, max_delay=0.5, max_retry_after=0.5),
    )
    try:
        client.send("sent while the disk was full")
    finally:
        client.close()
    assert not filler.exists()
    server.wait_drained()
    messages = {r["message"] for r in server.admin_query(tenant="acme")}
    assert messages == {"room enough", "sent while the disk was full"}
