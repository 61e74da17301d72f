"""The canary itself: it must see loss and duplication when they happen, or its "all clean" means nothing.

A fake pipeline (httpx MockTransports standing in for ingest and the admin API) accepts every request with
a 202 but loses one record, stores another under two log_ids, returns a third twice across pages, and
stores a record whose request it answered with a 500 (a lost acknowledgement).
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from typing import Any

import httpx
import logpipe
from faults_support import run_canary
from logpipe_backend.core.ids import new_log_ids

LOSE, DOUBLE, REPEAT, UNACKED = 3, 5, 7, 9


class FakePipeline:
    def __init__(self, *, faulty: bool = True) -> None:
        # The sequence numbers the fake mistreats (-1: none).
        self.lose, self.double, self.repeat, self.unacked = (
            (LOSE, DOUBLE, REPEAT, UNACKED) if faulty else (-1, -1, -1, -1)
        )
        self.lock = threading.Lock()
        self.stored: list[dict[str, Any]] = []  # in log_id order, like the store
        self.repeat_id: str | None = None

    def ingest(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        text = body.decode()
        if text.lstrip().startswith("["):
            raws = json.loads(text)
        else:
            raws = [json.loads(line) for line in text.splitlines()]
        ids = new_log_ids(len(raws), int(time.time() * 1000))
        seqs = [r["canary_seq"] for r in raws]
        with self.lock:
            for raw, log_id in zip(raws, ids, strict=True):
                seq = raw["canary_seq"]
                if seq == self.lose:
                    continue
                attrs = {k: v for k, v in raw.items() if k != "message"}
                record = {"log_id": log_id, "message": raw["message"], "attributes": attrs}
                self.stored.append(record)
                if seq == self.double:  # a second copy under another log_id
                    other = log_id[:-1] + ("1" if log_id[-1] != "1" else "2")
                    self.stored.append({**record, "log_id": other})
                if seq == self.repeat:
                    self.repeat_id = log_id
            self.stored.sort(key=lambda r: r["log_id"])
        if self.unacked in seqs:  # stored, but the client hears a failure
            return httpx.Response(500, json={"error": {"code": "internal_error", "message": "boom"}})
        return httpx.Response(202, json={"accepted": len(ids), "log_ids": ids, "request_id": "r"})

    def admin(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        after, contains, cursor = params.get("after", ""), params.get("contains", ""), params.get("cursor")
        with self.lock:
            items = [r for r in self.stored if r["log_id"] > after and contains in r["message"]]
        if self.repeat_id is None:
            return httpx.Response(200, json={"items": items, "next_cursor": None})
        if cursor is None:  # first page: up to and including the REPEAT record; then the rest with it again
            cut = next((i for i, r in enumerate(items) if r["log_id"] == self.repeat_id), len(items) - 1)
            return httpx.Response(200, json={"items": items[: cut + 1], "next_cursor": "page2"})
        cut = next((i for i, r in enumerate(items) if r["log_id"] == self.repeat_id), 0)
        return httpx.Response(200, json={"items": items[cut:], "next_cursor": None})


def test_canary_counts_loss_duplicates_and_unacknowledged() -> None:
    fake = FakePipeline()
    report = run_canary(
        "http://fake.invalid",
        "lp_fake",
        "lpadm_fake",
        tenant="acme",
        rate=40.0,
        duration_s=0.6,
        batch=1,
        poll_interval=0.05,
        drain_timeout_s=1.0,
        retry=logpipe.RetryPolicy(max_attempts=1),
        transport=httpx.MockTransport(fake.ingest),
        admin_transport=httpx.MockTransport(fake.admin),
    )
    assert report.sent >= 12, report.summary()
    assert report.missing == 1 and report.missing_seqs == [LOSE], report.summary()
    # DOUBLE: one seq under two log_ids; REPEAT: one log_id returned on two pages.
    assert report.duplicated == 2 and report.duplicated_seqs == [DOUBLE], report.summary()
    assert report.failed == 1 and report.stored_unacknowledged == 1, report.summary()
    assert report.accepted == report.sent - 1
    assert report.statuses == {"202": report.sent - 1, "500": 1}
    assert not report.ok
    assert "FAILED" in report.summary()


def test_canary_clean_run_on_a_faithful_fake() -> None:
    fake = FakePipeline(faulty=False)
    report = run_canary(
        "http://fake.invalid",
        "lp_fake",
        "lpadm_fake",
        tenant="acme",
        rate=40.0,
        duration_s=0.4,
        batch=2,
        poll_interval=0.05,
        transport=httpx.MockTransport(fake.ingest),
        admin_transport=httpx.MockTransport(fake.admin),
    )
    assert report.ok, report.summary()
    assert report.stored == report.accepted == report.sent
    assert report.latency_measured == report.accepted
    assert json.loads(json.dumps(report.to_dict()))["ok"] is True
