"""The SQS queue adapter: batching, SQS's character set, per-entry failures, depth."""

from __future__ import annotations

import json

import pytest
from aws_fixtures import SQS_MAX_BATCH, Aws, aws_fixture, fake_credentials_fixture  # noqa: F401  (fixtures)
from botocore.stub import Stubber
from logpipe_backend.adapters.aws.sqs import (
    BILLED_CHUNK_BYTES,
    MAX_BATCH_BYTES,
    MAX_MESSAGE_BYTES,
    SEND_ATTEMPTS,
    SqsQueue,
    plan_batches,
)
from logpipe_backend.core.envelope import pack, sqs_safe, unpack
from logpipe_backend.ports import QueueUnavailable

# Every kind of character SQS refuses: C0 controls but tab/LF/CR, U+FFFE/U+FFFF, a lone surrogate.
REFUSED = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1f", "\ufffe", "\uffff", "\ud800"]


def _record(tenant: str, i: int, message: str) -> bytes:
    record = {
        "tenant_id": tenant,
        "log_id": f"01JDQ0000000000000000{i:05d}",
        "timestamp": "2026-11-26T03:44:56.123Z",
        "received_at": "2026-11-26T03:44:56.123Z",
        "level": "info",
        "message": message,
        "attributes": {"k": message},
        "source": "json",
        "redactions": 0,
    }
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _receive_all(aws: Aws) -> list[str]:
    bodies: list[str] = []
    for _ in range(50):  # bounded
        got = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        bodies += [m["Body"] for m in got]
        for m in got:
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def test_plan_batches_respects_entry_and_byte_limits() -> None:
    bodies = ["x" * 100] * 25 + ["y" * 600_000, "z" * 600_000, "w" * 10]
    batches = plan_batches(bodies)
    assert [b for batch in batches for b in batch] == bodies  # order kept, nothing lost
    for batch in batches:
        assert 1 <= len(batch) <= SQS_MAX_BATCH
        assert sum(len(b.encode()) for b in batch) <= MAX_BATCH_BYTES
    assert [len(b) for b in batches] == [10, 10, 6, 2]  # the two 600 kB bodies cannot share a batch


@pytest.mark.parametrize("char", REFUSED)
def test_plan_batches_refuses_a_character_sqs_refuses(char: str) -> None:
    with pytest.raises(ValueError, match="character SQS refuses"):
        plan_batches(["ok", f"bad{char}body"])


def test_plan_batches_refuses_an_oversized_message() -> None:
    with pytest.raises(ValueError, match="bytes"):
        plan_batches(["é" * (MAX_MESSAGE_BYTES // 2 + 1)])  # 2 bytes each in UTF-8


def test_records_with_refused_characters_travel_through_sqs_intact(aws: Aws) -> None:
    messages = [f"before{c}after" for c in REFUSED if c != "\ud800"] + ["plain", "emoji 😀 and \u2028"]
    records = [_record("acme", i, m) for i, m in enumerate(messages)]
    bodies = pack("acme", records)
    assert all(sqs_safe(b) for b in bodies)
    SqsQueue(aws.sqs, aws.queue_url).send(bodies)
    received = _receive_all(aws)
    assert len(received) == len(bodies)
    got = [r["message"] for body in received for r in unpack(body)[1]]
    assert got == messages
    assert not aws.log.violations


def test_many_records_are_packed_and_sent_in_batches_of_at_most_ten(aws: Aws) -> None:
    # ~12 MB of records: at least 12 messages of ≤ 1 MB, so more than one SendMessageBatch call.
    records = [_record("acme", i, "m" * 20_000) for i in range(600)]
    bodies = pack("acme", records)
    assert len(bodies) > SQS_MAX_BATCH
    SqsQueue(aws.sqs, aws.queue_url).send(bodies)
    calls = aws.log.of("SendMessageBatch")
    assert len(calls) >= 2
    assert all(len(c["Entries"]) <= SQS_MAX_BATCH for c in calls)
    received = _receive_all(aws)
    assert sorted(r["log_id"] for b in received for r in unpack(b)[1]) == sorted(
        json.loads(r)["log_id"] for r in records
    )
    assert not aws.log.violations


def test_bodies_over_one_billed_chunk_are_sent_compressed_and_small_ones_as_they_are(aws: Aws) -> None:
    big = pack("acme", [_record("acme", i, f"request {i} served") for i in range(1_000)])
    small = pack("acme", [_record("acme", 1_000, "small")])
    assert len(big[0].encode()) > BILLED_CHUNK_BYTES >= len(small[0].encode())
    SqsQueue(aws.sqs, aws.queue_url).send(big + small)
    [call] = aws.log.of("SendMessageBatch")
    sent = [e["MessageBody"] for e in call["Entries"]]
    assert [json.loads(b)["v"] for b in sent] == [2, 1]
    assert len(sent[0]) < len(big[0]) // 3 and sent[1] == small[0]
    received = _receive_all(aws)

    def records(bodies: list[str]) -> list[dict[str, object]]:
        return sorted((r for b in bodies for r in unpack(b)[1]), key=lambda r: str(r["log_id"]))

    assert records(received) == records(big + small)
    assert not aws.log.violations


def test_compression_can_be_turned_off(aws: Aws) -> None:
    big = pack("acme", [_record("acme", i, f"request {i} served") for i in range(1_000)])
    SqsQueue(aws.sqs, aws.queue_url, compress_over_bytes=None).send(big)
    assert [e["MessageBody"] for e in aws.log.of("SendMessageBatch")[0]["Entries"]] == big


def test_a_large_body_with_a_refused_character_is_refused_not_hidden_by_compression(aws: Aws) -> None:
    with pytest.raises(ValueError, match="character SQS refuses"):
        SqsQueue(aws.sqs, aws.queue_url).send(["x" * 100_000 + "\x01"])
    assert not aws.log.of("SendMessageBatch")


def _stubbed(aws: Aws) -> tuple[SqsQueue, Stubber, list[float]]:
    sleeps: list[float] = []
    stubber = Stubber(aws.sqs)
    return SqsQueue(aws.sqs, aws.queue_url, sleep=sleeps.append), stubber, sleeps


def test_failed_entries_are_retried_alone(aws: Aws) -> None:
    queue, stubber, sleeps = _stubbed(aws)
    bodies = ["a", "b", "c"]
    stubber.add_response(
        "send_message_batch",
        {
            "Successful": [
                {"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"},
                {"Id": "2", "MessageId": "m2", "MD5OfMessageBody": "x"},
            ],
            "Failed": [{"Id": "1", "SenderFault": False, "Code": "InternalError"}],
        },
        {
            "QueueUrl": aws.queue_url,
            "Entries": [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)],
        },
    )
    stubber.add_response(
        "send_message_batch",
        {"Successful": [{"Id": "1", "MessageId": "m1", "MD5OfMessageBody": "x"}], "Failed": []},
        # Only the failed entry goes again, under its original id.
        {"QueueUrl": aws.queue_url, "Entries": [{"Id": "1", "MessageBody": "b"}]},
    )
    with stubber:
        queue.send(bodies)
    stubber.assert_no_pending_responses()
    assert len(sleeps) == 1


def test_entries_failing_every_attempt_make_the_queue_unavailable(aws: Aws) -> None:
    queue, stubber, sleeps = _stubbed(aws)
    for _ in range(SEND_ATTEMPTS):
        stubber.add_response(
            "send_message_batch",
            {"Successful": [], "Failed": [{"Id": "0", "SenderFault": False, "Code": "ServiceUnavailable"}]},
        )
    with stubber, pytest.raises(QueueUnavailable):
        queue.send(["a"])
    stubber.assert_no_pending_responses()
    assert len(sleeps) == SEND_ATTEMPTS - 1


def test_a_sender_fault_is_not_retried(aws: Aws) -> None:
    queue, stubber, _ = _stubbed(aws)
    stubber.add_response(
        "send_message_batch",
        {"Successful": [], "Failed": [{"Id": "0", "SenderFault": True, "Code": "InvalidMessageContents"}]},
    )
    with stubber, pytest.raises(RuntimeError, match="InvalidMessageContents"):
        queue.send(["a"])


def test_an_unreachable_queue_is_queue_unavailable(aws: Aws) -> None:
    queue, stubber, _ = _stubbed(aws)
    stubber.add_client_error(
        "send_message_batch", "AWS.SimpleQueueService.NonExistentQueue", http_status_code=400
    )
    with stubber, pytest.raises(QueueUnavailable):
        queue.send(["a"])


def test_depth_counts_waiting_and_in_flight_and_is_cached(aws: Aws) -> None:
    now = [100.0]
    queue = SqsQueue(aws.sqs, aws.queue_url, clock=lambda: now[0])
    assert queue.approximate_depth() == 0
    queue.send(["a", "b", "c"])
    aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=1)  # one in flight
    assert queue.approximate_depth() == 0  # cached
    now[0] += 10
    assert queue.approximate_depth() == 3
    assert len(aws.log.of("GetQueueAttributes")) == 2


def test_depth_failure_is_queue_unavailable(aws: Aws) -> None:
    queue, stubber, _ = _stubbed(aws)
    stubber.add_client_error("get_queue_attributes", "InternalError", http_status_code=500)
    with stubber, pytest.raises(QueueUnavailable):
        queue.approximate_depth()


def test_moto_lets_through_what_aws_refuses_so_the_spy_checks_it(aws: Aws) -> None:
    """Why the spy exists: moto accepts these calls, AWS would refuse them; the spy records each."""
    aws.sqs.send_message(QueueUrl=aws.queue_url, MessageBody="bad\x01body")
    items = [
        {"PutRequest": {"Item": {"tenant_id": {"S": "acme"}, "log_id": {"S": f"{i:026d}"}}}}
        for i in range(26)
    ]
    aws.dynamodb.batch_write_item(RequestItems={aws.logs_table: items})
    assert aws.log.violations == [
        "a message body holds a character SQS refuses",
        f"BatchWriteItem of 26 items on {aws.logs_table}",
    ]
    aws.log.violations.clear()  # expected here; any other test with a violation fails at teardown
