"""Splunk HEC through the ingest function: /event, /raw, /health, and HEC's error codes."""

from __future__ import annotations

import gzip
import json

import pytest
from door_fakes import DoorEnv, door_event
from handler_fakes import ACME_KEY

EVENT = "/services/collector/event"
HEADERS = {"authorization": f"Splunk {ACME_KEY}"}


def test_event_batch_of_concatenated_objects() -> None:
    env = DoorEnv()
    body = (
        '{"time": 1764128696.123, "host": "web-1", "source": "app", "sourcetype": "json", "event": "hello",'
        ' "fields": {"region": "eu"}}'
        '{"event": {"message": "structured", "level": "error", "user": 7}}\n'
        '  {"event": {"line": "from docker", "source": "stdout", "tag": "c1"}, "source": "docker"}'
    )
    status, _, out = env.call(door_event(EVENT, body, HEADERS))
    assert status == 200 and json.loads(out) == {"text": "Success", "code": 0}
    first, second, third = env.records()
    assert first["message"] == "hello" and first["timestamp"] == "2025-11-26T03:44:56.123Z"
    assert first["attributes"] == {"region": "eu", "host": "web-1", "source": "app", "sourcetype": "json"}
    assert (
        second["message"] == "structured"
        and second["level"] == "error"
        and second["attributes"] == {"user": 7}
    )
    assert third["message"] == "from docker" and third["attributes"] == {"source": "stdout", "tag": "c1"}


@pytest.mark.parametrize("path", ["/services/collector", "/services/collector/event/1.0"])
def test_event_aliases(path: str) -> None:
    env = DoorEnv()
    assert env.call(door_event(path, '{"event": "x"}', HEADERS))[0] == 200
    assert env.records()[0]["message"] == "x"


def test_raw_lines_gzipped() -> None:
    env = DoorEnv()
    body = gzip.compress(b"ERROR first\nsecond\n")
    status, _, _ = env.call(
        door_event("/services/collector/raw", body, {**HEADERS, "content-encoding": "gzip"})
    )
    assert status == 200
    assert [(r["message"], r["level"]) for r in env.records()] == [
        ("ERROR first", "error"),
        ("second", "info"),
    ]


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        ('{"event": "x"}', {}, 401, 2),
        ('{"event": "x"}', {"authorization": "Splunk lp_wrong"}, 403, 4),
        ("", HEADERS, 400, 5),
        ("   ", HEADERS, 400, 5),
        ('{"event": "x"} nope', HEADERS, 400, 6),
        ('{"event": "x"} [1]', HEADERS, 400, 6),
        ('{"time": 1}', HEADERS, 400, 12),
        ('{"event": ""}', HEADERS, 400, 13),
        ('{"event": "x", "fields": 3}', HEADERS, 400, 6),
        ('{"event": {"tenant_id": "beta"}}', HEADERS, 403, 4),
        ('{"event": {"v": NaN}}', HEADERS, 400, 6),
        ('{"event": ' + "[" * 100 + "]" * 100 + "}", HEADERS, 413, 6),
    ],
)
def test_errors_carry_hec_codes(body: str, headers: dict[str, str], status: int, code: int) -> None:
    env = DoorEnv()
    got, _, out = env.call(door_event(EVENT, body, headers))
    answer = json.loads(out)
    assert (got, answer["code"]) == (status, code), answer
    assert answer["text"]
    assert env.queue.bodies == []


def test_invalid_event_number_names_the_bad_event() -> None:
    env = DoorEnv()
    _, _, out = env.call(door_event(EVENT, '{"event": "a"}{"event": "b"}{"nope": 1}', HEADERS))
    assert json.loads(out)["invalid-event-number"] == 2


def test_busy_is_503_code_9_with_retry_after() -> None:
    env = DoorEnv(max_depth=1)
    env.queue.depth_override = 3
    status, headers, out = env.call(door_event(EVENT, '{"event": "x"}', HEADERS))
    assert status == 503 and json.loads(out)["code"] == 9 and int(headers["retry-after"]) > 0
    status, _, out = env.call(door_event("/services/collector/health", method="GET"))
    assert status == 503 and json.loads(out)["code"] == 18


def test_health_and_options() -> None:
    env = DoorEnv()
    status, _, out = env.call(door_event("/services/collector/health", method="GET"))
    assert status == 200 and json.loads(out) == {"text": "HEC is healthy", "code": 17}
    assert env.call(door_event("/services/collector/event/1.0", method="OPTIONS"))[0] == 200
    assert env.call(door_event(EVENT, method="GET"))[0] == 405
