from __future__ import annotations

import gzip
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from logpipe import BatchLimits, Client, LogpipeHandler, RetryPolicy


class Sink:
    """An httpx transport that stores what it receives (or fails, or blocks) — the server stand-in."""

    def __init__(self) -> None:
        self.records: list[dict[str, object]] = []
        self.lock = threading.Lock()
        self.fail = False
        self.gate = threading.Event()
        self.gate.set()
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.gate.wait(10)
        with self.lock:
            self.requests += 1
        if self.fail:
            raise httpx.ConnectError("connection refused")
        lines = [json.loads(x) for x in gzip.decompress(request.content).split(b"\n") if x]
        with self.lock:
            self.records.extend(lines)
        return httpx.Response(202, json={"accepted": len(lines), "log_ids": ["x"] * len(lines)})


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def logger(sink: Sink) -> Iterator[tuple[logging.Logger, LogpipeHandler]]:
    client = Client("http://logpipe.test", "lp_key", transport=httpx.MockTransport(sink))
    handler = LogpipeHandler(
        client,
        queue_size=100,
        batch_limits=BatchLimits(max_records=50, max_age=0.05),
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
        flush_timeout=2.0,
    )
    log = logging.getLogger(f"app.{id(handler)}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(handler)
    yield log, handler
    log.removeHandler(handler)
    handler.close()


def test_records_are_shipped_with_fields(logger: tuple[logging.Logger, LogpipeHandler], sink: Sink) -> None:
    log, handler = logger
    for i in range(80):
        log.info("hello %s", i, extra={"request_id": f"r{i}"})
    log.warning("careful")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    assert handler.flush(5)
    assert len(sink.records) == 82
    first = sink.records[0]
    assert first["message"] == "hello 0" and first["level"] == "info" and first["request_id"] == "r0"
    assert str(first["timestamp"]).endswith("Z") and first["logger"] == log.name
    levels = {r["message"]: r["level"] for r in sink.records}
    assert levels["careful"] == "warn" and levels["failed"] == "error"
    failed = next(r for r in sink.records if r["message"] == "failed")
    assert "ValueError: boom" in str(failed["exception"])
    assert handler.stats.sent == 82 and handler.stats.dropped == 0


def test_emit_never_blocks_and_overflow_is_counted(
    logger: tuple[logging.Logger, LogpipeHandler], sink: Sink
) -> None:
    log, handler = logger
    sink.gate.clear()  # the server hangs
    started = time.monotonic()
    for i in range(1000):
        log.info("x %s", i)
    assert time.monotonic() - started < 1.0
    stats = handler.stats
    assert stats.dropped >= 1000 - 100 - 50 - 1 and stats.dropped <= 1000 - 100
    sink.gate.set()
    assert handler.flush(5)
    assert handler.stats.sent + handler.stats.dropped == 1000
    # the loss is reported to the server as a warning record
    time.sleep(0.1)
    log.info("after")
    handler.flush(5)
    assert any(r.get("logpipe_dropped") == handler.stats.dropped for r in sink.records)


def test_unreachable_server_is_lost_and_reported_never_raised(
    logger: tuple[logging.Logger, LogpipeHandler], sink: Sink, capsys: pytest.CaptureFixture[str]
) -> None:
    log, handler = logger
    sink.fail = True
    for i in range(30):
        log.error("e %s", i)
    handler.flush(3)
    started = time.monotonic()
    handler.close()
    handler.close()  # idempotent
    assert time.monotonic() - started < 3.0
    assert handler.stats.lost == 30
    assert "30 log records not delivered" in capsys.readouterr().err
    log.error("after close")  # dropped, not raised
    assert handler.stats.dropped == 1


def test_no_recursion_when_the_sending_code_logs(sink: Sink) -> None:
    client = Client("http://logpipe.test", "lp_key", transport=httpx.MockTransport(sink))
    handler = LogpipeHandler(client, batch_limits=BatchLimits(max_age=0.05))
    root = logging.getLogger()
    old_level = root.level
    root.setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        for i in range(10):
            logging.getLogger("app").info("m %s", i)
        assert handler.flush(5)
        time.sleep(0.3)
        handler.flush(5)
        # httpx logs "HTTP Request: POST ..." at INFO from the worker thread: none of it comes back.
        assert len(sink.records) == 10
        assert handler.stats.sent == 10
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()


def test_thread_is_lazy_named_daemon(logger: tuple[logging.Logger, LogpipeHandler]) -> None:
    log, handler = logger
    assert handler._thread is None
    log.info("start")
    thread = handler._thread
    assert thread is not None and thread.daemon and thread.name == "logpipe.LogpipeHandler"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX only")
def test_thread_restarts_after_fork(logger: tuple[logging.Logger, LogpipeHandler], sink: Sink) -> None:
    log, handler = logger
    log.info("parent")
    assert handler.flush(5)
    pid = os.fork()
    if pid == 0:  # child: log, flush, report through the exit status
        code = 1
        try:
            before = len(sink.records)
            log.info("child")
            if handler.flush(5) and len(sink.records) == before + 1 and handler._thread is not None:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [r["message"] for r in sink.records] == ["parent"]


def test_formatter_is_used_when_set(logger: tuple[logging.Logger, LogpipeHandler], sink: Sink) -> None:
    log, handler = logger
    handler.setFormatter(logging.Formatter("[%(name)s] %(message)s"))
    log.info("hi")
    handler.flush(5)
    assert sink.records[-1]["message"] == f"[{log.name}] hi"


def test_unserializable_extra_is_repr(logger: tuple[logging.Logger, LogpipeHandler], sink: Sink) -> None:
    log, handler = logger
    log.info("obj", extra={"thing": object(), "path": sys.path[:1]})
    handler.flush(5)
    assert str(sink.records[-1]["thing"]).startswith("<object object")


def test_broken_log_call_is_reported_not_raised(
    logger: tuple[logging.Logger, LogpipeHandler], sink: Sink, capsys: pytest.CaptureFixture[str]
) -> None:
    log, handler = logger
    # a bug in the application's log call, given to our handler alone (pytest's own capture handler
    # turns logging errors into test failures on purpose)
    bad = log.makeRecord(log.name, logging.INFO, "app.py", 1, "%d apples", ("not a number",), None)
    handler.handle(bad)
    log.info("fine")
    handler.flush(5)
    assert sink.records[0]["message"] == "fine"
    assert [r.get("logpipe_dropped") for r in sink.records[1:]] == [1]  # the loss, reported
    assert handler.stats.dropped == 1
    assert "Logging error" in capsys.readouterr().err
