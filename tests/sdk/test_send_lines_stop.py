"""``send_lines`` with ``stop`` (logpipe send's first Ctrl-C, issue 15): every line taken from the input is
sent — accepted, rejected or counted failed — none is dropped; a blocked input does not hold it."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator

import httpx
import respx
from logpipe import Client, RetryPolicy

URL = "http://logpipe.test/ingest"


def _accept_all(sent: list[bytes]) -> respx.Route:
    def ok(request: httpx.Request) -> httpx.Response:
        lines = [x for x in gzip.decompress(request.content).split(b"\n") if x.strip()]
        sent.extend(lines)
        return httpx.Response(
            202, json={"accepted": len(lines), "log_ids": [f"i{i}" for i in range(len(lines))]}
        )

    return respx.post(URL).mock(side_effect=ok)


def _client() -> Client:
    return Client("http://logpipe.test", "lp_key", tenant="acme", retry=RetryPolicy(max_attempts=1))


@respx.mock
def test_stop_mid_stream_sends_every_line_the_input_gave() -> None:
    sent: list[bytes] = []
    _accept_all(sent)
    stop = threading.Event()
    given = [0]

    def lines() -> Iterator[str]:
        for i in range(1_000_000):
            if i == 150_000:
                stop.set()  # as the signal handler would, while the reader is mid-chunk
            given[0] += 1
            yield f"line {i}\n"

    with _client() as client:
        result = client.send_lines(lines(), stop=stop)
    assert result.interrupted
    assert 150_000 < given[0] < 1_000_000  # reading stopped soon after
    assert result.accepted == given[0] and result.failed == 0 and result.rejected == 0
    assert sorted(int(x.split()[1]) for x in sent) == list(range(given[0]))


@respx.mock
def test_stop_with_a_blocked_input_sends_what_was_read_without_waiting_for_more() -> None:
    sent: list[bytes] = []
    _accept_all(sent)
    stop = threading.Event()
    release = threading.Event()

    def lines() -> Iterator[str]:
        yield from (f"line {i}\n" for i in range(10))
        release.wait(30)  # an idle stdin
        yield "never read\n"

    timer = threading.Timer(0.3, stop.set)
    timer.start()
    started = time.monotonic()
    try:
        with _client() as client:
            result = client.send_lines(lines(), stop=stop)
    finally:
        release.set()
        timer.cancel()
    assert time.monotonic() - started < 5
    assert result.interrupted and result.accepted == 10 and result.failed == 0
    assert sorted(sent) == sorted(f"line {i}".encode() for i in range(10))
