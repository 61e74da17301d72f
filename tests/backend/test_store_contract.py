"""The ``ports.Store`` contract, one suite run against both stores: the local SQLite store (a row per record)
and the DynamoDB store on moto (records in compressed chunks whose key ranges overlap, issue 12).

What both must do alike: upserts are idempotent; both orders; paging with the cursor never skips or
repeats a record, whatever the page size, the interleaving of runs and the filters; ``after``; every
filter; one tenant never sees another's records. The DynamoDB store is also run with a tiny read budget
(one Query call of two chunks per page) and a short chunk span, so that pages end at boundary cursors
inside chunks and runs are cut by the span rule.
"""

from __future__ import annotations

import json
import random
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logpipe_backend.adapters.aws.dynamodb import DynamoStore
from logpipe_backend.adapters.sqlite.store import SqliteStore
from logpipe_backend.core.filters import RecordFilter
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.core.query import LogQuery, matches
from logpipe_backend.core.record import LEVELS, Record
from logpipe_backend.core.timefmt import format_ts
from logpipe_backend.ports import Store
from moto import mock_aws

T0 = 1_795_000_000_000
STORES = ["sqlite", "dynamo", "dynamo-tiny-budget"]


@pytest.fixture(autouse=True)
def _fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def _logs_table() -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="logs",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "tenant_id", "KeyType": "HASH"},
            {"AttributeName": "log_id", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "tenant_id", "AttributeType": "S"},
            {"AttributeName": "log_id", "AttributeType": "S"},
        ],
    )
    return client


@contextmanager
def open_store(kind: str) -> Iterator[Store]:
    """A fresh, empty store of ``kind`` (usable inside a hypothesis example: no pytest fixture)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            store = SqliteStore(Path(tmp) / "logs.db")
            try:
                yield store
            finally:
                store.close()
        return
    with mock_aws():
        client = _logs_table()
        if kind == "dynamo":
            yield DynamoStore(client, "logs")
        else:
            yield DynamoStore(client, "logs", max_query_pages=1, chunks_per_call=2, span_ms=3)


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    with open_store(request.param) as made:
        yield made


def rec(tenant: str, log_id: str, n: int, *, ms: int = 0) -> Record:
    return {
        "tenant_id": tenant,
        "log_id": log_id,
        "timestamp": format_ts(T0 + ms + n),
        "received_at": format_ts(T0 + ms),
        "level": LEVELS[n % len(LEVELS)],
        "message": f"record {n} {'Disk FULL' if n % 3 == 0 else 'fine'} ✓",
        "attributes": {"n": n, "nested": {"list": [1, "two", None]}},
        "source": "json" if n % 2 else "text",
        "redactions": 0,
    }


def run(tenant: str, count: int, ms: int, start: int = 0) -> list[Record]:
    """One request's records: ids of one millisecond, counting up from a random base."""
    return [rec(tenant, i, start + n, ms=ms) for n, i in enumerate(new_log_ids(count, T0 + ms))]


def read_all(store: Store, query: LogQuery, max_pages: int = 500) -> tuple[list[Record], int]:
    items: list[Record] = []
    for pages in range(1, max_pages + 1):
        page = store.query(query)
        assert len(page.items) <= query.limit
        items += page.items
        if page.last_log_id is None:
            return items, pages
        query = replace(query, start_after=page.last_log_id)
    raise AssertionError("paging did not end")


def expected(records: list[Record], query: LogQuery) -> list[Record]:
    unique = {r["log_id"]: r for r in records if r["tenant_id"] == query.tenant_id}
    kept = [
        r for r in unique.values() if matches(query, r) and (query.after is None or r["log_id"] > query.after)
    ]
    return sorted(kept, key=lambda r: r["log_id"], reverse=query.order == "desc")


# --- examples ----------------------------------------------------------------------------------------------


def test_upserts_are_idempotent(store: Store) -> None:
    records = run("acme", 30, 0)
    store.put_records(records)
    store.put_records(records)  # a redelivered message
    store.put_records(records[10:])  # a remainder re-queued as a message of its own, then delivered
    store.put_records(records)  # and the original redelivered once more
    items, _ = read_all(store, LogQuery(tenant_id="acme", order="asc", limit=7))
    assert items == records


def test_the_last_copy_of_a_record_wins(store: Store) -> None:
    (first,) = run("acme", 1, 0)
    store.put_records([first, {**first, "message": "second"}])
    assert [r["message"] for r in store.query(LogQuery(tenant_id="acme")).items] == ["second"]


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_both_orders_page_through_every_record_once(store: Store, order: str) -> None:
    records = run("acme", 25, 0) + run("acme", 25, 0) + run("acme", 10, 2_000)
    for part in (records[:25], records[25:50], records[50:]):
        store.put_records(part)
    query = LogQuery(tenant_id="acme", order=order, limit=6)
    items, _ = read_all(store, query)
    assert items == expected(records, query)


def test_after_returns_only_later_records(store: Store) -> None:
    records = run("acme", 20, 0) + run("acme", 20, 0)
    store.put_records(records[:20])
    store.put_records(records[20:])
    ordered = sorted(records, key=lambda r: r["log_id"])
    query = LogQuery(tenant_id="acme", order="asc", after=ordered[13]["log_id"], limit=1000)
    items, _ = read_all(store, query)
    assert items == ordered[14:]


@pytest.mark.parametrize(
    "filters",
    [
        {"min_level": "warn"},
        {"filter": RecordFilter(contains=("disk full",))},
        {"since": format_ts(T0 + 10), "until": format_ts(T0 + 20)},
        {"min_level": "warn", "filter": RecordFilter(contains=("FULL",)), "since": format_ts(T0 + 4)},
    ],
)
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_filter(store: Store, filters: dict[str, Any], order: str) -> None:
    records = run("acme", 40, 0)
    store.put_records(records)
    query = LogQuery(tenant_id="acme", order=order, limit=4, **filters)  # type: ignore[arg-type]
    items, _ = read_all(store, query)
    assert items == expected(records, query) and items


def test_a_tenant_never_sees_another_tenants_records(store: Store) -> None:
    acme, globex = run("acme", 15, 0), run("globex", 15, 0)
    store.put_records(acme + globex)  # one call holding two tenants: each stored under its own key
    for tenant, records in (("acme", acme), ("globex", globex)):
        items, _ = read_all(store, LogQuery(tenant_id=tenant, limit=4))
        assert items == expected(records, LogQuery(tenant_id=tenant))
    assert store.query(LogQuery(tenant_id="initech")).items == []


def test_docs_are_stored_as_the_records_they_stand_for(store: Store) -> None:
    records = run("acme", 5, 0)
    docs: list[str | None] = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]
    docs[2] = None  # a record redaction changed: no text stands for it
    store.put_records(records, docs)
    assert store.query(LogQuery(tenant_id="acme", order="asc")).items == records


# --- properties --------------------------------------------------------------------------------------------

# A scenario: runs of records (one per request), each stored by one put_records call, some redelivered or
# split in two (a re-queued remainder) — with runs of the same millisecond interleaving in key order.
_RUNS = st.lists(
    st.tuples(st.integers(0, 12), st.integers(1, 9), st.sampled_from(["acme", "globex"])),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=_RUNS,
    kind=st.sampled_from(STORES),
    order=st.sampled_from(["asc", "desc"]),
    limit=st.integers(1, 9),
    filters=st.sampled_from(
        [
            {},
            {"min_level": "warn"},
            {"filter": RecordFilter(contains=("disk",))},
            {"since": format_ts(T0 + 4), "until": format_ts(T0 + 9)},
        ]
    ),
    after=st.one_of(st.none(), st.integers(0, 200)),
    seed=st.integers(0, 2**32),
)
def test_paging_never_skips_or_repeats_a_record(
    runs: list[tuple[int, int, str]],
    kind: str,
    order: str,
    limit: int,
    filters: dict[str, Any],
    after: int | None,
    seed: int,
) -> None:
    rng = random.Random(seed)
    calls: list[list[Record]] = []
    everything: list[Record] = []
    n = 0
    for ms, count, tenant in runs:
        records = run(tenant, count, ms, start=n)
        n += count
        everything += records
        calls.append(records)
        if rng.random() < 0.3:  # partial re-queue, then the original redelivered
            cut = rng.randrange(count)
            calls += [records[cut:], records]
        if rng.random() < 0.2 and len(calls) >= 2:  # two runs in one call: a chunk spanning milliseconds
            calls.append(calls[-2] + calls[-1])
    rng.shuffle(calls)
    mine = sorted(r["log_id"] for r in everything if r["tenant_id"] == "acme")
    after_id = mine[after % len(mine)] if after is not None and mine else None
    query = LogQuery(tenant_id="acme", order=order, limit=limit, after=after_id, **filters)  # type: ignore[arg-type]
    with open_store(kind) as store:
        for call in calls:
            store.put_records(call)
        items, _ = read_all(store, query)
    assert [r["log_id"] for r in items] == [r["log_id"] for r in expected(everything, query)]
    assert items == expected(everything, query)


# --- DynamoDB's layout ------------------------------------------------------------------------------------


def test_a_chunk_that_cannot_be_decoded_is_skipped_and_counted_not_fatal() -> None:
    with open_store("dynamo") as store:
        assert isinstance(store, DynamoStore)
        good = run("acme", 10, 0) + run("acme", 10, 5_000)
        store.put_records(good[:10])
        store.put_records(good[10:])
        client: Any = store._client  # the test writes bad items beside the store's own
        bad_ids = new_log_ids(4, T0 + 2_000)
        base = {"tenant_id": {"S": "acme"}, "v": {"N": "1"}, "count": {"N": "1"}}
        bad_items = [
            {**base, "log_id": {"S": bad_ids[0]}, "last_id": {"S": bad_ids[0]}, "z": {"B": b"not zlib"}},
            {
                **base,
                "log_id": {"S": bad_ids[1]},
                "last_id": {"S": bad_ids[1]},
                "v": {"N": "99"},
                "z": {"B": b""},
            },
        ]
        wrong_tenant = rec("globex", bad_ids[2], 1)
        bad_items.append(
            {
                **base,
                "log_id": {"S": bad_ids[2]},
                "last_id": {"S": bad_ids[2]},
                "z": {"B": zlib.compress(("[" + json.dumps(wrong_tenant) + "]").encode())},
            }
        )
        bad_items.append(
            {
                **base,
                "log_id": {"S": bad_ids[3]},
                "last_id": {"S": bad_ids[3]},
                "z": {"B": zlib.compress(b"[{")},
            }
        )
        for item in bad_items:
            client.put_item(TableName="logs", Item=item)
        for order in ("asc", "desc"):
            page = store.query(LogQuery(tenant_id="acme", order=order, limit=1000))
            assert page.skipped_chunks == 4
            assert {r["log_id"] for r in page.items} == {r["log_id"] for r in good}
            assert page.last_log_id is None
