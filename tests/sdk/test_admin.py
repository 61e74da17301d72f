from __future__ import annotations

import random
import threading
from typing import Any

import httpx
import logpipe
import pytest
import respx
from logpipe import AdminClient, AuthenticationError, ConfigError, LogpipeError, RetryPolicy
from logpipe._ids import log_id_after_ms, log_id_time_ms

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LOGS = "http://logpipe.test/admin/logs"


def make_id(ms: int, rnd: int) -> str:
    def enc(value: int, n: int) -> str:
        return "".join(ALPHABET[(value >> (5 * (n - 1 - i))) & 31] for i in range(n))

    return enc(ms, 10) + enc(rnd, 16)


class FakeStore:
    """GET /admin/logs over records that become visible in a scrambled order, as parallel workers store."""

    def __init__(self, records: list[dict[str, Any]], reveal: list[list[str]]) -> None:
        self.by_id = {r["log_id"]: r for r in records}
        self.visible: set[str] = set()
        self.reveal = list(reveal)
        self.requests = 0
        self.fail_on: set[int] = set()
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests += 1
            if self.requests in self.fail_on:
                raise httpx.ConnectError("server restarting")
            if self.reveal and self.requests % 2 == 0:
                self.visible.update(self.reveal.pop(0))
            params = request.url.params
            assert request.headers["authorization"] == "Bearer lpadm_x"
            order = params.get("order", "desc")
            ids = sorted(self.visible, reverse=order == "desc")
            after = params.get("after")
            if after:
                ids = [i for i in ids if i > after]
            cursor = params.get("cursor")
            if cursor:
                ids = [i for i in ids if (i > cursor if order == "asc" else i < cursor)]
            limit = int(params.get("limit", "100"))
            page = ids[:limit]
            more = len(ids) > limit
            return httpx.Response(
                200,
                json={"items": [self.by_id[i] for i in page], "next_cursor": page[-1] if more else None},
            )


def test_log_id_bounds() -> None:
    ms = 1_764_000_000_123
    low = log_id_after_ms(ms)
    assert log_id_time_ms(low) == ms - 1
    assert make_id(ms, 0) > low > make_id(ms - 1, 2**80 - 2)


def test_query_follows_cursors_and_limit() -> None:
    records = [{"log_id": make_id(1_000_000 + i, 1), "message": str(i)} for i in range(250)]
    store = FakeStore(records, [])
    store.visible = set(store.by_id)
    admin = AdminClient("http://logpipe.test", "lpadm_x", transport=httpx.MockTransport(store))
    got = list(admin.query("acme", page_size=100))
    assert [r["message"] for r in got] == [str(i) for i in reversed(range(250))]
    assert store.requests == 3
    assert len(list(admin.query("acme", limit=120, page_size=100))) == 120


@pytest.mark.parametrize(("seed", "sweep"), [(1, True), (2, True), (3, True), (1, False)])
def test_tail_follow_exactly_once_with_out_of_order_storage(seed: int, sweep: bool) -> None:
    """With the sweep disabled (only a short window below the newest id) records are skipped: the test
    sees it, which shows it can fail."""
    rng = random.Random(seed)
    base = 1_764_000_000_000
    records = [
        {"log_id": make_id(base + i * 7, rng.getrandbits(80)), "message": f"m{i}", "level": "info"}
        for i in range(400)
    ]
    ids = [r["log_id"] for r in records]
    # Reveal in small groups, each shuffled, with some records held back for several groups (a slow
    # worker): stored well after records accepted later than them.
    held = set(rng.sample(ids, 40))
    groups: list[list[str]] = []
    late: list[str] = []
    for start in range(0, 400, 20):
        group = [i for i in ids[start : start + 20] if i not in held]
        late.extend(i for i in ids[start : start + 20] if i in held)
        if len(late) > 10:
            group += late[:5]
            late = late[5:]
        rng.shuffle(group)
        groups.append(group)
    groups.append(late)
    store = FakeStore(records, [])
    store.visible.update(groups.pop(0))  # visible before tail starts
    store.reveal = groups
    store.fail_on = {9, 10, 25}  # the server restarts mid-follow
    initial = set(store.visible)
    admin = AdminClient("http://logpipe.test", "lpadm_x", transport=httpx.MockTransport(store))
    stop = threading.Event()
    errors: list[LogpipeError] = []
    out: list[str] = []
    expected = len(ids) - len(initial) + 5

    def run() -> None:
        for record in admin.tail(
            "acme",
            n=5,
            poll_interval=0.001,
            short_window=0.02,  # 20 ms of ids: smaller than the held-back records' lateness
            long_window=10.0,
            sweep_interval=0.02 if sweep else 1000.0,
            stop=stop,
            on_error=lambda exc, delay: errors.append(exc),
        ):
            out.append(record["log_id"])
            if len(out) >= expected:
                stop.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30 if sweep else 1)
    stop.set()
    thread.join(5)
    if not sweep:
        assert set(out[5:]) < set(ids) - initial, "a plain after=<newest> follow should skip late records"
        return
    assert not thread.is_alive()
    assert len(out) == len(set(out)), "a record was printed twice"
    assert out[:5] == sorted(initial)[-5:]
    assert set(out[5:]) == set(ids) - initial, "a record was skipped"
    assert errors and all("restarting" in str(e) for e in errors)


def test_tail_without_follow_prints_last_n_oldest_first() -> None:
    records = [{"log_id": make_id(2_000_000 + i, 0), "message": str(i)} for i in range(30)]
    store = FakeStore(records, [])
    store.visible = set(store.by_id)
    admin = AdminClient("http://logpipe.test", "lpadm_x", transport=httpx.MockTransport(store))
    got = [r["message"] for r in admin.tail("acme", n=3, follow=False)]
    assert got == ["27", "28", "29"]


@respx.mock
def test_admin_errors_are_typed() -> None:
    respx.get(LOGS).mock(
        return_value=httpx.Response(401, json={"error": {"code": "unauthorized", "message": "no"}})
    )
    admin = AdminClient("http://logpipe.test", "lpadm_x", retry=RetryPolicy(max_attempts=1))
    with pytest.raises(AuthenticationError):
        list(admin.query("acme"))
    with pytest.raises(ConfigError):
        AdminClient("http://127.0.0.1:1")  # no token, not AWS


def test_sigv4_signs_for_execute_api() -> None:
    from botocore.credentials import Credentials

    class Session:
        def get_credentials(self) -> Credentials:
            return Credentials("AKIDEXAMPLE", "secret", "token123")

        def get_config_variable(self, name: str) -> None:
            return None

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    url = "https://abc123.execute-api.eu-west-1.amazonaws.com"
    admin = AdminClient(url, session=Session(), transport=httpx.MockTransport(handler))
    assert list(admin.query("acme", level="warn")) == []
    auth = seen[0].headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in auth
    assert seen[0].headers["x-amz-security-token"] == "token123"
    assert seen[0].url.path == "/admin/logs"


def test_tail_follow_waits_for_a_server_that_is_down_at_start() -> None:
    records = [{"log_id": make_id(3_000_000 + i, 0), "message": str(i)} for i in range(3)]
    store = FakeStore(records, [[r["log_id"] for r in records]])
    store.fail_on = {1, 2}  # the first two requests find the server down
    transport = httpx.MockTransport(store)
    admin = AdminClient(
        "http://logpipe.test", "lpadm_x", transport=transport, retry=RetryPolicy(max_attempts=1)
    )
    stop = threading.Event()
    threading.Timer(10, stop.set).start()  # bounds the test if it fails
    errors: list[LogpipeError] = []
    got: list[str] = []
    for record in admin.tail(
        "acme",
        n=0,
        poll_interval=0.001,
        stop=stop,
        on_error=lambda e, d: errors.append(e),
        now_ms=lambda: 3_000_000,  # the records' ids are from this (fake) moment
    ):
        got.append(record["message"])
        if len(got) == 3:
            stop.set()
    stop.set()
    assert got == ["0", "1", "2"] and len(errors) == 2
    store.fail_on = {store.requests + 1}
    with pytest.raises(logpipe.TransportError):
        list(admin.tail("acme", follow=False))


def test_tail_prints_a_record_stored_during_start_up() -> None:
    """Stored between tail's first two requests, with an id below the newest: still printed, once."""
    records = [{"log_id": make_id(4_000_000 + i, 0), "message": str(i)} for i in range(150)]
    late = records[140]["log_id"]
    store = FakeStore(records, [[late]])  # revealed with the second request (the start-up sweep)
    store.visible = {r["log_id"] for r in records} - {late}
    admin = AdminClient("http://logpipe.test", "lpadm_x", transport=httpx.MockTransport(store))
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()  # many polls and sweeps: nothing more may come
    got = [
        r["message"] for r in admin.tail("acme", n=3, poll_interval=0.001, sweep_interval=0.001, stop=stop)
    ]
    assert store.requests > 10
    assert got == ["147", "148", "149", "140"]


@respx.mock
def test_query_page_retries_transport_errors_and_5xx_but_429s_use_up_attempts(
    no_sleep: list[float],
) -> None:
    answers: list[httpx.Response | Exception] = [
        httpx.ConnectError("refused"),
        httpx.Response(503),
        httpx.Response(200, json={"items": [{"log_id": "a"}], "next_cursor": None}),
    ]
    route = respx.get(LOGS).mock(side_effect=answers)
    admin = AdminClient("http://logpipe.test", "lpadm_x", retry=RetryPolicy(max_attempts=3))
    assert admin.query_page("acme").items == [{"log_id": "a"}]
    assert route.call_count == 3 and len(no_sleep) == 2
    # no throttle budget here (tail polls with max_attempts=1 and backs off by itself)
    route.mock(side_effect=None, return_value=httpx.Response(429, headers={"retry-after": "1"}))
    with pytest.raises(logpipe.RateLimitedError):
        admin.query_page("acme")
    assert route.call_count == 3 + 3 and len(no_sleep) == 2 + 2
    route.mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(logpipe.TransportError, match="cannot reach"):
        admin.query_page("acme", retry=RetryPolicy(max_attempts=1))
