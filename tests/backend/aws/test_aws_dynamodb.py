"""The DynamoDB store: batches of ≤ 25, UnprocessedItems retried, items under 400 KB, one key-range Query."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_fixtures import DDB_MAX_BATCH, Aws, aws_fixture, fake_credentials_fixture  # noqa: F401  (fixtures)
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.adapters.aws.dynamodb import (
    DYNAMODB_ITEM_LIMIT,
    TRUNCATED_KEY,
    WRITE_ATTEMPTS,
    DynamoStore,
    StoreError,
    fit_item,
    item_size,
)
from logpipe_backend.core.filters import RecordFilter
from logpipe_backend.core.ids import log_id_time_ms, new_log_ids
from logpipe_backend.core.record import Record
from logpipe_backend.ports import LogQuery

T0 = 1_795_000_000_000  # 2026-11-18, epoch ms


def rec(tenant: str, log_id: str, message: str = "hello", level: str = "info", **attributes: Any) -> Record:
    return {
        "tenant_id": tenant,
        "log_id": log_id,
        "timestamp": "2026-11-26T03:44:56.123Z",
        "received_at": "2026-11-26T03:44:56.123Z",
        "level": level,
        "message": message,
        "attributes": attributes,
        "source": "json",
        "redactions": 0,
    }


def ids(n: int, t: int = T0) -> list[str]:
    return new_log_ids(n, t)


def test_records_round_trip_exactly(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    deep: Any = "bottom"
    for _ in range(63):  # JSON depth 64: deeper than a DynamoDB map may nest (32)
        deep = {"d": deep}
    r1 = rec("acme", ids(1)[0], "héllo 😀", nested=deep, n=1.5, big=2**70, empty="", none=None, list=[1, "a"])
    r1["client_log_id"] = "123"
    store.put_records([r1])
    page = store.query(LogQuery(tenant_id="acme"))
    assert page.items == [r1]
    assert page.last_log_id is None


def test_writes_go_in_batches_of_at_most_25(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    records = [rec("acme", i) for i in ids(60)]
    store.put_records(records)
    calls = aws.log.of("BatchWriteItem")
    sizes = [len(c["RequestItems"][aws.logs_table]) for c in calls]
    assert sizes == [25, 25, 10]
    assert all(s <= DDB_MAX_BATCH for s in sizes)
    assert len(store.query(LogQuery(tenant_id="acme", limit=1000)).items) == 60


def test_the_same_key_twice_is_written_once_last_copy_wins(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    log_id = ids(1)[0]
    store.put_records([rec("acme", log_id, "first"), rec("acme", log_id, "second")])
    (call,) = aws.log.of("BatchWriteItem")
    assert len(call["RequestItems"][aws.logs_table]) == 1
    store.put_records([rec("acme", log_id, "second")])  # a redelivered message: an upsert
    assert [r["message"] for r in store.query(LogQuery(tenant_id="acme")).items] == ["second"]


def test_a_300_kb_record_is_stored_whole(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    record = rec("acme", ids(1)[0], "m" * 150_000, blob="é" * 75_000)  # 150 kB + 150 kB of UTF-8
    assert len(json.dumps(record, ensure_ascii=False).encode()) > 300_000
    store.put_records([record])
    assert store.query(LogQuery(tenant_id="acme")).items == [record]


@pytest.mark.parametrize(
    ("message", "blob"),
    [("m" * 300_000, "b" * 300_000), ("m" * 700_000, "b"), ("m", '"\x01' * 300_000), ("😀" * 150_000, "")],
)
def test_an_item_over_400_kb_is_shortened_visibly_not_refused(aws: Aws, message: str, blob: str) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    record = rec("acme", ids(1)[0], message, level="error", blob=blob)
    store.put_records([record])
    (call,) = aws.log.of("BatchWriteItem")
    (request,) = call["RequestItems"][aws.logs_table]
    assert item_size(request["PutRequest"]["Item"]) <= DYNAMODB_ITEM_LIMIT
    (stored,) = store.query(LogQuery(tenant_id="acme")).items
    assert stored["log_id"] == record["log_id"] and stored["level"] == "error"
    if item_size(fit_item(record, retention_days=0, budget=10**9)) > DYNAMODB_ITEM_LIMIT:
        marker = stored["attributes"][TRUNCATED_KEY]
        assert marker["attributes_bytes"] == len(
            json.dumps({"blob": blob}, ensure_ascii=False, separators=(",", ":")).encode()
        )
        assert marker["message_bytes"] == len(message.encode())
        assert record["message"].startswith(stored["message"].removesuffix(" …[truncated]"))


def test_a_huge_client_log_id_is_cut_too(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    record = rec("acme", ids(1)[0], "m" * 1000)
    record["client_log_id"] = "c" * 500_000
    store.put_records([record])
    (call,) = aws.log.of("BatchWriteItem")
    assert item_size(call["RequestItems"][aws.logs_table][0]["PutRequest"]["Item"]) <= DYNAMODB_ITEM_LIMIT
    (stored,) = store.query(LogQuery(tenant_id="acme")).items
    assert stored["message"] == "m" * 1000
    assert stored["client_log_id"] == "c" * 1024
    assert stored["attributes"][TRUNCATED_KEY]["client_log_id_bytes"] == 500_000


def test_unprocessed_items_are_retried_with_backoff(aws: Aws) -> None:
    sleeps: list[float] = []
    store = DynamoStore(aws.dynamodb, aws.logs_table, sleep=sleeps.append)
    records = [rec("acme", i) for i in ids(3)]
    stubber = Stubber(aws.dynamodb)
    items = [fit_item(r, retention_days=30) for r in records]
    leftover = [{"PutRequest": {"Item": items[1]}}, {"PutRequest": {"Item": items[2]}}]
    stubber.add_response(
        "batch_write_item",
        {"UnprocessedItems": {aws.logs_table: leftover}},
        {"RequestItems": {aws.logs_table: [{"PutRequest": {"Item": it}} for it in items]}},
    )
    stubber.add_response("batch_write_item", {"UnprocessedItems": {aws.logs_table: leftover[1:]}},
                         {"RequestItems": {aws.logs_table: leftover}})  # fmt: skip
    stubber.add_response(
        "batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {aws.logs_table: leftover[1:]}}
    )
    with stubber:
        store.put_records(records)
    stubber.assert_no_pending_responses()
    assert len(sleeps) == 2
    assert all(0 <= s <= 2.0 for s in sleeps)


def test_items_unprocessed_for_good_fail_the_write(aws: Aws) -> None:
    sleeps: list[float] = []
    store = DynamoStore(aws.dynamodb, aws.logs_table, sleep=sleeps.append)
    stubber = Stubber(aws.dynamodb)
    for _ in range(WRITE_ATTEMPTS):
        stubber.add_response(
            "batch_write_item",
            {"UnprocessedItems": {aws.logs_table: [{"PutRequest": {"Item": {"tenant_id": {"S": "acme"}}}}]}},
            {"RequestItems": ANY},
        )
    with stubber, pytest.raises(StoreError, match="unprocessed"):
        store.put_records([rec("acme", ids(1)[0])])
    stubber.assert_no_pending_responses()
    assert len(sleeps) == WRITE_ATTEMPTS - 1


def test_a_throttled_call_is_a_store_error(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    stubber = Stubber(aws.dynamodb)
    stubber.add_client_error("batch_write_item", "ResourceNotFoundException", http_status_code=400)
    with stubber, pytest.raises(StoreError):
        store.put_records([rec("acme", ids(1)[0])])


def test_ttl_attribute_follows_the_arrival_time(aws: Aws) -> None:
    log_id = ids(1)[0]
    item = fit_item(rec("acme", log_id), retention_days=30)
    assert int(item["expires_at"]["N"]) == log_id_time_ms(log_id) // 1000 + 30 * 86_400
    assert "expires_at" not in fit_item(rec("acme", log_id), retention_days=0)


# --- queries ---


@pytest.fixture
def filled(aws: Aws) -> DynamoStore:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    levels = ["debug", "info", "warn", "error"]
    store.put_records(
        [
            rec("acme", i, f"acme {n} {'Disk FULL' if n % 5 == 0 else 'ok'}", levels[n % 4])
            for n, i in enumerate(ids(40))
        ]
    )
    store.put_records([rec("other", i, "other tenant's Disk FULL", "error") for i in ids(30, T0 + 5)])
    aws.log.calls.clear()
    return store


def _all_pages(store: DynamoStore, query: LogQuery) -> tuple[list[Record], int]:
    items: list[Record] = []
    pages = 0
    while True:
        page = store.query(query)
        pages += 1
        items += page.items
        if page.last_log_id is None or pages > 100:
            return items, pages
        query = LogQuery(**{**query.__dict__, "start_after": page.last_log_id})


def test_a_query_reads_one_tenant_only(aws: Aws, filled: DynamoStore) -> None:
    items, _ = _all_pages(filled, LogQuery(tenant_id="acme", limit=1000))
    assert len(items) == 40 and {r["tenant_id"] for r in items} == {"acme"}
    for params in aws.log.of("Query"):
        assert params["ExpressionAttributeValues"][":t"] == {"S": "acme"}
        assert params["KeyConditionExpression"].startswith("tenant_id = :t")
    assert "Scan" not in aws.log.operations()


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_paging_with_the_cursor_returns_every_record_once_in_order(filled: DynamoStore, order: str) -> None:
    items, pages = _all_pages(filled, LogQuery(tenant_id="acme", order=order, limit=7))
    log_ids = [r["log_id"] for r in items]
    assert len(log_ids) == 40 == len(set(log_ids))
    assert log_ids == sorted(log_ids, reverse=order == "desc")
    assert pages == 6


def test_filters_apply_across_pages(filled: DynamoStore) -> None:
    items, _ = _all_pages(
        filled,
        LogQuery(tenant_id="acme", min_level="warn", filter=RecordFilter(contains=("disk full",)), limit=3),
    )
    assert items and all(r["level"] in ("warn", "error") and "Disk FULL" in r["message"] for r in items)
    assert len(items) == len([n for n in range(40) if n % 5 == 0 and n % 4 >= 2])


def test_after_returns_only_later_records(filled: DynamoStore) -> None:
    first_ten = filled.query(LogQuery(tenant_id="acme", order="asc", limit=10)).items
    later = filled.query(LogQuery(tenant_id="acme", order="asc", after=first_ten[-1]["log_id"], limit=1000))
    assert len(later.items) == 30 and later.items[0]["log_id"] > first_ten[-1]["log_id"]
    assert later.last_log_id is None


def test_a_query_failure_is_a_store_error(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    stubber = Stubber(aws.dynamodb)
    stubber.add_client_error("query", "ProvisionedThroughputExceededException", http_status_code=400)
    with stubber, pytest.raises(StoreError) as err:
        store.query(LogQuery(tenant_id="acme"))
    assert err.value.status == 503  # the admin handler answers it as "retry later"


def test_a_selective_filter_stops_at_the_read_budget_and_resumes_with_the_cursor(
    aws: Aws, filled: DynamoStore
) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table, max_query_pages=2, filtered_page_items=5)
    query = LogQuery(tenant_id="acme", filter=RecordFilter(contains=("disk full",)), order="asc", limit=100)
    first = store.query(query)
    assert len(aws.log.of("Query")) == 2  # the budget: two pages of five items
    assert first.last_log_id is not None and len(first.items) == 2  # records 0 and 5 of the first ten
    items, pages = _all_pages(store, query)
    assert [r["message"] for r in items] == [f"acme {n} Disk FULL" for n in range(0, 40, 5)]
    assert pages == 4


CHUNKS = ["a", "é", "😀", '"', "\\", "\x01", "\u2028", "\ud7ff"]


@settings(max_examples=60, deadline=None)
@given(
    message=st.tuples(st.sampled_from(CHUNKS), st.integers(0, 500_000)),
    attribute=st.tuples(st.sampled_from(CHUNKS), st.integers(0, 500_000)),
    client_id=st.tuples(st.sampled_from(CHUNKS), st.integers(0, 300_000)),
    budget=st.sampled_from([400_000, 100_000, 5_000]),
)
def test_fit_item_always_fits_and_keeps_the_key(
    message: tuple[str, int], attribute: tuple[str, int], client_id: tuple[str, int], budget: int
) -> None:
    record = rec(
        "acme", "01KAZ479SV65DH4C98VGTRN853", message[0] * message[1], blob=attribute[0] * attribute[1]
    )
    if client_id[1]:
        record["client_log_id"] = client_id[0] * client_id[1]
    item = fit_item(record, retention_days=30, budget=budget)
    assert item_size(item) <= budget
    assert item["tenant_id"] == {"S": "acme"} and item["log_id"] == {"S": record["log_id"]}
    json.loads(item["attributes"]["S"])  # always valid JSON
