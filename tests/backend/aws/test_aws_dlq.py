"""The dead-letter queue on SQS (issue #6): list what SQS keeps (plus the last error from the worker's log
group when asked), and redrive back to the source queue without ever losing a message.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import boto3
import pytest
from aws_fixtures import (  # noqa: F401  (fixtures)
    REGION,
    Aws,
    aws_fixture,
    fake_credentials_fixture,
    stored_records,
)
from aws_lambda_sim import EventSourceMapping, FakeContext
from botocore.stub import Stubber
from logpipe_backend.adapters.aws.dlq import (
    DeadLetter,
    dlq_url_for,
    list_dlq,
    redrive,
    start_move_task,
)
from logpipe_backend.adapters.aws.dynamodb import DynamoStore
from logpipe_backend.adapters.aws.sqs import SqsQueue
from logpipe_backend.core.envelope import pack
from logpipe_backend.core.ids import new_log_ids
from logpipe_backend.handlers import worker
from logpipe_backend.ports import WorkerDeps

WORKER_LOG_GROUP = "/aws/lambda/logpipe-dev-worker"


def _record(i: int, tenant: str = "acme") -> bytes:
    record = {
        "tenant_id": tenant,
        "log_id": new_log_ids(1, 1_795_000_000_000 + i)[0],
        "timestamp": "2026-11-26T03:44:56.123Z",
        "received_at": "2026-11-26T03:44:56.123Z",
        "level": "info",
        "message": f"record {i}",
        "attributes": {},
        "source": "json",
        "redactions": 0,
    }
    return json.dumps(record, separators=(",", ":")).encode()


class BrokenStore:
    """A store that is down: every write fails (what sends healthy messages to the DLQ)."""

    def put_records(self, records: Any, docs: Any = None) -> None:
        raise RuntimeError("store is down: simulated outage")

    def query(self, query: Any) -> Any:  # pragma: no cover - not used
        raise NotImplementedError


def _fail_into_dlq(aws: Aws, bodies: list[str], caplog: pytest.LogCaptureFixture) -> list[str]:
    """Send ``bodies`` and let a worker with a broken store fail them 5 times each: SQS moves them to the
    DLQ. Returns the worker's log lines (what Lambda would ship to its CloudWatch log group)."""
    SqsQueue(aws.sqs, aws.queue_url).send(bodies)
    deps = WorkerDeps(store=BrokenStore())  # type: ignore[arg-type]
    esm = EventSourceMapping(aws.sqs, aws.queue_url, lambda e, c: worker.handle(e, deps, c))
    with caplog.at_level(logging.ERROR, logger="logpipe.worker"):
        for _ in range(10 * len(bodies)):  # bounded; visibility 0 brings a failed message straight back
            received, _ = esm.poll_once(FakeContext(60_000), visibility_timeout=0)
            if received == 0:
                break
    assert len(esm.bodies_seen) == 5 * len(bodies)
    return [caplog_format(r) for r in caplog.records]


def caplog_format(record: logging.LogRecord) -> str:
    """A log line as Lambda's Python runtime writes it in text format: level, time, request id, message,
    then the traceback."""
    text = f"[{record.levelname}]\t2026-11-26T03:44:56.123Z\ttest-request\t{record.getMessage()}"
    if record.exc_info:
        text += "\n" + logging.Formatter().formatException(record.exc_info)
    return text


def _bodies(aws: Aws, queue_url: str) -> list[str]:
    """Every body in a queue (received with a lease, so each is seen once)."""
    bodies: list[str] = []
    for _ in range(20):
        got = aws.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30)
        if not got.get("Messages"):
            break
        bodies += [m["Body"] for m in got["Messages"]]
    return bodies


def _dlq_bodies(aws: Aws) -> list[str]:
    return _bodies(aws, aws.dlq_url)


@pytest.fixture
def dead(aws: Aws, caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str]]:
    bodies = [pack("acme", [_record(0), _record(1)])[0], pack("globex", [_record(2, "globex")])[0]]
    bodies.append('{"v":1,"tenant_id":"acme","records":"not a list"')  # malformed: tenant "?"
    lines = _fail_into_dlq(aws, bodies, caplog)
    return bodies, lines


def test_the_dlq_is_found_from_the_queue_s_redrive_policy(aws: Aws) -> None:
    assert dlq_url_for(aws.sqs, aws.queue_url) == aws.dlq_url
    with pytest.raises(ValueError, match="RedrivePolicy"):
        dlq_url_for(aws.sqs, aws.dlq_url)


def test_list_shows_what_sqs_knows_and_hides_nothing(aws: Aws, dead: tuple[list[str], list[str]]) -> None:
    letters = list_dlq(aws.sqs, aws.queue_url, wait_seconds=0)
    assert len(letters) == 3 and all(isinstance(d, DeadLetter) for d in letters)
    summary = sorted((d.tenant_id, d.records) for d in letters)
    assert summary == [("?", 0), ("acme", 2), ("globex", 1)]
    assert all(d.receive_count >= 5 for d in letters)  # 5 in the source queue (+ this listing's)
    assert all(d.last_error is None for d in letters)  # SQS keeps no error; no log look-up asked
    assert all(d.moved_at.endswith("Z") and d.moved_at.startswith("20") for d in letters)
    # Listing released the messages: they are all there for the next listing or a redrive.
    assert sorted(d.message_id for d in list_dlq(aws.sqs, aws.queue_url, wait_seconds=0)) == sorted(
        d.message_id for d in letters
    )
    assert len(list_dlq(aws.sqs, aws.queue_url, limit=2, wait_seconds=0)) == 2


def test_last_error_comes_from_the_worker_s_log_group(aws: Aws, dead: tuple[list[str], list[str]]) -> None:
    _, lines = dead
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName=WORKER_LOG_GROUP)
    logs.create_log_stream(logGroupName=WORKER_LOG_GROUP, logStreamName="2026/11/26/[$LATEST]abc")
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=WORKER_LOG_GROUP,
        logStreamName="2026/11/26/[$LATEST]abc",
        logEvents=[{"timestamp": now + i, "message": line} for i, line in enumerate(lines)],
    )
    letters = list_dlq(
        aws.sqs,
        aws.queue_url,
        logs=logs,
        worker_log_group=WORKER_LOG_GROUP,
        since_ms=now - 60_000,
        wait_seconds=0,
    )
    assert len(letters) == 3
    for letter in letters:
        assert letter.last_error is not None, letter
        assert letter.message_id in letter.last_error  # the worker's line names the message
        expected = "PoisonMessage" if letter.tenant_id == "?" else "store is down: simulated outage"
        assert expected in letter.last_error or "ValueError" in letter.last_error, letter.last_error
    # A message the log never mentions has no last error (not someone else's).
    empty = "/aws/lambda/other"
    logs.create_log_group(logGroupName=empty)
    assert all(
        d.last_error is None
        for d in list_dlq(aws.sqs, aws.queue_url, logs=logs, worker_log_group=empty, wait_seconds=0)
    )


def test_redrive_moves_every_message_back_and_they_are_then_stored(
    aws: Aws, dead: tuple[list[str], list[str]]
) -> None:
    bodies, _ = dead
    result = redrive(aws.sqs, aws.queue_url, wait_seconds=0)
    assert (result.moved, result.send_failed, result.delete_failed) == (3, 0, 0)
    assert _dlq_bodies(aws) == []
    # The store is healthy again: the worker stores the two good messages; the malformed one fails again.
    store = DynamoStore(aws.dynamodb, aws.logs_table)
    deps = WorkerDeps(store=store)
    esm = EventSourceMapping(aws.sqs, aws.queue_url, lambda e, c: worker.handle(e, deps, c))
    esm.drain(FakeContext(60_000))
    assert sorted(set(esm.bodies_seen)) == sorted(bodies)
    stored = stored_records(aws.dynamodb, aws.logs_table)
    assert sorted(r["message"] for r in stored) == ["record 0", "record 1", "record 2"]
    assert _dlq_bodies(aws) == [bodies[2]]  # the poison message is back in the DLQ after 5 more tries


def test_redrive_can_move_chosen_messages_only(aws: Aws, dead: tuple[list[str], list[str]]) -> None:
    letters = list_dlq(aws.sqs, aws.queue_url, wait_seconds=0)
    chosen = next(d for d in letters if d.tenant_id == "globex")
    result = redrive(aws.sqs, aws.queue_url, message_ids=[chosen.message_id], wait_seconds=0)
    assert result.moved == 1
    remaining = list_dlq(aws.sqs, aws.queue_url, wait_seconds=0)
    assert sorted(d.tenant_id for d in remaining) == ["?", "acme"]  # the others were released, not lost
    moved = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["tenant_id"] for m in moved] == ["globex"]


class PartlyFailing:
    """SQS where the send of the first entry of every batch fails and, optionally, deletes fail."""

    def __init__(self, real: Any, *, fail_deletes: bool = False) -> None:
        self._real = real
        self._fail_deletes = fail_deletes

    def send_message_batch(self, **params: Any) -> dict[str, Any]:
        first, *rest = params["Entries"]
        response: dict[str, Any] = (
            self._real.send_message_batch(QueueUrl=params["QueueUrl"], Entries=rest) if rest else {}
        )
        failed = {"Id": first["Id"], "SenderFault": False, "Code": "InternalError"}
        return {"Successful": response.get("Successful", []), "Failed": [failed]}

    def delete_message_batch(self, **params: Any) -> dict[str, Any]:
        if self._fail_deletes:
            failed = [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in params["Entries"]
            ]
            return {"Successful": [], "Failed": failed}
        response: dict[str, Any] = self._real.delete_message_batch(**params)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _everywhere(aws: Aws) -> list[str]:
    """Every body in the DLQ and the source queue."""
    return _bodies(aws, aws.dlq_url) + _bodies(aws, aws.queue_url)


def test_a_failed_send_leaves_the_message_in_the_dlq(aws: Aws, dead: tuple[list[str], list[str]]) -> None:
    bodies, _ = dead
    result = redrive(PartlyFailing(aws.sqs), aws.queue_url, wait_seconds=0, dlq_url=aws.dlq_url)
    assert result.send_failed >= 1 and result.moved + result.send_failed >= 3
    found = _everywhere(aws)
    assert sorted(set(found)) == sorted(bodies)  # nothing lost
    assert len(found) == 3  # and nothing doubled: a message not sent was not deleted


def test_a_failed_delete_can_only_duplicate_never_lose(aws: Aws, dead: tuple[list[str], list[str]]) -> None:
    bodies, _ = dead
    flaky = PartlyFailing(aws.sqs, fail_deletes=True)
    result = redrive(flaky, aws.queue_url, wait_seconds=0, dlq_url=aws.dlq_url, max_messages=3)
    assert result.moved == 0 and result.delete_failed >= 1
    found = _everywhere(aws)
    assert set(found) == set(bodies)  # every message is somewhere; some are in both queues
    assert len(found) == 3 + result.delete_failed


def test_redrive_is_bounded(aws: Aws, dead: tuple[list[str], list[str]]) -> None:
    assert redrive(aws.sqs, aws.queue_url, max_messages=1, wait_seconds=0).moved == 1
    assert len(list_dlq(aws.sqs, aws.queue_url, wait_seconds=0)) == 2
    late = iter([0.0, 1_000.0])
    stopped = redrive(aws.sqs, aws.queue_url, wait_seconds=0, deadline_seconds=10, clock=lambda: next(late))
    assert stopped.moved == 0 and len(list_dlq(aws.sqs, aws.queue_url, wait_seconds=0)) == 2


def test_start_move_task_asks_sqs_to_move_dlq_to_source(aws: Aws) -> None:
    """SQS's server-side redrive; moto lacks StartMessageMoveTask, so the call is checked on a Stubber."""
    attrs = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["QueueArn", "RedrivePolicy"])
    queue_arn = attrs["Attributes"]["QueueArn"]
    dlq_arn = json.loads(attrs["Attributes"]["RedrivePolicy"])["deadLetterTargetArn"]
    stubber = Stubber(aws.sqs)
    stubber.add_response(
        "get_queue_attributes",
        {"Attributes": attrs["Attributes"]},
        {"QueueUrl": aws.queue_url, "AttributeNames": ["QueueArn", "RedrivePolicy"]},
    )
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "task-1"},
        {"SourceArn": dlq_arn, "DestinationArn": queue_arn, "MaxNumberOfMessagesPerSecond": 50},
    )
    with stubber:
        assert start_move_task(aws.sqs, aws.queue_url, max_per_second=50) == "task-1"
    stubber.assert_no_pending_responses()
