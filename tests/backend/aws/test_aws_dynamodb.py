"""The DynamoDB store: records in chunks (issue 12), batches of ≤ 25, UnprocessedItems retried, items under
400 KB, records too large even compressed shortened visibly, TTL per tenant, one key-range Query per call."""

from __future__ import annotations

import base64
import json
import math
import random
from typing import Any

import pytest
from aws_fixtures import (  # noqa: F401  (fixtures)
    DDB_MAX_BATCH,
    Aws,
    aws_fixture,
    fake_credentials_fixture,
    scan_items,
)
from botocore.stub import ANY, Stubber
from hypothesis import given, settings
from hypothesis import strategies as st
from logpipe_backend.adapters.aws.chunks import (
    MAX_CHUNK_RAW_BYTES,
    MAX_CHUNK_SPAN_MS,
    chunk_items,
    plan_chunks,
)
from logpipe_backend.adapters.aws.dynamodb import (
    DYNAMODB_ITEM_LIMIT,
    TRUNCATED_KEY,
    WRITE_ATTEMPTS,
    DynamoStore,
    StoreError,
    item_size,
)
from logpipe_backend.adapters.aws.record_fit import json_size, shorten_record
from logpipe_backend.core.filters import RecordFilter
from logpipe_backend.core.ids import log_id_time_ms, new_log_ids
from logpipe_backend.core.record import Record
from logpipe_backend.core.timefmt import format_ts
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


def apart(n: int, step_ms: int = 2_000) -> list[str]:
    """``n`` ids ``step_ms`` apart: past the chunk span, so each record is a chunk of its own."""
    return [new_log_ids(1, T0 + step_ms * i)[0] for i in range(n)]


def noise(n: int, seed: int = 1) -> str:
    """``n`` characters that do not compress much (base64 of random bytes: 6 bits of 8)."""
    return base64.b64encode(random.Random(seed).randbytes(n * 3 // 4 + 3)).decode()[:n]


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
    records = [rec("acme", i) for i in apart(60)]
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


def test_a_compressible_record_over_400_kb_is_stored_whole(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    record = rec("acme", ids(1)[0], "m" * 700_000, blob='"\x01' * 300_000)
    record["client_log_id"] = "c" * 500_000
    store.put_records([record])
    assert store.query(LogQuery(tenant_id="acme")).items == [record]


@pytest.mark.parametrize(
    ("message", "blob"),
    [
        (noise(300_000), noise(300_000, 2)),
        (noise(700_000), "b"),
        ("m", noise(600_000)),
        ("😀" + noise(600_000), ""),
    ],
)
def test_a_record_over_400_kb_even_compressed_is_shortened_visibly_not_refused(
    aws: Aws, message: str, blob: str
) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    record = rec("acme", ids(1)[0], message, level="error", blob=blob)
    store.put_records([record])
    (call,) = aws.log.of("BatchWriteItem")
    (request,) = call["RequestItems"][aws.logs_table]
    assert item_size(request["PutRequest"]["Item"]) <= DYNAMODB_ITEM_LIMIT
    (stored,) = store.query(LogQuery(tenant_id="acme")).items
    assert stored["log_id"] == record["log_id"] and stored["level"] == "error"
    marker = stored["attributes"][TRUNCATED_KEY]
    assert marker["attributes_bytes"] == len(
        json.dumps({"blob": blob}, ensure_ascii=False, separators=(",", ":")).encode()
    )
    assert marker["message_bytes"] == len(message.encode())
    assert record["message"].startswith(stored["message"].removesuffix(" …[truncated]"))


def test_a_huge_client_log_id_is_cut_too(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    record = rec("acme", ids(1)[0], "m" * 1000)
    record["client_log_id"] = noise(600_000)
    store.put_records([record])
    (call,) = aws.log.of("BatchWriteItem")
    assert item_size(call["RequestItems"][aws.logs_table][0]["PutRequest"]["Item"]) <= DYNAMODB_ITEM_LIMIT
    (stored,) = store.query(LogQuery(tenant_id="acme")).items
    assert stored["message"] == "m" * 1000
    assert stored["client_log_id"] == record["client_log_id"][:1024]
    assert stored["attributes"][TRUNCATED_KEY]["client_log_id_bytes"] == 600_000


def test_chunks_hold_runs_within_the_span_and_the_size_and_are_deterministic() -> None:
    same_ms = [rec("acme", i, "x" * 2_000) for i in ids(400)]  # ~800 KB of JSON in one millisecond
    span = MAX_CHUNK_SPAN_MS
    later = [rec("acme", i) for i in ids(5, T0 + span - 1)] + [rec("acme", i) for i in ids(5, T0 + span + 1)]
    records = same_ms + later
    random.Random(3).shuffle(records)
    planned = plan_chunks(records)
    assert sum(len(c.records) for c in planned) == len(records)
    for chunk in planned:
        log_ids = [r["log_id"] for r in chunk.records]
        assert log_ids == sorted(log_ids)
        assert log_id_time_ms(log_ids[-1]) - log_id_time_ms(log_ids[0]) <= span
        assert sum(len(t.encode()) + 1 for t in chunk.texts) <= MAX_CHUNK_RAW_BYTES
    assert len(planned) == 5  # 800 KB cut by size into 4, and the last run cut by the span
    items = chunk_items(records, retention_seconds=86_400)
    assert chunk_items(list(reversed(records)), retention_seconds=86_400) == items  # a redelivery: same items
    assert [i["log_id"]["S"] for i in items] == [c.records[0]["log_id"] for c in planned]
    assert all(i["last_id"]["S"] == c.records[-1]["log_id"] for i, c in zip(items, planned, strict=True))
    assert [int(i["count"]["N"]) for i in items] == [len(c.records) for c in planned]


def test_unprocessed_items_are_retried_with_backoff(aws: Aws) -> None:
    sleeps: list[float] = []
    store = DynamoStore(aws.dynamodb, aws.logs_table, sleep=sleeps.append)
    records = [rec("acme", i) for i in apart(3)]
    stubber = Stubber(aws.dynamodb)
    items = chunk_items(records, retention_seconds=30 * 86_400)
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


def _expiries(aws: Aws) -> dict[str, int | None]:
    return {
        i["tenant_id"]["S"]: int(i["expires_at"]["N"]) if "expires_at" in i else None
        for i in scan_items(aws.dynamodb, aws.logs_table)
    }


def test_ttl_follows_the_newest_arrival_in_the_chunk_and_each_tenants_retention(aws: Aws) -> None:
    retention = {"acme": None, "globex": 0, "initech": 3_600}
    store = DynamoStore(aws.dynamodb, aws.logs_table, retention_days=30, retention_seconds_for=retention.get)
    for tenant in retention:
        records = [{**rec(tenant, i), "received_at": format_ts(T0)} for i in ids(3)]
        records[1]["received_at"] = format_ts(T0 + 5_000)  # the newest arrival of the three
        store.put_records(records)
    newest_s = (T0 + 5_000) // 1000
    assert _expiries(aws) == {
        "acme": newest_s + 30 * 86_400,  # None: the store's default
        "globex": None,  # 0: kept forever
        "initech": newest_s + 3_600,
    }


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


def test_a_selective_filter_stops_at_the_read_budget_and_resumes_with_the_cursor(aws: Aws) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table, max_query_pages=2, chunks_per_call=5)
    store.put_records(
        [rec("acme", i, f"acme {n} {'Disk FULL' if n % 5 == 0 else 'ok'}") for n, i in enumerate(apart(40))]
    )
    aws.log.calls.clear()
    query = LogQuery(tenant_id="acme", filter=RecordFilter(contains=("disk full",)), order="asc", limit=100)
    first = store.query(query)
    assert len(aws.log.of("Query")) == 2  # the budget: two calls of five chunks
    assert first.last_log_id is not None and len(first.items) == 2  # records 0 and 5 of the first ten
    items, pages = _all_pages(store, query)
    assert [r["message"] for r in items] == [f"acme {n} Disk FULL" for n in range(0, 40, 5)]
    assert 4 <= pages <= 6 and len(aws.log.of("Query")) <= 2 * (pages + 1)


PIECES = ["a", "é", "😀", '"', "\\", "\x01", "\u2028", "\ud7ff"]


@settings(max_examples=60, deadline=None)
@given(
    message=st.tuples(st.sampled_from(PIECES), st.integers(0, 500_000)),
    attribute=st.tuples(st.sampled_from(PIECES), st.integers(0, 500_000)),
    client_id=st.tuples(st.sampled_from(PIECES), st.integers(0, 300_000)),
    budget=st.sampled_from([400_000, 100_000, 5_000]),
)
def test_shorten_record_always_fits_and_keeps_the_key(
    message: tuple[str, int], attribute: tuple[str, int], client_id: tuple[str, int], budget: int
) -> None:
    record = rec(
        "acme", "01KAZ479SV65DH4C98VGTRN853", message[0] * message[1], blob=attribute[0] * attribute[1]
    )
    if client_id[1]:
        record["client_log_id"] = client_id[0] * client_id[1]
    shortened = shorten_record(record, budget)
    assert json_size(shortened) <= budget
    assert shortened["tenant_id"] == "acme" and shortened["log_id"] == record["log_id"]
    assert shortened == record or TRUNCATED_KEY in shortened["attributes"]


def test_write_units_of_a_chunk_are_its_size_in_kb() -> None:
    records = [rec("acme", i, f"GET /api/{n} 200") for n, i in enumerate(ids(500))]
    (item,) = chunk_items(records, retention_seconds=86_400)
    assert math.ceil(item_size(item) / 1024) < len(records) / 10


def _legacy_item(record: Record) -> dict[str, dict[str, str]]:
    """An item as the store wrote it before chunks: one record, each field an attribute."""
    return {
        "tenant_id": {"S": record["tenant_id"]},
        "log_id": {"S": record["log_id"]},
        "timestamp": {"S": record["timestamp"]},
        "received_at": {"S": record["received_at"]},
        "level": {"S": record["level"]},
        "message": {"S": record["message"]},
        "attributes": {"S": json.dumps(record["attributes"])},
        "source": {"S": record["source"]},
        "redactions": {"N": "0"},
        "expires_at": {"N": "1900000000"},
    }


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_items_written_before_chunks_are_still_read_beside_chunks(aws: Aws, order: str) -> None:
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    old = [rec("acme", i, f"old {n}") for n, i in enumerate(ids(5))]
    new = [rec("acme", i, f"new {n}") for n, i in enumerate(ids(5, T0 + 10))]
    for record in old:
        aws.dynamodb.put_item(TableName=aws.logs_table, Item=_legacy_item(record))
    aws.dynamodb.put_item(  # not a key this code writes: skipped and counted, nothing else hidden
        TableName=aws.logs_table, Item={"tenant_id": {"S": "acme"}, "log_id": {"S": "not-a-log-id"}}
    )
    store.put_records(new)
    items, _ = _all_pages(store, LogQuery(tenant_id="acme", order=order, limit=3))
    assert items == sorted(old + new, key=lambda r: r["log_id"], reverse=order == "desc")
    assert store.query(LogQuery(tenant_id="acme", limit=100)).skipped_chunks == 1


def test_a_records_text_is_stored_as_given_not_encoded_again(aws: Aws) -> None:
    import zlib

    store = DynamoStore(aws.dynamodb, aws.logs_table)
    records = [rec("acme", i, f"m{n}") for n, i in enumerate(ids(3))]
    # The worker's texts are the JSON the records arrived in: here with a key order of their own.
    docs: list[str | None] = [json.dumps(dict(reversed(list(r.items())))) for r in records]
    docs[1] = None  # redaction changed this one: encoded by the store
    store.put_records(records, docs)
    (item,) = scan_items(aws.dynamodb, aws.logs_table)
    payload = zlib.decompress(item["z"]["B"]).decode()
    assert docs[0] in payload and docs[2] in payload and json.dumps(records[1]) not in payload
    assert store.query(LogQuery(tenant_id="acme", order="asc")).items == records


def test_log_id_floor_is_the_smallest_id_of_its_millisecond() -> None:
    from logpipe_backend.core.ids import is_log_id, log_id_floor

    floor = log_id_floor(T0)
    assert is_log_id(floor) and log_id_time_ms(floor) == T0
    assert all(log_id_floor(T0 - 1) < floor <= i < log_id_floor(T0 + 1) for i in ids(50))
    assert log_id_floor(-5) == "0" * 26 and is_log_id(log_id_floor(2**60))  # clamped, still a log id


def test_records_and_texts_are_grouped_by_tenant_together() -> None:
    from logpipe_backend.adapters.aws.chunks import by_tenant

    records = [rec("acme", i) for i in ids(2)] + [rec("globex", i) for i in ids(2, T0 + 1)]
    records = [records[0], records[2], records[1], records[3]]
    docs: list[str | None] = ["a0", "g0", None, "g1"]
    assert by_tenant(records, docs) == {
        "acme": ([records[0], records[2]], ["a0", None]),
        "globex": ([records[1], records[3]], ["g0", "g1"]),
    }
    assert by_tenant(records, None)["acme"] == ([records[0], records[2]], [None, None])
