"""Lambda and API Gateway as the tests play them: events shaped like the recorded ones in tests/events/,
a fake Lambda context, and the SQS event source mapping (receive, invoke the worker, delete what it did
not report as failed).
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"


def _recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return data


def ingest_event(
    api_key: str,
    body: bytes | str,
    *,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
    gzip_body: bool = False,
) -> dict[str, Any]:
    event = copy.deepcopy(_recorded("apigw_ingest_json.json"))
    raw = body.encode("utf-8") if isinstance(body, str) else body
    event["headers"] = {
        "authorization": f"Bearer {api_key}",
        "content-type": content_type,
        **{k.lower(): v for k, v in (headers or {}).items()},
    }
    event["requestContext"]["http"]["method"] = method
    if gzip_body:
        event["headers"]["content-encoding"] = "gzip"
        raw = gzip.compress(raw)
    if gzip_body or not isinstance(body, str):
        # API Gateway base64-encodes bodies it does not treat as text.
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    else:
        event["body"], event["isBase64Encoded"] = body, False
    return event


def admin_event(
    params: Mapping[str, str] | Sequence[tuple[str, str]],
    *,
    iam: bool = True,
    method: str = "GET",
    path: str = "/admin/logs",
) -> dict[str, Any]:
    """An admin request as API Gateway 2.0 sends it: repeated parameters joined by commas in
    ``queryStringParameters``, each one in ``rawQueryString``."""
    pairs = list(params.items()) if isinstance(params, Mapping) else list(params)
    event = copy.deepcopy(_recorded("apigw_admin_logs_iam.json"))
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    event["queryStringParameters"] = joined
    event["rawQueryString"] = urllib.parse.urlencode(pairs)
    event["rawPath"] = path
    event["routeKey"] = f"{method} {path}"
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    if not iam:
        del event["requestContext"]["authorizer"]
        event["headers"].pop("authorization", None)
    return event


def tenant_event(api_key: str | None, params: Mapping[str, str], *, method: str = "GET") -> dict[str, Any]:
    """A tenant's ``GET /logs`` with its key (a route without an authorizer), as API Gateway sends it."""
    event = copy.deepcopy(_recorded("apigw_tenant_logs.json"))
    event["queryStringParameters"] = dict(params)
    event["rawQueryString"] = urllib.parse.urlencode(params)
    event["requestContext"]["http"]["method"] = method
    event["headers"].pop("authorization", None)
    if api_key is not None:
        event["headers"]["authorization"] = f"Bearer {api_key}"
    return event


class FakeContext:
    """A Lambda context with scripted remaining time: each call gives the next value, the last repeats."""

    def __init__(self, *remaining_ms: int) -> None:
        self._remaining = list(remaining_ms) or [900_000]
        self.calls = 0
        self.function_name = "logpipe-test-worker"
        self.aws_request_id = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        self.calls += 1
        return self._remaining.pop(0) if len(self._remaining) > 1 else self._remaining[0]


class EventSourceMapping:
    """What Lambda's SQS event source mapping does with ReportBatchItemFailures, made with real SQS calls."""

    def __init__(
        self, sqs: Any, queue_url: str, worker: Callable[[dict[str, Any], Any], dict[str, Any]]
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.worker = worker
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.bodies_seen: list[str] = []

    def poll_once(
        self, context: Any, *, visibility_timeout: int = 30, batch_size: int = 10
    ) -> tuple[int, list[str]]:
        """One receive → invoke → delete round: (messages received, ids the worker reported as failed)."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=batch_size,
            VisibilityTimeout=visibility_timeout,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0, []
        event = {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }
        self.bodies_seen += [m["Body"] for m in messages]
        response = self.worker(event, context)
        failed = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
        for m in messages:
            if m["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return len(messages), failed

    def drain(self, context: Any, *, max_rounds: int = 50, deadline_s: float = 30.0) -> None:
        """Poll until the queue returns nothing (bounded in rounds and time)."""
        started = time.monotonic()
        for _ in range(max_rounds):
            received, _ = self.poll_once(context, visibility_timeout=0)
            if received == 0 or time.monotonic() - started > deadline_s:
                return


class RunningClock:
    """Lambda's clock over a run of invocations, in simulated time: each invocation (:meth:`invoke`) starts
    with ``timeout_ms`` left, and the worker's injected sleep (the simulated work) uses it up. A sleep past
    what is left is what Lambda would have killed: counted in ``overruns``, never waited for."""

    def __init__(self, timeout_ms: int) -> None:
        self.timeout_ms = timeout_ms
        self.remaining_ms = float(timeout_ms)
        self.invocations = 0
        self.overruns = 0
        self.slept_s = 0.0
        self.function_name = "logpipe-test-worker"
        self.aws_request_id = "test-request"

    def invoke(self) -> RunningClock:
        """A new invocation; returns the context to hand the worker."""
        self.invocations += 1
        self.remaining_ms = float(self.timeout_ms)
        return self

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self.remaining_ms))

    def sleep(self, seconds: float) -> None:
        if seconds * 1000 > self.remaining_ms + 1e-6:
            self.overruns += 1
        self.remaining_ms -= seconds * 1000
        self.slept_s += seconds
