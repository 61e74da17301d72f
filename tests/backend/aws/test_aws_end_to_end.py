"""End to end on moto: the real Lambda entry points through real boto3 calls.

ingest handler → SQS (SendMessageBatch) → messages actually received → worker handler → DynamoDB
(BatchWriteItem) → admin handler (Query) returns them, one tenant's only. Dependencies are built by
``logpipe_backend.wiring`` from the same environment variables Terraform sets, with the moto-backed
clients injected.
"""

from __future__ import annotations

import json

from aws_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    aws_fixture,
    fake_credentials_fixture,
    lambdas_fixture,
    query,
)
from aws_lambda_sim import EventSourceMapping, FakeContext, admin_event, ingest_event
from logpipe_backend.adapters.aws.sqs import SqsQueue
from logpipe_backend.adapters.aws.tenants import DynamoKeyStore
from logpipe_backend.core.envelope import expand, pack
from logpipe_backend.lambdas import admin, ingest, worker


def _keys(aws: Aws) -> tuple[str, str]:
    store = DynamoKeyStore(aws.dynamodb, aws.tenants_table)
    return store.create_tenant("acme"), store.create_tenant("globex")


def _esm(aws: Aws) -> EventSourceMapping:
    return EventSourceMapping(aws.sqs, aws.queue_url, worker.handler)


def test_ingest_queue_worker_store_admin_per_tenant(lambdas: Aws) -> None:
    aws = lambdas
    acme, globex = _keys(aws)
    seed = ingest.handler(
        ingest_event(acme, json.dumps({"tenant_id": "acme", "log_id": "123", "text": "hello"})), FakeContext()
    )
    assert seed["statusCode"] == 202, seed
    batch = [
        {"level": "error", "message": f"login by bob{i}@example.com", "password": "hunter2"}
        for i in range(30)
    ]
    many = ingest.handler(ingest_event(acme, json.dumps(batch)), FakeContext())
    assert many["statusCode"] == 202 and json.loads(many["body"])["accepted"] == 30
    text = ingest.handler(
        ingest_event(
            globex,
            "2026-11-26T03:44:50Z WARN token=abc123 expired\n",
            content_type="text/plain",
            gzip_body=True,
        ),
        FakeContext(),
    )
    assert text["statusCode"] == 202, text
    assert aws.log.of("SendMessageBatch"), "ingest must have sent to SQS"

    esm = _esm(aws)
    esm.drain(FakeContext(60_000))
    assert len(esm.bodies_seen) == 3  # one message per request: records are packed together
    depth = aws.sqs.get_queue_attributes(QueueUrl=aws.queue_url, AttributeNames=["All"])["Attributes"]
    assert (
        depth["ApproximateNumberOfMessages"] == "0" and depth["ApproximateNumberOfMessagesNotVisible"] == "0"
    )

    acme_items = query({"tenant": "acme", "limit": "1000"})["items"]
    assert len(acme_items) == 31 and {r["tenant_id"] for r in acme_items} == {"acme"}
    hello = next(r for r in acme_items if r.get("client_log_id") == "123")
    assert hello["message"] == "hello" and hello["log_id"] == json.loads(seed["body"])["log_ids"][0]
    errors = [r for r in acme_items if r["level"] == "error"]
    assert len(errors) == 30
    assert all("@example.com" not in r["message"] and "hunter2" not in json.dumps(r) for r in errors)
    assert all(r["redactions"] >= 2 for r in errors)

    globex_items = query({"tenant": "globex"})["items"]
    assert [r["level"] for r in globex_items] == ["warn"]
    assert "abc123" not in globex_items[0]["message"]
    assert query({"tenant": "initech"})["items"] == []

    # Filters and paging through the real handler and the cursor it encodes.
    page = query({"tenant": "acme", "limit": "20", "order": "asc"})
    rest = query({"tenant": "acme", "limit": "20", "order": "asc", "cursor": page["next_cursor"]})
    assert len(page["items"]) == 20 and len(rest["items"]) == 11 and rest["next_cursor"] is None
    assert {r["log_id"] for r in page["items"]}.isdisjoint(r["log_id"] for r in rest["items"])


def test_a_large_request_travels_compressed_and_is_stored(lambdas: Aws) -> None:
    # Over one 64 KiB billed chunk: the message goes out as a v2 (compressed) envelope, and the worker,
    # fed by the event source mapping from real ReceiveMessage calls, stores every record.
    aws = lambdas
    acme, _ = _keys(aws)
    batch = [{"level": "info", "message": f"GET /api/v1/users/{i} 200 in {i % 50} ms"} for i in range(2_000)]
    batch[7]["message"] = "login by carol@example.com"
    response = ingest.handler(ingest_event(acme, json.dumps(batch)), FakeContext())
    assert response["statusCode"] == 202, response
    sent = [e["MessageBody"] for call in aws.log.of("SendMessageBatch") for e in call["Entries"]]
    assert len(sent) == 1 and json.loads(sent[0])["v"] == 2
    assert len(sent[0]) < len(expand(sent[0])) // 3

    esm = _esm(aws)
    esm.drain(FakeContext(60_000))
    items = query({"tenant": "acme", "limit": "1000", "order": "asc"})["items"]
    items += query({"tenant": "acme", "limit": "1000", "order": "asc", "after": items[-1]["log_id"]})["items"]
    assert [r["log_id"] for r in items] == json.loads(response["body"])["log_ids"]
    assert items[7]["message"] == "login by [REDACTED:email]" and items[7]["redactions"] == 1
    assert items[1999]["message"] == batch[1999]["message"]


def test_the_admin_handler_refuses_an_unsigned_event(lambdas: Aws) -> None:
    response = admin.handler(admin_event({"tenant": "acme"}, iam=False), FakeContext())
    assert response["statusCode"] == 401


def test_ingest_refuses_unknown_keys_and_queues_nothing(lambdas: Aws) -> None:
    _keys(lambdas)
    response = ingest.handler(ingest_event("lp_" + "n" * 43, '{"message": "x"}'), FakeContext())
    assert response["statusCode"] == 401
    assert not lambdas.log.of("SendMessageBatch")


def test_a_retried_request_with_an_idempotency_key_is_stored_once(lambdas: Aws) -> None:
    acme, _ = _keys(lambdas)
    body = json.dumps([{"message": f"m{i}"} for i in range(5)])
    first = ingest.handler(ingest_event(acme, body, headers={"Idempotency-Key": "batch-1"}), FakeContext())
    second = ingest.handler(ingest_event(acme, body, headers={"Idempotency-Key": "batch-1"}), FakeContext())
    assert first["statusCode"] == second["statusCode"] == 202
    assert json.loads(first["body"])["log_ids"] == json.loads(second["body"])["log_ids"]
    other = ingest.handler(ingest_event(acme, "[]x", headers={"Idempotency-Key": "batch-1"}), FakeContext())
    assert other["statusCode"] == 400  # malformed: refused before any claim
    reused = ingest.handler(
        ingest_event(acme, json.dumps([{"message": "different"}]), headers={"Idempotency-Key": "batch-1"}),
        FakeContext(),
    )
    assert reused["statusCode"] == 422
    _esm(lambdas).drain(FakeContext(60_000))
    assert len(query({"tenant": "acme"})["items"]) == 5


def test_a_poison_message_reaches_the_dlq_after_5_receives_and_its_batch_is_stored(lambdas: Aws) -> None:
    aws = lambdas
    good = [
        json.dumps(
            {
                "tenant_id": "acme",
                "log_id": f"01KAZ479SV65DH4C98VGTRN8{i:02d}",
                "timestamp": "2026-11-26T03:44:56.123Z",
                "received_at": "2026-11-26T03:44:56.123Z",
                "level": "info",
                "message": f"good {i}",
                "attributes": {},
                "source": "json",
                "redactions": 0,
            }
        ).encode()
        for i in range(3)
    ]
    poison = '{"v":1,"tenant_id":"acme","records":[{"not":"a record"}]}'
    bodies = [pack("acme", good[:2])[0], poison, pack("acme", good[2:])[0]]
    SqsQueue(aws.sqs, aws.queue_url).send(bodies)

    esm = _esm(aws)
    failures_seen = 0
    for _ in range(20):  # bounded; visibility 0 so a failed message comes straight back
        received, failed = esm.poll_once(FakeContext(60_000), visibility_timeout=0)
        if received == 0:
            break
        failures_seen += len(failed)
    assert esm.bodies_seen.count(poison) == 5  # received 5 times (maxReceiveCount), then moved
    assert failures_seen == 5
    dlq = aws.sqs.receive_message(QueueUrl=aws.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in dlq] == [poison]
    stored = query({"tenant": "acme", "order": "asc"})["items"]
    assert [r["message"] for r in stored] == ["good 0", "good 1", "good 2"]


def test_the_worker_stops_taking_messages_when_time_runs_short_and_nothing_is_lost(lambdas: Aws) -> None:
    aws = lambdas
    acme, _ = _keys(aws)
    for i in range(4):
        response = ingest.handler(ingest_event(acme, json.dumps({"message": f"request {i}"})), FakeContext())
        assert response["statusCode"] == 202
    esm = _esm(aws)
    # Plenty of time for the first message, then the clock runs short: the rest must not be started.
    context = FakeContext(60_000, 1_000)
    received, failed = esm.poll_once(context, visibility_timeout=0)
    # The three not started were re-queued as new messages and acknowledged: no receive counts toward the
    # DLQ (issue 12).
    assert received == 4 and failed == []
    assert len(query({"tenant": "acme"})["items"]) == 1
    fresh = aws.sqs.receive_message(QueueUrl=aws.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
    assert [m["Attributes"]["ApproximateReceiveCount"] for m in fresh["Messages"]] == ["1"] * 3
    for m in fresh["Messages"]:
        aws.sqs.change_message_visibility(
            QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
        )
    # They come back and are stored by the next invocation.
    esm.drain(FakeContext(60_000))
    messages = sorted(r["message"] for r in query({"tenant": "acme"})["items"])
    assert messages == [f"request {i}" for i in range(4)]
    assert aws.sqs.receive_message(QueueUrl=aws.dlq_url).get("Messages") is None
