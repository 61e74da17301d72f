"""``AdminClient``: read records back through ``GET /admin/logs`` (contract.md §3): ``query`` and ``tail``.

With a tenant's read key instead of admin credentials it reads ``GET /logs``: the same parameters and
answers, for the key's own tenant only (``tenant`` may then be None; naming another tenant is a 403
``tenant_mismatch``). It picks that mode when it has a key (``api_key=``, ``LOGPIPE_API_KEY``, a profile),
SigV4 was not asked for, and there is no admin token given as directly as the key: a key passed as an
argument beats an admin token from the environment or a profile, a key from the environment beats one from
a profile (``logpipe serve`` writes its admin token into the ``local`` profile); at the same level the admin
token wins.

How ``tail`` follows without repeating or skipping a record
-----------------------------------------------------------
A log_id is a ULID whose time part is the moment ingest *accepted* the record, but the record becomes
queryable only when a worker has *stored* it. Workers run in parallel (and SQS redelivers a failed message
after its visibility timeout), so a record with a smaller log_id can appear after one with a larger id:
polling with ``after=<last id seen>`` would skip it for ever.

So every poll re-reads a window below the newest id seen (``max_ms``), and an id set remembers what was
printed inside the window:

* every ``poll_interval`` (1 s): ``after = max_ms - short_window`` (10 s) - catches the usual reordering
  between parallel workers (a batch takes well under a second to store) at a small cost per poll;
* every ``sweep_interval`` (30 s): ``after = max_ms - long_window`` - catches records stored late because
  their message failed once and was delivered again. Locally a failed message comes back after a short
  backoff (1, 2, 4 s... capped by the 30 s visibility timeout), so the default is 5 min; on AWS (SigV4)
  a message comes back after the SQS visibility timeout, which Terraform sets to 6 x the worker timeout
  + the batching window (6 x 120 + 5 = 725 s), so the default there is 15 min: one redelivery is
  covered, a message that fails twice (stored > 15 min late) may be missed by tail, never by query;
* ids older than ``max_ms - long_window`` are dropped from the set, and no query ever reaches below that
  bound again, so the set stays bounded and nothing can be printed twice.

The window is measured in the server's clock (ids), never the client's, so clock skew does not matter.
Guarantee: a record is printed exactly once provided it is stored within ``long_window`` of its
acceptance. Records redriven from the DLQ later than that are found by ``query``, not by ``tail``.
Connection errors and 5xx (a server restart) are retried with backoff, keeping this state.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Unpack

import httpx

from ._exceptions import (
    APIError,
    ConfigError,
    LogpipeError,
    TransportError,
    api_error_from_response,
    transport_error,
)
from ._ids import log_id_after_ms, log_id_time_ms
from ._read_api import FilterArgs, Page, Terms, filter_params, json_object, named, page_of
from ._retry import Attempts, RetryPolicy, is_retryable_status

__all__ = ["AdminClient", "Page"]

MAX_PAGE = 1000  # the API's limit per page
HEAD_DEPTH = 100  # records read at the start of `tail -f` (see tail)
LOCAL_LOOKBACK_S = 300.0  # local redelivery backoff is seconds; 5 min leaves a wide margin
AWS_LOOKBACK_S = 900.0  # > the SQS visibility timeout Terraform sets (725 s): one redelivery covered
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
ErrorHook = Callable[[LogpipeError, float], None]
_NO_CREDENTIAL = (
    "no admin token or read key: pass admin_token= or api_key=, set LOGPIPE_ADMIN_TOKEN or LOGPIPE_API_KEY, "
    "or a profile"
)


class AdminClient:
    """Read-only client of the admin API. Bearer admin token locally; SigV4 (``auth="sigv4"``) on AWS; or a
    tenant's read key (``api_key=``), reading that tenant's own logs at ``GET /logs``."""

    def __init__(
        self,
        endpoint: str | None = None,
        admin_token: str | None = None,
        *,
        api_key: str | None = None,
        profile: str | None = None,
        auth: str | None = None,
        region: str | None = None,
        session: Any = None,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout | None = None,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        from ._config import load_settings

        settings = load_settings(
            endpoint=endpoint,
            api_key=api_key,
            admin_token=admin_token,
            profile=profile,
            auth=auth,
            region=region,
        )
        self.endpoint = settings.endpoint
        self._on_aws = ".amazonaws.com" in self.endpoint
        #: True when reading with a tenant's read key (``GET /logs``), False with admin credentials.
        self.tenant_key_mode = bool(settings.api_key) and settings.auth is None and session is None
        if self.tenant_key_mode and settings.admin_token:
            sources = settings.sources
            self.tenant_key_mode = _directness(sources["api_key"]) < _directness(sources["admin_token"])
        mode = settings.auth or ("sigv4" if session is not None or not settings.admin_token else "token")
        self._auth: httpx.Auth | None = None
        self._headers = {"user-agent": "logpipe-python/0.1.0"}
        if self.tenant_key_mode:
            self._headers["authorization"] = f"Bearer {settings.api_key}"
        elif mode == "token":
            if not settings.admin_token:
                raise ConfigError(_NO_CREDENTIAL)
            self._headers["authorization"] = f"Bearer {settings.admin_token}"
        elif self._on_aws or settings.auth == "sigv4" or session is not None:
            from ._sigv4 import SigV4Auth

            self._auth = SigV4Auth(region=settings.region, session=session)
            self._on_aws = True
        else:
            raise ConfigError(_NO_CREDENTIAL)
        self.retry = retry or RetryPolicy()
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout, transport=transport
        )

    @property
    def logs_url(self) -> str:
        path = "/logs" if self.tenant_key_mode else "/admin/logs"
        base = self.endpoint
        if base.endswith(path):
            return base
        for suffix in ("/admin/logs", "/logs", "/ingest"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        return base + path

    # -- one page --------------------------------------------------------------------------------

    def query_page(
        self,
        tenant: str | None,
        *,
        since: str | None = None,
        until: str | None = None,
        level: str | None = None,
        contains: Terms = None,
        not_contains: Terms = None,
        where: Terms = None,
        regex: str | None = None,
        levels: Terms = None,
        after: str | None = None,
        order: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> Page:
        """One page of ``GET /admin/logs``. ``contains``, ``not_contains`` and ``where`` take one value or
        several (all must hold); ``levels`` an exact set (``["warn", "error"]`` or ``"warn,error"``)."""
        params = filter_params(
            since=since,
            until=until,
            level=level,
            levels=levels,
            where=where,
            contains=contains,
            not_contains=not_contains,
            regex=regex,
        )
        params += named(after=after, order=order, limit=None if limit is None else str(limit), cursor=cursor)
        return page_of(self._get(self.logs_url, [*named(tenant=tenant), *params], retry))

    def stats(
        self,
        tenant: str | None,
        *,
        by: str | None = None,
        bucket: str | None = None,
        retry: RetryPolicy | None = None,
        **filters: Unpack[FilterArgs],
    ) -> dict[str, Any]:
        """``GET /admin/stats``: matching records counted per ``bucket`` (``1m``…) of their timestamp, by
        ``level`` or the field ``by``; see docs/contract.md §3 for the answer's shape."""
        params = [*named(tenant=tenant), *filter_params(**filters), *named(by=by, bucket=bucket)]
        return json_object(self._get(self._url("stats"), params, retry))

    def fields(
        self,
        tenant: str | None,
        *,
        sample: int | None = None,
        retry: RetryPolicy | None = None,
        **filters: Unpack[FilterArgs],
    ) -> dict[str, Any]:
        """``GET /admin/fields``: the attribute keys of the newest ``sample`` matching records, with counts
        and their most common values."""
        params = [*named(tenant=tenant), *filter_params(**filters)]
        params += named(sample=None if sample is None else str(sample))
        return json_object(self._get(self._url("fields"), params, retry))

    def _url(self, name: str) -> str:
        """The URL of the read endpoint ``name`` (logs, stats, fields) for this client's credential:
        ``/admin/<name>`` with an admin token or SigV4, ``/<name>`` with a tenant's read key."""
        suffix = "/logs" if self.tenant_key_mode else "/admin/logs"
        return self.logs_url.removesuffix(suffix) + suffix.removesuffix("logs") + name

    def _get(self, url: str, params: list[tuple[str, str]], retry: RetryPolicy | None) -> httpx.Response:
        """A GET answered 200, retried by ``retry`` (429/5xx/network); raises the SDK's errors."""
        attempts = Attempts(retry or self.retry, throttle_budget=False)
        while True:
            try:
                response = self._http.get(url, params=tuple(params), headers=self._headers, auth=self._auth)
            except httpx.HTTPError as exc:
                error: LogpipeError = transport_error(exc, url)
                cause: BaseException | None = exc
            else:
                if response.status_code == 200:
                    return response
                error = api_error_from_response(response.status_code, response.content, response.headers)
                cause = None
            delay = attempts.next_delay(error)
            if delay is None:
                raise error from cause
            time.sleep(delay)

    # -- many pages --------------------------------------------------------------------------------

    def query(
        self,
        tenant: str | None,
        *,
        since: str | None = None,
        until: str | None = None,
        level: str | None = None,
        contains: Terms = None,
        not_contains: Terms = None,
        where: Terms = None,
        regex: str | None = None,
        levels: Terms = None,
        after: str | None = None,
        order: str | None = None,
        limit: int | None = None,
        page_size: int = MAX_PAGE,
        retry: RetryPolicy | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching record (newest first unless ``order="asc"``), following cursors; at most
        ``limit`` records when given."""
        cursor: str | None = None
        remaining = limit
        while True:
            size = page_size if remaining is None else max(1, min(page_size, remaining))
            page = self.query_page(
                tenant,
                since=since,
                until=until,
                level=level,
                contains=contains,
                not_contains=not_contains,
                where=where,
                regex=regex,
                levels=levels,
                after=after,
                order=order,
                limit=size,
                cursor=cursor,
                retry=retry,
            )
            for item in page.items:
                yield item
                if remaining is not None:
                    remaining -= 1
                    if remaining <= 0:
                        return
            if not page.next_cursor or not page.items:
                return
            cursor = page.next_cursor

    # -- tail ----------------------------------------------------------------------------------------

    def tail(
        self,
        tenant: str | None,
        *,
        n: int = 10,
        follow: bool = True,
        since: str | None = None,
        level: str | None = None,
        contains: Terms = None,
        not_contains: Terms = None,
        where: Terms = None,
        regex: str | None = None,
        levels: Terms = None,
        poll_interval: float = 1.0,
        short_window: float = 10.0,
        long_window: float | None = None,
        sweep_interval: float = 30.0,
        stop: threading.Event | None = None,
        on_error: ErrorHook | None = None,
        now_ms: Callable[[], int] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The last ``n`` records (oldest first), then - with ``follow`` - every new one, exactly once.

        See the module docstring for the algorithm and its guarantee. Transport errors, 429 and 5xx while
        following are retried for ever (with backoff) until ``stop`` is set; other errors raise.
        """
        stop = stop or threading.Event()
        clock = now_ms or (lambda: int(time.time() * 1000))
        filters: dict[str, Any] = {
            "since": since,
            "level": level,
            "contains": contains,
            "not_contains": not_contains,
            "where": where,
            "regex": regex,
            "levels": levels,
        }
        if long_window is None:
            long_window = AWS_LOOKBACK_S if self._on_aws else LOCAL_LOOKBACK_S
        short_ms, long_ms = int(short_window * 1000), int(long_window * 1000)
        seen: set[str] = set()
        expiry: list[tuple[int, str]] = []  # (ms, id) heap, to forget ids below the horizon

        def remember(log_id: str) -> int:
            ms = log_id_time_ms(log_id)
            seen.add(log_id)
            heapq.heappush(expiry, (ms, log_id))
            return ms

        def stopped_while_backing_off(exc: LogpipeError, failures: int) -> bool:
            # a restart takes a few seconds: back off from the poll interval up to 10 s
            delay = min(10.0, max(poll_interval, 0.01) * 2 ** min(failures, 8))
            if on_error is not None:
                on_error(exc, delay)
            return stop.wait(delay)

        # The head is read a little deeper than printed (at least 100): a record newer than the
        # head's oldest that shows up in the sweep below was stored after the head was read, so it is
        # new and printed; only below the head's oldest is "stored during start-up" indistinguishable
        # from "already there", and treated as already there.
        head_limit = max(n, HEAD_DEPTH) if follow else max(1, n)
        failures = 0
        while True:
            try:
                if head_limit > MAX_PAGE:
                    head = list(self.query(tenant, order="desc", limit=head_limit, **filters))
                else:
                    head = self.query_page(tenant, order="desc", limit=head_limit, **filters).items
                break
            except (TransportError, APIError) as exc:
                # Not following: say so at once. Following: the server may be restarting; wait for it,
                # as `tail -F` waits for a file to come back.
                if not follow or (isinstance(exc, APIError) and not is_retryable_status(exc.status)):
                    raise
                failures += 1
                if stopped_while_backing_off(exc, failures):
                    return
        max_ms: int | None = None
        first: list[dict[str, Any]] = list(reversed(head[:n])) if n > 0 else []
        for record in head:
            ms = remember(record["log_id"])
            max_ms = ms if max_ms is None else max(max_ms, ms)
        if not follow:
            yield from first
            return
        newer: list[dict[str, Any]] = []
        if head:
            # A full head ends at its oldest record; a short one holds every record there was.
            boundary = head[-1]["log_id"] if len(head) >= head_limit else None
            assert max_ms is not None
            # Everything already in the window when we start is "the past": mark it seen; print what
            # was stored after the head was read.
            for record in self.query(tenant, order="asc", after=log_id_after_ms(max_ms - long_ms), **filters):
                log_id = record["log_id"]
                if log_id in seen:
                    continue
                ms = remember(log_id)
                if boundary is None or log_id > boundary:
                    newer.append(record)
                    max_ms = max(max_ms, ms)
        yield from first
        yield from newer

        start_ms = clock()  # only used until the first record is seen
        last_sweep = time.monotonic()
        failures = 0
        once = RetryPolicy(max_attempts=1)
        while not stop.wait(poll_interval if failures == 0 else 0):
            sweep = time.monotonic() - last_sweep >= sweep_interval
            window = long_ms if sweep else short_ms
            base = max_ms if max_ms is not None else start_ms
            after = log_id_after_ms(base - window)
            try:
                found = list(self.query(tenant, order="asc", after=after, retry=once, **filters))
            except (TransportError, APIError) as exc:
                if isinstance(exc, APIError) and not is_retryable_status(exc.status):
                    raise
                failures += 1
                if stopped_while_backing_off(exc, failures):
                    return
                continue
            failures = 0
            if sweep:
                last_sweep = time.monotonic()
            found.sort(key=lambda r: str(r["log_id"]))
            for record in found:
                log_id = record["log_id"]
                if log_id in seen:
                    continue
                ms = remember(log_id)
                max_ms = ms if max_ms is None else max(max_ms, ms)
                yield record
            if max_ms is not None:
                horizon = max_ms - long_ms
                while expiry and expiry[0][0] < horizon:
                    seen.discard(heapq.heappop(expiry)[1])

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _directness(source: str) -> int:
    """How directly a setting was given (``Settings.sources``): 0 argument, 1 environment, 2 profile."""
    if source == "flag":
        return 0
    return 1 if source.startswith("env:") else 2
