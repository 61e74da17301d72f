"""Hostile bodies over a real socket (issue #5): each gets the error of contract.md §3, nothing is queued, the
server goes on serving — and a gzip bomb is refused in bounded memory (the server's peak RSS is measured).

One stack with no workers serves the module, so the queue's row count in ``queue.db`` is exact: every
refused request must leave it unchanged, every liveness probe adds one message.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sec_local import LocalServer, assert_error, assert_serving, ingest, queue_rows, start_module_server

MIB = 1024 * 1024
KIB = 1024
BOMB_INFLATED = 1024 * MIB  # 1 GiB of zeros ...
BOMB_MAX_WIRE = 2 * MIB  # ... in about 1 MiB of gzip (deflate tops out near 1032:1)
RSS_GROWTH_BOUND = 64 * MIB  # the decoded cap is 16 MiB: the bound leaves room for copies, not for the GiB


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    yield from start_module_server(tmp_path_factory, "hostile")


@pytest.fixture(scope="module")
def key(server: LocalServer) -> str:
    return server.create_tenant("hostile")


@pytest.fixture(scope="session")
def gzip_bomb() -> bytes:
    """1 GiB of zeros gzipped at level 9, built in 1 MiB steps: never 1 GiB in memory (about 2 s)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MIB)
    parts = [compressor.compress(zeros) for _ in range(BOMB_INFLATED // MIB)]
    parts.append(compressor.flush())
    bomb = b"".join(parts)
    assert len(bomb) < BOMB_MAX_WIRE
    return bomb


def _deep(depth: int) -> bytes:
    return b'{"a":' + b"[" * depth + b"]" * depth + b"}"


# (id, content type, extra headers, body, status, code, detail)
CASES: list[tuple[str, str | None, dict[str, str], bytes, int, str, dict[str, object]]] = [
    # -- size ---------------------------------------------------------------------------------------------
    ("record over 256 KiB (json)", "application/json", {},
     b'{"message":"' + b"x" * (300 * KIB) + b'"}', 413, "payload_too_large",
     {"limit": "record_bytes", "index": 0}),
    ("record over 256 KiB (second of an array)", "application/json", {},
     b'[{"message":"ok"},{"message":"' + b"x" * (300 * KIB) + b'"}]', 413, "payload_too_large",
     {"limit": "record_bytes", "index": 1}),
    ("line over 256 KiB (ndjson)", "application/x-ndjson", {},
     b'{"message":"ok"}\n{"message":"' + b"x" * (300 * KIB) + b'"}\n', 413, "payload_too_large",
     {"limit": "record_bytes", "line": 2}),
    ("line over 256 KiB (text)", "text/plain", {}, b"y" * (300 * KIB), 413, "payload_too_large",
     {"limit": "record_bytes", "line": 1}),
    ("10,001 records (json)", "application/json", {},
     b"[" + b",".join([b'{"m":1}'] * 10_001) + b"]", 413, "payload_too_large", {"limit": "records"}),
    ("10,001 records (ndjson)", "application/x-ndjson", {},
     b'{"m":1}\n' * 10_001, 413, "payload_too_large", {"limit": "records"}),
    ("10,001 records (text)", "text/plain", {}, b"line\n" * 10_001, 413, "payload_too_large",
     {"limit": "records"}),
    # -- nesting ------------------------------------------------------------------------------------------
    ("100,000-deep nesting (json)", "application/json", {}, _deep(100_000), 413, "payload_too_large",
     {"limit": "json_depth"}),
    ("100,000-deep nesting (ndjson)", "application/x-ndjson", {},
     b'{"m":1}\n' + _deep(100_000) + b"\n", 413, "payload_too_large", {"limit": "json_depth", "line": 2}),
    ("100,000-deep bare arrays", "application/json", {}, b"[" * 100_000 + b"]" * 100_000, 413,
     "payload_too_large", {"limit": "json_depth"}),
    # -- numbers ------------------------------------------------------------------------------------------
    ("NaN", "application/json", {}, b'{"v":NaN}', 400, "invalid_json", {}),
    ("Infinity", "application/json", {}, b'{"v":Infinity}', 400, "invalid_json", {}),
    ("-Infinity (ndjson)", "application/x-ndjson", {}, b'{"v":-Infinity}\n', 400, "invalid_json",
     {"line": 1}),
    ("5,000-digit integer", "application/json", {}, b'{"v":' + b"7" * 5000 + b"}", 400, "invalid_json", {}),
    ("5,000-digit float (overflows to inf)", "application/json", {}, b'{"v":' + b"9" * 5000 + b".5}", 400,
     "invalid_json", {}),
    # -- text encoding ------------------------------------------------------------------------------------
    ("invalid UTF-8 (json)", "application/json", {}, b'[{"m":"ok"},{"m":"\xff\xfe"}]', 400,
     "invalid_utf8", {"index": 1}),
    ("invalid UTF-8 (ndjson)", "application/x-ndjson", {}, b'{"m":"ok"}\n{"m":"\xc3\x28"}\n', 400,
     "invalid_utf8", {"line": 2}),
    ("invalid UTF-8 (text)", "text/plain", {}, b"fine\nbad \x80 byte\n", 400, "invalid_utf8", {"line": 2}),
    ("UTF-8-encoded surrogate", "text/plain", {}, b"a \xed\xa0\x80 b\n", 400, "invalid_utf8", {"line": 1}),
    ("lone surrogate escape", "application/json", {}, b'{"m":"\\ud800"}', 400, "invalid_json", {}),
    ("lone low surrogate in a key", "application/x-ndjson", {}, b'{"\\udfff":1}\n', 400, "invalid_json",
     {"line": 1}),
    # -- shape --------------------------------------------------------------------------------------------
    ("empty body", "application/json", {}, b"", 400, "empty_body", {}),
    ("empty array", "application/json", {}, b"[]", 400, "empty_body", {}),
    ("blank lines only", "text/plain", {}, b"\n\r\n  \n", 400, "empty_body", {}),
    ("not an object", "application/json", {}, b'[{"m":1},42]', 400, "invalid_record", {"index": 1}),
    ("malformed JSON", "application/x-ndjson", {}, b'{"m":1}\n{"m":\n', 400, "invalid_json", {"line": 2}),
    # -- content type and encoding ------------------------------------------------------------------------
    ("wrong content type", "application/xml", {}, b"<log/>", 415, "unsupported_media_type", {}),
    # No Content-Type is sniffed (issue 14): JSON-looking bodies must then be JSON.
    ("missing content type, broken JSON", None, {}, b'{"m":1', 400, "invalid_json", {"line": 1}),
    ("form content type, broken array", "application/x-www-form-urlencoded", {}, b'[{"m":1},', 400,
     "invalid_json", {}),
    ("latin-1 charset", "text/plain; charset=iso-8859-1", {}, b"caf\xe9", 415, "unsupported_media_type", {}),
    ("brotli encoding", "application/json", {"Content-Encoding": "br"}, b"\x0b\x02\x80{}\x03", 415,
     "unsupported_encoding", {}),
    ("gzip then deflate", "application/json", {"Content-Encoding": "gzip, deflate"}, b"x", 415,
     "unsupported_encoding", {}),
    ("corrupt gzip", "application/json", {"Content-Encoding": "gzip"}, b"\x1f\x8b\x08\x00garbage", 400,
     "invalid_gzip", {}),
    ("truncated gzip", "application/json", {"Content-Encoding": "gzip"},
     zlib.compress(b'{"m":1}', wbits=31)[:-6], 400, "invalid_gzip", {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("content_type", "headers", "body", "status", "code", "detail"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_hostile_body_is_refused_and_nothing_queued(
    server: LocalServer,
    key: str,
    content_type: str | None,
    headers: dict[str, str],
    body: bytes,
    status: int,
    code: str,
    detail: dict[str, object],
) -> None:
    before = queue_rows(server)
    response = ingest(server, key, body, content_type=content_type, headers=headers)
    assert_error(response, status, code, **detail)
    assert queue_rows(server) == before, "a refused request queued something"
    assert_serving(server, key)
    assert queue_rows(server) == before + 1


def test_oversized_body_refused_before_it_is_read(server: LocalServer, key: str) -> None:
    before = queue_rows(server)
    body = b'{"m":"' + b"x" * (4 * MIB) + b'"}'  # over the 4 MiB limit on the body as sent
    assert_error(ingest(server, key, body), 413, "payload_too_large", limit="body_bytes")
    # Chunked, without a Content-Length: counted while it is read, refused once over.
    chunks = (body[i : i + 256 * KIB] for i in range(0, len(body), 256 * KIB))
    response = httpx.post(
        f"{server.url}/ingest",
        content=chunks,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert_error(response, 413, "payload_too_large", limit="body_bytes")
    # Without a credential too: the size guard runs before anything else, as API Gateway's would.
    assert_error(ingest(server, None, body), 413, "payload_too_large", limit="body_bytes")
    assert queue_rows(server) == before
    assert_serving(server, key)


def _status_kib(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * KIB
    return fields


def _reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux ``clear_refs`` 5); False where that is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def test_gzip_bomb_is_refused_in_bounded_memory(server: LocalServer, key: str, gzip_bomb: bytes) -> None:
    assert server.process is not None
    pid = server.process.pid  # `logpipe serve`: the HTTP server runs in this process
    assert_serving(server, key)  # warm: every code path of an ingest has run once
    before = queue_rows(server)
    reset = _reset_peak(pid)
    baseline = _status_kib(pid)
    start = baseline["VmRSS"] if reset else baseline["VmHWM"]

    for _ in range(3):  # again and again: nothing accumulates either
        response = ingest(server, key, gzip_bomb, headers={"Content-Encoding": "gzip"})
        assert_error(response, 413, "payload_too_large", limit="decoded_bytes")
    after = _status_kib(pid)
    growth = after["VmHWM"] - start
    print(
        f"gzip bomb: {len(gzip_bomb)} bytes on the wire inflating to {BOMB_INFLATED}; server peak RSS "
        f"{start / MIB:.1f} -> {after['VmHWM'] / MIB:.1f} MiB (growth {growth / MIB:.1f} MiB, "
        f"peak reset: {reset})"
    )
    assert growth < RSS_GROWTH_BOUND, f"peak RSS grew by {growth / MIB:.1f} MiB"
    assert queue_rows(server) == before
    assert_serving(server, key)


def test_no_handler_failed(server: LocalServer, key: str) -> None:
    """After the whole battery (this module's last test): no 500, no traceback in the server's log."""
    assert_serving(server, key)
    log = server.log_text()
    assert "Traceback" not in log and "internal_error" not in log, log
