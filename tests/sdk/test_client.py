from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import logpipe
import pytest
import respx
from logpipe import (
    APIError,
    AuthenticationError,
    BadRequestError,
    BatchLimits,
    Client,
    IdempotencyKeyReusedError,
    LogpipeError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    TransportError,
    UnsupportedMediaTypeError,
)

URL = "http://logpipe.test/ingest"


def ok(request: httpx.Request) -> httpx.Response:
    lines = [x for x in gzip.decompress(request.content).split(b"\n") if x.strip()]
    return httpx.Response(
        202, json={"accepted": len(lines), "log_ids": [f"id{i}" for i in range(len(lines))]}
    )


def error(status: int, code: str, **detail: object) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": f"{code}!", **detail}})


@pytest.fixture
def client() -> Client:
    return Client("http://logpipe.test", "lp_key", tenant="acme", retry=RetryPolicy(max_attempts=4))


@respx.mock
def test_send_dict_builds_the_request(client: Client) -> None:
    route = respx.post(URL).mock(side_effect=ok)
    result = client.send({"level": "error", "message": "disk full", "host": "db1"})
    assert result.accepted == 1 and result.log_ids == ["id0"]
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer lp_key"
    assert request.headers["x-tenant-id"] == "acme"
    assert request.headers["content-type"] == "application/x-ndjson"
    assert request.headers["content-encoding"] == "gzip"
    assert len(request.headers["idempotency-key"]) == 32
    assert json.loads(gzip.decompress(request.content)) == {
        "level": "error",
        "message": "disk full",
        "host": "db1",
    }


@respx.mock
def test_send_list_of_mixed_records_uses_one_request_per_kind(client: Client) -> None:
    route = respx.post(URL).mock(side_effect=ok)
    result = client.send([{"a": 1}, "text line", {"b": 2}])
    assert result.accepted == 3
    types = sorted(c.request.headers["content-type"] for c in route.calls)
    assert types == ["application/x-ndjson", "text/plain; charset=utf-8"]


@respx.mock
def test_retries_5xx_and_network_errors_with_the_same_idempotency_key(
    client: Client, no_sleep: list[float]
) -> None:
    route = respx.post(URL).mock(
        side_effect=[error(503, "queue_unavailable"), httpx.ConnectError("refused"), httpx.Response(502), ok]
    )
    assert client.send("hello").accepted == 1
    keys = {c.request.headers["idempotency-key"] for c in route.calls}
    assert route.call_count == 4 and len(keys) == 1
    bodies = {c.request.content for c in route.calls}
    assert len(bodies) == 1  # byte-identical retries: the server's idempotency check sees the same digest
    assert len(no_sleep) == 3 and all(0 <= d <= 10 for d in no_sleep)


@respx.mock
def test_retry_after_is_honoured(client: Client, no_sleep: list[float]) -> None:
    respx.post(URL).mock(
        side_effect=[httpx.Response(429, headers={"retry-after": "3"}, json={"error": {"code": "rate"}}), ok]
    )
    client.send("x")
    assert no_sleep and 3.0 <= no_sleep[0] <= 3.5


@respx.mock
def test_gives_up_after_max_attempts(client: Client, no_sleep: list[float]) -> None:
    route = respx.post(URL).mock(return_value=error(503, "queue_unavailable"))
    with pytest.raises(ServerError) as info:
        client.send("x")
    assert route.call_count == 4 and info.value.status == 503 and info.value.code == "queue_unavailable"
    respx.post(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(TransportError, match="cannot reach"):
        client.send("x")
    respx.post(URL).mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(logpipe.TransportTimeoutError):
        client.send("x")


@pytest.mark.parametrize(
    ("response", "cls", "code"),
    [
        (error(400, "invalid_json", line=3), BadRequestError, "invalid_json"),
        (error(401, "unauthorized"), AuthenticationError, "unauthorized"),
        (error(403, "tenant_mismatch"), PermissionDeniedError, "tenant_mismatch"),
        (httpx.Response(404, text="not found"), NotFoundError, "http_error"),
        (error(405, "method_not_allowed"), BadRequestError, "method_not_allowed"),
        (error(413, "payload_too_large", limit="records"), PayloadTooLargeError, "payload_too_large"),
        (error(415, "unsupported_media_type"), UnsupportedMediaTypeError, "unsupported_media_type"),
        (error(422, "idempotency_key_reused"), IdempotencyKeyReusedError, "idempotency_key_reused"),
        (httpx.Response(403, json={"message": "Forbidden"}), PermissionDeniedError, "http_error"),
    ],
)
@respx.mock
def test_error_mapping(client: Client, response: httpx.Response, cls: type[APIError], code: str) -> None:
    route = respx.post(URL).mock(return_value=response)
    with pytest.raises(cls) as info:
        client.send("x")
    assert route.call_count == 1  # not retried
    assert isinstance(info.value, LogpipeError) and info.value.code == code
    assert info.value.status == response.status_code


@respx.mock
def test_error_detail_and_rate_limit(client: Client, no_sleep: list[float]) -> None:
    respx.post(URL).mock(return_value=error(400, "invalid_json", line=3))
    with pytest.raises(BadRequestError) as info:
        client.send("x")
    assert info.value.detail == {"line": 3} and "line=3" in str(info.value)
    route = respx.post(URL).mock(return_value=httpx.Response(429, headers={"retry-after": "1"}))
    client.retry = RetryPolicy(max_attempts=4, max_throttle_seconds=5)
    with pytest.raises(RateLimitedError) as rl:
        client.send("x")
    assert rl.value.retry_after == 1.0
    # 429s ride on a time budget (about 5 s of waits asked for), then the attempts count as usual
    assert 5 + 3 <= route.call_count <= 6 + 4


@respx.mock
def test_rate_limits_do_not_use_up_attempts(client: Client, no_sleep: list[float]) -> None:
    throttle = [httpx.Response(429, headers={"retry-after": "2"})] * 8
    route = respx.post(URL).mock(side_effect=[*throttle, ok])
    assert client.send("x").accepted == 1  # 8 throttles > max_attempts=4, still delivered
    assert route.call_count == 9 and sum(no_sleep) >= 16


@respx.mock
def test_send_lines_isolates_refused_records(client: Client, no_sleep: list[float]) -> None:
    def judge(request: httpx.Request) -> httpx.Response:
        body = gzip.decompress(request.content)
        if b"BAD" in body:
            return error(400, "invalid_record", line=1)
        return ok(request)

    respx.post(URL).mock(side_effect=judge)
    client.batch_limits = BatchLimits(max_records=50)
    lines = [f"line {i}" if i not in (17, 60) else f"BAD {i}" for i in range(100)]
    result = client.send_lines(lines, max_in_flight=3)
    assert (result.accepted, result.rejected, result.failed) == (98, 2, 0)
    assert result.fatal is None and not result.ok


@respx.mock
def test_send_lines_stops_on_fatal_error(client: Client) -> None:
    route = respx.post(URL).mock(return_value=error(401, "unauthorized"))
    client.batch_limits = BatchLimits(max_records=10)
    result = client.send_lines((f"l{i}" for i in range(1000)), max_in_flight=2)
    assert isinstance(result.fatal, AuthenticationError)
    assert result.accepted == 0 and result.failed > 0
    assert route.call_count <= 4  # halted quickly, not one refused request per batch


@respx.mock
def test_send_lines_counts_every_line(client: Client) -> None:
    seen: list[bytes] = []
    lock = threading.Lock()

    def collect(request: httpx.Request) -> httpx.Response:
        with lock:
            seen.extend(x for x in gzip.decompress(request.content).split(b"\n"))
        return ok(request)

    respx.post(URL).mock(side_effect=collect)
    client.batch_limits = BatchLimits(max_records=333)
    lines = [json.dumps({"n": i}) if i % 2 else f"text {i}" for i in range(5000)] + ["", "   "]
    result = client.send_lines(lines, max_in_flight=4)
    assert result.ok and result.accepted == 5000
    assert sorted(seen) == sorted(line.encode() for line in lines if line.strip())


@respx.mock
def test_send_lines_ships_a_slow_stream_by_age(client: Client) -> None:
    """Lines the reader holds for a chunk still leave by age while it waits for more input."""
    first_sent = threading.Event()

    def record(request: httpx.Request) -> httpx.Response:
        first_sent.set()
        return ok(request)

    def slow_lines() -> Iterator[str]:
        yield from ["a", '{"b": 1}', "c"]
        assert first_sent.wait(5)  # blocked on input until the first lines were sent
        yield "d"

    respx.post(URL).mock(side_effect=record)
    client.batch_limits = BatchLimits(max_age=0.1)
    result = client.send_lines(slow_lines())
    assert result.ok and result.accepted == 4


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ('{"s":"\udc80"}', "surrogates not allowed"),  # json takes it, UTF-8 cannot encode it
        (b"not a str\n", "bytes-like object is required"),
    ],
)
@respx.mock
def test_send_lines_ends_the_input_at_a_line_it_cannot_classify(
    client: Client, bad: object, reason: str
) -> None:
    """Only from a caller's own lines: reading stops there, as on an unreadable input. What was batched
    and closed before it is sent, what was open is not, nothing after it is sent."""
    route = respx.post(URL).mock(side_effect=ok)
    client.batch_limits = BatchLimits(max_records=100)
    lines = [*(f"line {i}" for i in range(250)), bad, *(f"after {i}" for i in range(500))]
    result = client.send_lines(lines)  # type: ignore[arg-type]
    assert result.fatal is not None and "reading input" in str(result.fatal)
    assert reason in str(result.fatal)
    assert (result.accepted, result.rejected, result.failed) == (200, 0, 50)
    assert route.call_count == 2


@respx.mock
def test_send_lines_ends_a_slow_input_at_a_line_it_cannot_classify(client: Client) -> None:
    """The same when the sending loop meets the line (the reader waits for input with it buffered)."""
    route = respx.post(URL).mock(side_effect=ok)

    def slow_lines() -> Iterator[str]:
        yield from ["a", "b", '{"s":"\udc80"}']
        time.sleep(0.5)
        yield from ["after", "more"]

    result = client.send_lines(slow_lines())
    assert result.fatal is not None and "surrogates not allowed" in str(result.fatal)
    assert (result.accepted, result.rejected, result.failed) == (0, 0, 2)
    assert route.call_count == 0


def test_invalid_record_is_a_logpipe_error(client: Client) -> None:
    with pytest.raises(logpipe.InvalidRecordError) as info:
        client.send({"x": float("nan")})
    assert isinstance(info.value, LogpipeError) and isinstance(info.value, ValueError)


def test_missing_api_key_is_a_config_error() -> None:
    with pytest.raises(logpipe.ConfigError, match="API key"):
        Client("http://x")


def test_async_client_mirrors_client(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    async def fast_sleep(_: float) -> None:
        return None

    monkeypatch.setattr("logpipe._async_client.asyncio.sleep", fast_sleep)
    statuses = iter([503])

    def first_fails(request: httpx.Request) -> httpx.Response:
        status = next(statuses, None)
        return httpx.Response(status) if status else ok(request)

    async def main() -> None:
        with respx.mock:
            route = respx.post(URL).mock(side_effect=first_fails)
            async with logpipe.AsyncClient("http://logpipe.test", "lp_key", tenant="acme") as aclient:
                result = await aclient.send({"message": "hi"})
                assert result.accepted == 1 and route.call_count == 2
                assert len({c.request.headers["idempotency-key"] for c in route.calls}) == 1
                lines_result = await aclient.send_lines(["a", "", "b", '{"c": 1}'])
                assert lines_result.ok and lines_result.accepted == 3
            with pytest.raises(logpipe.ClientClosedError):
                await aclient.send("late")

    asyncio.run(main())


def test_async_send_lines_ships_a_slow_stream_by_age() -> None:
    """A batch is closed by age even while the async source is idle."""
    import asyncio

    arrivals: list[float] = []

    def record(request: httpx.Request) -> httpx.Response:
        arrivals.append(time.monotonic())
        return ok(request)

    async def slow_lines() -> AsyncIterator[str]:
        yield "first"
        await asyncio.sleep(0.6)  # idle longer than max_age
        yield "second"

    async def main() -> logpipe.SendResult:
        with respx.mock:
            respx.post(URL).mock(side_effect=record)
            client = logpipe.AsyncClient(
                "http://logpipe.test", "lp_key", batch_limits=BatchLimits(max_age=0.1)
            )
            started = time.monotonic()
            # multiline="none": a joiner would hold "first" HOLD_SECONDS more (tests/sdk/test_multiline.py)
            result = await client.send_lines(slow_lines(), multiline="none")
            await client.aclose()
            assert arrivals[0] - started < 0.5  # "first" left before "second" was read
            return result

    result = asyncio.run(main())
    assert result.ok and result.accepted == 2 and len(arrivals) == 2


def test_async_send_lines_isolates_refused_records_and_rides_out_throttling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The async client shares the sync client's retry and bisection logic: same outcome."""
    import asyncio

    delays: list[float] = []

    async def fast_sleep(delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr("logpipe._async_client.asyncio.sleep", fast_sleep)
    throttles = iter([httpx.Response(429, headers={"retry-after": "2"})] * 8)

    def judge(request: httpx.Request) -> httpx.Response:
        throttled = next(throttles, None)
        if throttled is not None:
            return throttled
        if b"BAD" in gzip.decompress(request.content):
            return error(400, "invalid_record", line=1)
        return ok(request)

    async def main() -> logpipe.SendResult:
        with respx.mock:
            respx.post(URL).mock(side_effect=judge)
            async with logpipe.AsyncClient(
                "http://logpipe.test",
                "lp_key",
                retry=RetryPolicy(max_attempts=4),
                batch_limits=BatchLimits(max_records=50),
            ) as aclient:
                lines = [f"line {i}" if i not in (17, 60) else f"BAD {i}" for i in range(100)]
                return await aclient.send_lines(lines, max_in_flight=1)

    result = asyncio.run(main())
    # 8 throttles > max_attempts=4: 429s ride on the time budget instead of failing the batch
    assert len(delays) == 8 and sum(delays) >= 16
    assert (result.accepted, result.rejected, result.failed) == (98, 2, 0)
    assert result.fatal is None and not result.ok


@respx.mock
def test_507_is_retried_like_503_after_its_retry_after(client: Client, no_sleep: list[float]) -> None:
    """The local stack's disk nearly full (docs/contract.md §3): retried, no sooner than Retry-After."""
    full = httpx.Response(
        507, headers={"retry-after": "4"}, json={"error": {"code": "insufficient_storage", "message": "full"}}
    )
    route = respx.post(URL).mock(side_effect=[full, full, ok])
    assert client.send("x").accepted == 1
    assert route.call_count == 3 and len(no_sleep) == 2 and all(4.0 <= d <= 4.5 for d in no_sleep)
    respx.post(URL).mock(return_value=full)
    with pytest.raises(ServerError) as info:
        client.send("x")
    assert info.value.status == 507 and info.value.retry_after == 4.0
