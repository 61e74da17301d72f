"""Issue 12, point 4: ``dlq redrive --backend aws`` within SQS's batch limits, and a failed batch released.

moto takes a SendMessageBatch of any size; the ``aws`` fixture's spy checks every call our code makes against
SQS's 10 entries and 1 MiB (and fails the test at teardown otherwise), and the sizes are asserted here too.
"""

from __future__ import annotations

from typing import Any

from aws_fixtures import SQS_MAX_BATCH, SQS_MAX_BYTES, Aws, aws_fixture, fake_credentials_fixture  # noqa: F401
from botocore.exceptions import ClientError
from logpipe_backend.adapters.aws.dlq import redrive

BIG = 600_000  # bytes: two of them pass SQS's 1 MiB per batch


def _dead_big(aws: Aws) -> list[str]:
    bodies = [f'{{"pad":"{letter * BIG}"}}' for letter in "abc"]
    for body in bodies:
        aws.sqs.send_message(QueueUrl=aws.dlq_url, MessageBody=body)
    aws.log.calls.clear()  # the set-up's sends are not the code under test
    return bodies


def _queued(aws: Aws, url: str) -> list[str]:
    bodies: list[str] = []
    for _ in range(10):
        got = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)
        if not got.get("Messages"):
            break
        bodies += [m["Body"] for m in got["Messages"]]
    return bodies


def _batch_bytes(params: dict[str, Any]) -> int:
    return sum(len(e["MessageBody"].encode("utf-8")) for e in params["Entries"])


def test_three_messages_of_600_kb_go_back_in_batches_within_1_mib(aws: Aws) -> None:
    bodies = _dead_big(aws)
    result = redrive(aws.sqs, aws.queue_url, wait_seconds=0, dlq_url=aws.dlq_url)
    assert (result.moved, result.send_failed, result.delete_failed) == (3, 0, 0)
    sends = aws.log.of("SendMessageBatch")
    assert len(sends) == 3  # 600 KB each: no two fit in one batch
    assert all(len(p["Entries"]) <= SQS_MAX_BATCH and _batch_bytes(p) <= SQS_MAX_BYTES for p in sends)
    assert sorted(_queued(aws, aws.queue_url)) == sorted(bodies)
    assert _queued(aws, aws.dlq_url) == []


def test_a_failed_batch_is_made_visible_at_once_and_left_in_the_dlq(aws: Aws) -> None:
    bodies = _dead_big(aws)
    calls = {"n": 0}

    def fail_the_second(**_: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            error = {"Error": {"Code": "BatchRequestTooLong", "Message": "injected"}}
            raise ClientError(error, "SendMessageBatch")  # type: ignore[arg-type]

    aws.sqs.meta.events.register("before-call.sqs.SendMessageBatch", fail_the_second)
    result = redrive(aws.sqs, aws.queue_url, wait_seconds=0, dlq_url=aws.dlq_url)
    assert (result.moved, result.send_failed) == (2, 1)
    # Right after the failed call, before the next send, its message is made visible again.
    operations = aws.log.operations()
    sends = [i for i, op in enumerate(operations) if op == "SendMessageBatch"]
    assert len(sends) == 3, operations
    release_op, release = aws.log.calls[sends[1] + 1]
    assert release_op == "ChangeMessageVisibilityBatch" and sends[1] + 1 < sends[2], operations
    assert [e["VisibilityTimeout"] for e in release["Entries"]] == [0]
    # Nothing lost, nothing doubled: the failed one is in the DLQ, visible, the others in the queue.
    left = _queued(aws, aws.dlq_url)
    moved = _queued(aws, aws.queue_url)
    assert len(left) == 1 and sorted(left + moved) == sorted(bodies)
