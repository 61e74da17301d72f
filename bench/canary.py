#!/usr/bin/env python3
"""The canary: numbered records at a steady rate, read back, counted — nothing lost, nothing twice.

As Loki's canary does, it writes records that carry their own sequence number and reads them back through
the read path, so loss and duplication are measured from outside, end to end::

    bench/canary.py --minutes 10                      # starts its own `logpipe serve` in a temp dir
    bench/canary.py --seconds 30 --endpoint http://127.0.0.1:8080 --tenant canary   # any deployment
    bench/canary.py --endpoint "$INGEST_URL" --admin-endpoint "$ADMIN_URL" --auth sigv4   # on AWS

What it does and counts:

- **send**: every ``batch / rate`` seconds one request of ``batch`` records, through the SDK's ``Client``
  (its retries, ``Retry-After`` and ``Idempotency-Key``), at most ``max_in_flight`` at once (while the
  endpoint is down the rate drops rather than piling up a backlog). Each record is
  ``{"message": "canary <run> seq=<n>", "canary_run": <run>, "canary_seq": <n>}``; the run id keeps runs
  apart. ``sent`` counts records handed to a request, ``accepted`` those whose request got a 202,
  ``failed`` those whose request failed for good (not accepted: not counted as missing).
- **latency** (202 → queryable): a poller reads the admin path every ``poll_interval`` (0.25 s) from the
  oldest accepted record not yet seen (but never more than ``lookback_s`` behind the newest), and notes
  when each record is first seen. Every accepted record is measured (no sampling); the figure is an upper
  bound with the poll's resolution (``poll_interval`` + the query's own time), and 0 when the record was
  already stored before its 202 reached the client.
- **verify**: after sending, it waits (at most ``drain_timeout_s``) until every accepted record has been
  seen, then reads the whole run back, page by page through the cursors, and counts ``stored`` (distinct
  sequence numbers found), ``missing`` (accepted, not stored), ``duplicated`` (a sequence number stored
  under more than one log_id, or a log_id returned twice across pages), ``stored_unacknowledged`` (stored,
  though its request got no 202 — a response lost in a crash: not an error, which is what
  ``Idempotency-Key`` retries are for), ``unexpected`` (stored but never sent) and ``id_mismatch``
  (stored, but not under the log_id its 202 named).

``run_canary`` is the library entry (the fault tests in ``tests/faults`` use it); ``main`` the command line.
Exit code 0 when the run is clean (``missing = duplicated = unexpected = id_mismatch = 0``), else 1.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import heapq
import json
import math
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from logpipe import AdminClient, Client, LogpipeError, RetryPolicy

DEFAULT_TENANT = "canary"
DEFAULT_RATE = 50.0  # records per second
DEFAULT_BATCH = 5  # records per request
DEFAULT_MAX_IN_FLIGHT = 4
DEFAULT_POLL_INTERVAL_S = 0.25
DEFAULT_DRAIN_TIMEOUT_S = 60.0
DEFAULT_LOOKBACK_S = 120.0  # the poller never reads further back than this behind the newest record
FINAL_READ_MARGIN_MS = 300_000  # the read-back starts this long before the run (clock skew, slow 202s)
PAGE = 1000  # the admin API's largest page
# Retries for the canary's requests: more patient than the SDK's default, so a restart of the endpoint
# (a few seconds) is ridden out; every retry keeps the request's Idempotency-Key.
CANARY_RETRY = RetryPolicy(max_attempts=12, base_delay=0.2, max_delay=2.0, max_throttle_seconds=120.0)

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}


def log_id_ms(log_id: str) -> int:
    """The acceptance time (epoch ms) in a log_id's first 10 characters (a ULID)."""
    value = 0
    for ch in log_id[:10].upper():
        value = value * 32 + _VALUE[ch]
    return value


def after_for_ms(ms: int) -> str:
    """The greatest log_id of millisecond ``ms - 1``: ``after=`` it includes every id of ``ms`` onwards."""
    ms = max(0, ms - 1)
    chars = []
    for _ in range(10):
        chars.append(_ALPHABET[ms & 31])
        ms >>= 5
    return "".join(reversed(chars)) + "Z" * 16


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


@dataclass
class CanaryReport:
    run_id: str
    endpoint: str
    tenant: str
    rate: float
    duration_s: float  # of the sending phase, as it happened
    sent: int = 0
    accepted: int = 0
    failed: int = 0
    stored: int = 0
    missing: int = 0
    duplicated: int = 0
    stored_unacknowledged: int = 0
    unexpected: int = 0
    id_mismatch: int = 0
    requests: int = 0  # HTTP attempts, retries included
    statuses: dict[str, int] = field(default_factory=dict)  # HTTP status → count
    connect_errors: int = 0  # attempts that never reached the server
    lost_responses: int = 0  # attempts sent whose answer never came (reset, timeout): maybe committed
    latency_p50_ms: float = math.nan
    latency_p99_ms: float = math.nan
    latency_max_ms: float = math.nan
    latency_measured: int = 0
    drain_s: float = math.nan  # from the end of sending until every accepted record was queryable
    missing_seqs: list[int] = field(default_factory=list)  # the first few, for a post-mortem
    duplicated_seqs: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the first few request failures

    @property
    def ok(self) -> bool:
        """Nothing accepted was lost or doubled, and something was accepted at all."""
        return (
            self.accepted > 0
            and self.missing == 0
            and self.duplicated == 0
            and self.unexpected == 0
            and self.id_mismatch == 0
        )

    @property
    def throttled(self) -> int:
        return self.statuses.get("429", 0)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in data.items()}

    def summary(self) -> str:
        def ms(v: float) -> str:
            return "n/a" if math.isnan(v) else f"{v:.0f} ms"

        return (
            f"canary {self.run_id} {'OK' if self.ok else 'FAILED'}: sent={self.sent} accepted={self.accepted}"
            f" failed={self.failed} stored={self.stored} missing={self.missing}"
            f" duplicated={self.duplicated} stored_unacknowledged={self.stored_unacknowledged}"
            f" unexpected={self.unexpected} id_mismatch={self.id_mismatch}"
            f" | 202->queryable p50={ms(self.latency_p50_ms)} p99={ms(self.latency_p99_ms)}"
            f" max={ms(self.latency_max_ms)} (n={self.latency_measured}) drain={self.drain_s:.1f}s"
            f" | requests={self.requests} statuses={dict(sorted(self.statuses.items()))}"
            f" connect_errors={self.connect_errors} lost_responses={self.lost_responses}"
        )


class CountingTransport(httpx.BaseTransport):
    """Wraps the SDK's transport to count what happened to every attempt (retries included)."""

    def __init__(self, inner: httpx.BaseTransport | None = None) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._lock = threading.Lock()
        self.requests = 0
        self.statuses: Counter[int] = Counter()
        self.connect_errors = 0
        self.lost_responses = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests += 1
        try:
            response = self._inner.handle_request(request)
        except httpx.ConnectError:
            with self._lock:
                self.connect_errors += 1
            raise
        except httpx.TransportError:
            # Sent, at least in part, and no answer: the server may have committed it (so may store it).
            with self._lock:
                self.lost_responses += 1
            raise
        with self._lock:
            self.statuses[response.status_code] += 1
        return response

    def close(self) -> None:
        self._inner.close()


@dataclass
class _State:
    """What the sender and the poller share (under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    next_seq: int = 0
    accepted_at: dict[int, float] = field(default_factory=dict)  # seq → monotonic time of its 202
    log_id: dict[int, str] = field(default_factory=dict)  # seq → the log_id its 202 named
    failed: set[int] = field(default_factory=set)
    first_seen: dict[int, float] = field(default_factory=dict)  # seq → monotonic time first queryable
    unseen: list[tuple[str, int]] = field(default_factory=list)  # heap of accepted (log_id, seq)
    newest: str = ""  # the greatest log_id accepted so far
    draining: bool = False  # sending is over: the poller reads from the oldest unseen, however old
    errors: list[str] = field(default_factory=list)

    def oldest_unseen(self) -> str | None:
        while self.unseen and self.unseen[0][1] in self.first_seen:
            heapq.heappop(self.unseen)
        return self.unseen[0][0] if self.unseen else None

    def all_seen(self) -> bool:
        return self.oldest_unseen() is None


def _seq_of(record: dict[str, Any], run_id: str) -> int | None:
    attrs = record.get("attributes")
    if not isinstance(attrs, dict) or attrs.get("canary_run") != run_id:
        return None
    seq = attrs.get("canary_seq")
    return seq if isinstance(seq, int) else None


def run_canary(
    endpoint: str | None,
    api_key: str | None,
    admin_token: str | None,
    tenant: str = DEFAULT_TENANT,
    rate: float = DEFAULT_RATE,
    duration_s: float = 10.0,
    *,
    batch: int = DEFAULT_BATCH,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    admin_endpoint: str | None = None,
    auth: str | None = None,
    region: str | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL_S,
    drain_timeout_s: float = DEFAULT_DRAIN_TIMEOUT_S,
    lookback_s: float = DEFAULT_LOOKBACK_S,
    retry: RetryPolicy | None = None,
    run_id: str | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[str], None] | None = None,
    progress_every_s: float = 10.0,
    transport: httpx.BaseTransport | None = None,
    admin_transport: httpx.BaseTransport | None = None,
) -> CanaryReport:
    """Send numbered records for ``duration_s`` at ``rate`` records/s, read them back, report.

    ``endpoint``/``api_key``/``admin_token`` may be None to take them as the SDK resolves settings
    (flag → env → profile). ``stop`` ends the sending phase early (the read-back still runs).
    ``transport``/``admin_transport`` replace the HTTP transports (the canary's own tests use fakes).
    """
    if rate <= 0 or batch < 1 or max_in_flight < 1:
        raise ValueError("rate must be > 0, batch and max_in_flight >= 1")
    run_id = run_id or "c" + uuid.uuid4().hex[:12]
    stop = stop or threading.Event()
    counting = CountingTransport(transport)
    client = Client(endpoint, api_key, tenant, transport=counting, retry=retry or CANARY_RETRY)
    admin = AdminClient(
        admin_endpoint or client.endpoint, admin_token, auth=auth, region=region, transport=admin_transport
    )
    state = _State()
    report = CanaryReport(run_id=run_id, endpoint=client.endpoint, tenant=tenant, rate=rate, duration_s=0.0)
    start_wall_ms = int(time.time() * 1000)

    def send(seqs: range) -> None:
        records = [
            {"message": f"canary {run_id} seq={s}", "level": "info", "canary_run": run_id, "canary_seq": s}
            for s in seqs
        ]
        try:
            result = client.send(records)
            if len(result.log_ids) != len(records):
                raise LogpipeError(f"202 named {len(result.log_ids)} log_ids for {len(records)} records")
        except Exception as exc:  # LogpipeError after the retries, or a bug: never lost in the pool
            with state.lock:
                state.failed.update(seqs)
                if len(state.errors) < 20:
                    state.errors.append(f"{type(exc).__name__}: {exc}")
            return
        now = time.monotonic()
        with state.lock:
            for s, log_id in zip(seqs, result.log_ids, strict=True):
                state.accepted_at[s] = now
                state.log_id[s] = log_id
                state.newest = max(state.newest, log_id)
                heapq.heappush(state.unseen, (log_id, s))

    poll_stop = threading.Event()

    def poll_once() -> None:
        with state.lock:
            oldest = state.oldest_unseen()
            if oldest is None:  # every accepted record has been seen: nothing to measure
                return
            low_ms = log_id_ms(oldest)
            if not state.draining:  # bound the cost while sending; records older are measured later
                low_ms = max(low_ms, log_id_ms(state.newest) - int(lookback_s * 1000))
        cursor: str | None = None
        for _ in range(10_000):  # bounded; lookback_s bounds the window in practice
            page = admin.query_page(
                tenant, contains=run_id, order="asc", after=after_for_ms(low_ms), limit=PAGE, cursor=cursor
            )
            seen_at = time.monotonic()
            with state.lock:
                for item in page.items:
                    seq = _seq_of(item, run_id)
                    if seq is not None:
                        state.first_seen.setdefault(seq, seen_at)
            cursor = page.next_cursor
            if not cursor or not page.items:
                return

    def poller() -> None:
        while not poll_stop.wait(poll_interval):
            try:
                poll_once()
            except Exception as exc:  # the endpoint restarting (or a bad page): keep polling
                with state.lock:
                    if len(state.errors) < 20:
                        state.errors.append(f"poll: {type(exc).__name__}: {exc}")

    poll_thread = threading.Thread(target=poller, name="canary-poller", daemon=True)
    poll_thread.start()
    pool = concurrent.futures.ThreadPoolExecutor(max_in_flight, thread_name_prefix="canary-send")
    slots = threading.Semaphore(max_in_flight)
    interval = batch / rate
    t0 = time.monotonic()
    next_at = t0
    last_progress = t0
    try:
        # -- send at a steady rate ------------------------------------------------------------------
        while not stop.is_set():
            now = time.monotonic()
            if now - t0 >= duration_s:
                break
            if now < next_at:
                stop.wait(min(next_at - now, 0.5))
                continue
            # Behind (the endpoint was down and every slot busy): go on from now, do not burst.
            next_at = max(next_at + interval, now - interval)
            if not slots.acquire(timeout=0.5):
                continue
            with state.lock:
                seqs = range(state.next_seq, state.next_seq + batch)
                state.next_seq += batch
            future = pool.submit(send, seqs)
            future.add_done_callback(lambda _f: slots.release())
            if on_progress is not None and now - last_progress >= progress_every_s:
                last_progress = now
                with state.lock:
                    on_progress(
                        f"{now - t0:6.0f}s sent={state.next_seq} accepted={len(state.accepted_at)}"
                        f" failed={len(state.failed)} seen={len(state.first_seen)}"
                        f" 429s={counting.statuses.get(429, 0)}"
                    )
        pool.shutdown(wait=True)
        sent_done = time.monotonic()
        report.duration_s = round(sent_done - t0, 3)

        # -- wait until every accepted record is queryable ---------------------------------------------
        with state.lock:
            state.draining = True
        deadline = sent_done + drain_timeout_s
        while time.monotonic() < deadline:
            with state.lock:
                if state.all_seen():
                    break
            time.sleep(0.05)
        poll_stop.set()
        poll_thread.join(timeout=60)
        with state.lock:
            if state.all_seen():
                report.drain_s = round(max(state.first_seen.values(), default=sent_done) - sent_done, 3)
                report.drain_s = max(0.0, report.drain_s)

        # -- read the whole run back, page by page -----------------------------------------------------
        _verify(admin, state, report, tenant, run_id, start_wall_ms)
    finally:
        poll_stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        client.close()
        admin.close()

    report.requests = counting.requests
    report.statuses = {str(k): v for k, v in sorted(counting.statuses.items())}
    report.connect_errors = counting.connect_errors
    report.lost_responses = counting.lost_responses
    report.errors = list(state.errors)
    return report


def _verify(
    admin: AdminClient, state: _State, report: CanaryReport, tenant: str, run_id: str, start_wall_ms: int
) -> None:
    with state.lock:
        accepted = dict(state.log_id)
        accepted_at = dict(state.accepted_at)
        first_seen = dict(state.first_seen)
        sent = state.next_seq
        report.sent = sent
        report.accepted = len(accepted)
        report.failed = len(state.failed)
    low_ms = min([start_wall_ms, *(log_id_ms(i) for i in accepted.values())]) - FINAL_READ_MARGIN_MS
    ids_by_seq: dict[int, set[str]] = {}
    times_returned: Counter[str] = Counter()
    cursor: str | None = None
    for _ in range(100_000):
        page = admin.query_page(
            tenant, contains=run_id, order="asc", after=after_for_ms(low_ms), limit=PAGE, cursor=cursor
        )
        for item in page.items:
            seq = _seq_of(item, run_id)
            if seq is None:
                continue
            log_id = str(item.get("log_id"))
            times_returned[log_id] += 1
            ids_by_seq.setdefault(seq, set()).add(log_id)
        cursor = page.next_cursor
        if not cursor or not page.items:
            break
    doubled = {s for s, ids in ids_by_seq.items() if len(ids) > 1}
    repeated = [i for i, n in times_returned.items() if n > 1]
    missing = sorted(s for s in accepted if s not in ids_by_seq)
    report.stored = len(ids_by_seq)
    report.missing = len(missing)
    report.missing_seqs = missing[:20]
    report.duplicated = len(doubled) + len(repeated)
    report.duplicated_seqs = sorted(doubled)[:20]
    report.stored_unacknowledged = sum(1 for s in ids_by_seq if s not in accepted and s < sent)
    report.unexpected = sum(1 for s in ids_by_seq if s >= sent or s < 0)
    report.id_mismatch = sum(1 for s, i in accepted.items() if s in ids_by_seq and i not in ids_by_seq[s])
    latencies = [
        max(0.0, (first_seen[s] - accepted_at[s]) * 1000)
        for s in accepted
        if s in first_seen and s in ids_by_seq
    ]
    report.latency_measured = len(latencies)
    report.latency_p50_ms = round(percentile(latencies, 50), 1)
    report.latency_p99_ms = round(percentile(latencies, 99), 1)
    report.latency_max_ms = round(max(latencies), 1) if latencies else math.nan


# -- command line ----------------------------------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="canary.py",
        description="Send numbered records, read them back, report loss, duplicates and 202->queryable time.",
    )
    p.add_argument("--endpoint", help="ingest endpoint; default: start a `logpipe serve` of our own")
    p.add_argument("--admin-endpoint", help="admin endpoint when it differs (AWS admin_url)")
    p.add_argument("--api-key", help="tenant key (default: LOGPIPE_API_KEY / profile)")
    p.add_argument("--admin-token", help="admin token (default: LOGPIPE_ADMIN_TOKEN / profile)")
    p.add_argument("--auth", choices=["token", "sigv4"], help="admin auth (sigv4 on AWS)")
    p.add_argument("--region", help="AWS region for SigV4")
    p.add_argument("--tenant", default=DEFAULT_TENANT)
    p.add_argument("--rate", type=float, default=DEFAULT_RATE, help="records per second")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="records per request")
    p.add_argument("--max-in-flight", type=int, default=DEFAULT_MAX_IN_FLIGHT)
    length = p.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float)
    length.add_argument("--seconds", type=float)
    p.add_argument("--drain-timeout", type=float, default=DEFAULT_DRAIN_TIMEOUT_S)
    p.add_argument("--workers", type=int, default=2, help="workers of the serve we start (no --endpoint)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    duration = 60.0 * args.minutes if args.minutes is not None else (args.seconds or 30.0)
    progress = None if args.quiet else (lambda line: print(f"canary: {line}", file=sys.stderr, flush=True))
    kwargs: dict[str, Any] = {
        "tenant": args.tenant,
        "rate": args.rate,
        "duration_s": duration,
        "batch": args.batch,
        "max_in_flight": args.max_in_flight,
        "drain_timeout_s": args.drain_timeout,
        "on_progress": progress,
    }
    try:
        if args.endpoint or os.environ.get("LOGPIPE_ENDPOINT"):
            report = run_canary(
                args.endpoint,
                args.api_key,
                args.admin_token,
                admin_endpoint=args.admin_endpoint,
                auth=args.auth,
                region=args.region,
                **kwargs,
            )
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from _common import Stack  # a `logpipe serve` of our own in a temporary data dir

            with Stack(workers=args.workers) as stack:
                key = stack.create_tenant(args.tenant)
                if progress is not None:
                    progress(f"started logpipe serve at {stack.url} ({args.workers} workers)")
                report = run_canary(stack.url, key, stack.admin_token, **kwargs)
    except (LogpipeError, OSError, RuntimeError) as exc:
        print(f"canary: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
