"""Characters SQS refuses never reach SQS unescaped, and every character arrives exactly (issue #5, AWS).

SQS accepts only #x9 #xA #xD #x20-#xD7FF #xE000-#xFFFD #x10000-#x10FFFF in a message body; moto accepts
anything, so the spy of aws_fixtures checks every SendMessageBatch body (a violation fails the test at
teardown) and this test checks again explicitly. The records go the whole way on moto: ingest → SQS →
worker → DynamoDB → admin, and come back character for character.

Lone surrogates cannot be a character of a record: a JSON ``"\\ud800"`` escape and the UTF-8-like bytes of
a surrogate (``ED A0 80``) are both refused with 400 before anything is queued, and a surrogate *pair*
written as escapes is the one character it stands for.
"""

from __future__ import annotations

import json

import pytest
from aws_security_fixtures import (  # noqa: F401  (fixtures)
    Aws,
    FakeContext,
    aws_fixture,
    create_tenants,
    drain,
    fake_credentials_fixture,
    ingest_event,
    lambdas_fixture,
    query,
)
from logpipe_backend.core.envelope import sqs_safe
from logpipe_backend.lambdas import ingest

# Each refused by SQS when raw (except U+2028/9, ANSI's ESC is, DEL/C1 are allowed but nasty on terminals).
STRANGE = {
    "nul": "\x00",
    "c0": "\x01\x08\x0b\x0c\x1f",
    "ansi": "\x1b[31mred\x1b[0m \x1b]0;title\x07",
    "del_c1": "\x7f\x85\x9b",
    "fffe": "\ufffe",
    "ffff": "\uffff",
    "line_separators": "\u2028\u2029",
    "bom": "\ufeff",
    "private_and_astral": "\ue000\U0010fffd\U0001f600",
    "tab_cr": "a\tb\rc",
}


def _json_body(tenant: str) -> str:
    records = [
        {
            "tenant_id": tenant,
            "message": f"<{name}:{chars}>",
            "detail": {f"key{chars}": [chars, {"deep": chars}]},
        }
        for name, chars in STRANGE.items()
    ]
    # ensure_ascii: the body carries \\u escapes, as most JSON clients send them.
    return json.dumps(records, ensure_ascii=True)


def test_every_character_travels_exactly_and_sqs_never_sees_a_refused_one(lambdas: Aws) -> None:
    key = create_tenants(lambdas, "acme")["acme"]
    as_json = ingest.handler(ingest_event(key, _json_body("acme")), FakeContext())
    assert as_json["statusCode"] == 202, as_json
    # The same characters raw, in UTF-8 JSON and in text lines (no line breaks inside a text record).
    raw_json = json.dumps({"message": "".join(STRANGE.values()), "raw": True}, ensure_ascii=False)
    assert ingest.handler(ingest_event(key, raw_json.encode("utf-8")), FakeContext())["statusCode"] == 202
    text_lines = [v for k, v in STRANGE.items() if k not in ("tab_cr", "line_separators")]
    text = "".join(f"line {chars} end\n" for chars in text_lines).encode("utf-8")
    response = ingest.handler(ingest_event(key, text, content_type="text/plain"), FakeContext())
    assert response["statusCode"] == 202, response

    bodies = [e["MessageBody"] for call in lambdas.log.of("SendMessageBatch") for e in call["Entries"]]
    assert len(bodies) == 3 and all(sqs_safe(b) for b in bodies)
    for char in "\x00\x01\x1b\ufffe\uffff":  # the raw character is never in a body, only its escape
        assert not any(char in b for b in bodies)

    esm = drain(lambdas)
    assert esm.bodies_seen and all(sqs_safe(b) for b in esm.bodies_seen)
    items = query({"tenant": "acme", "order": "asc", "limit": "1000"})["items"]
    by_message = {r["message"]: r for r in items}
    for name, chars in STRANGE.items():
        record = by_message[f"<{name}:{chars}>"]
        assert record["attributes"]["detail"] == {f"key{chars}": [chars, {"deep": chars}]}, name
    assert by_message["".join(STRANGE.values())]["attributes"] == {"raw": True}
    for chars in text_lines:
        assert f"line {chars} end" in by_message, repr(chars)
    assert len(items) == len(STRANGE) + 1 + len(text_lines)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"message": "lone \\ud800 high"}', "application/json"),
        ('{"message": "lone \\udfff low"}', "application/json"),
        ('{"message": "reversed \\ude00\\ud83d"}', "application/json"),
        ('{"k\\ud800": "in a key"}', "application/json"),
        ('{"message": "x"}\n{"message": "\\udbff"}\n', "application/x-ndjson"),
        (b'{"message": "raw surrogate \xed\xa0\x80"}', "application/json"),
        (b"text with a surrogate \xed\xb0\x80\n", "text/plain"),
        (b"overlong nul \xc0\x80\n", "text/plain"),
    ],
)
def test_a_lone_surrogate_is_refused_before_anything_is_queued(
    lambdas: Aws, body: str | bytes, content_type: str
) -> None:
    key = create_tenants(lambdas, "acme")["acme"]
    response = ingest.handler(ingest_event(key, body, content_type=content_type), FakeContext())
    assert response["statusCode"] == 400, response
    assert json.loads(response["body"])["error"]["code"] in ("invalid_json", "invalid_utf8")
    assert not lambdas.log.of("SendMessageBatch")


def test_a_surrogate_pair_is_the_character_it_stands_for(lambdas: Aws) -> None:
    key = create_tenants(lambdas, "acme")["acme"]
    body = '{"message": "smile \\ud83d\\ude00"}'
    assert ingest.handler(ingest_event(key, body), FakeContext())["statusCode"] == 202
    drain(lambdas)
    (record,) = query({"tenant": "acme"})["items"]
    assert record["message"] == "smile \U0001f600"
