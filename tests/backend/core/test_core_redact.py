"""core.redact: every kind, records, idempotency, hostile input; hypothesis properties."""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from logpipe_backend import settings as backend_settings
from logpipe_backend.core import codec, redact
from logpipe_backend.core.envelope import pack, unpack_with_text
from logpipe_backend.core.ingest import serialize
from logpipe_backend.core.record import Record
from logpipe_backend.core.redact import Redactor, is_secret_key
from luhn import luhn_complete

R = Redactor()


def _record(message: str = "", attributes: dict[str, Any] | None = None, redactions: int = 0) -> Record:
    return {
        "tenant_id": "acme",
        "log_id": "01KAXR0S3V0000000000000000",
        "timestamp": "2025-11-26T03:44:56.123Z",
        "received_at": "2025-11-26T03:44:56.123Z",
        "level": "info",
        "message": message,
        "attributes": attributes if attributes is not None else {},
        "source": "json",
        "redactions": redactions,
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


JWT = ".".join(
    [
        _b64url(b'{"alg":"HS256","typ":"JWT"}'),
        _b64url(b'{"sub":"1234567890","name":"J"}'),
        _b64url(b"sig" * 10),
    ]
)


# --- each kind -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail bob.smith+tag@example.co.uk now", "mail [REDACTED:email] now"),
        ("<alice@example.com>", "<[REDACTED:email]>"),
        ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"),
        ("card 4111-1111-1111-1111", "card [REDACTED:card]"),
        ("card 4111111111111111.", "card [REDACTED:card]."),
        ("amex 378282246310005", "amex [REDACTED:card]"),
        ("mc 5555555555554444 x", "mc [REDACTED:card] x"),
        ("4111 1111 1111 1111 7 trailing digit", "[REDACTED:card] 7 trailing digit"),
        ("key AKIAIOSFODNN7EXAMPLE here", "key [REDACTED:aws_key] here"),
        ("ASIAY34FZKBOKMUTVV7A", "[REDACTED:aws_key]"),
        (f"jwt {JWT} end", "jwt [REDACTED:jwt] end"),
        ("Bearer abcdefghijklmnop", "Bearer [REDACTED:bearer]"),
        ("bearer  abc123DEF456.x_y-z~+/==", "bearer  [REDACTED:bearer]"),
        ("password=hunter2 user=bob", "password=[REDACTED:secret] user=bob"),
        ("db_password: hunter2", "db_password: [REDACTED:secret]"),
        ('{"api_key": "k-123", "n": 1}', '{"api_key": "[REDACTED:secret]", "n": 1}'),
        ("{'secret': 'a b c'}", "{'secret': '[REDACTED:secret]'}"),
        ("x-api-key=abc&next=1", "x-api-key=[REDACTED:secret]&next=1"),
        ("GET /cb?access_token=abc.def&state=1", "GET /cb?access_token=[REDACTED:secret]&state=1"),
        ("Authorization: Bearer abc.def", "Authorization: [REDACTED:secret]"),
        ("authorization=Basic dXNlcjpwYXNz", "authorization=[REDACTED:secret]"),
        ("Cookie: theme=dark; session=abc123", "Cookie: [REDACTED:secret]"),
        ("set-cookie: sid=1; HttpOnly\nnext line", "set-cookie: [REDACTED:secret]\nnext line"),
        ("PASSWD = s3cr3t", "PASSWD = [REDACTED:secret]"),
        ('password="has spaces inside"', 'password="[REDACTED:secret]"'),
        ("APIKEY:xyz", "APIKEY:[REDACTED:secret]"),
        ("client_secret=abc, other=1", "client_secret=[REDACTED:secret], other=1"),
        ("password=a@b.com", "password=[REDACTED:secret]"),
    ],
)
def test_kinds(text: str, expected: str) -> None:
    assert R.redact_text(text) == (expected, 1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "plain message",
        "card 4111 1111 1111 1112 fails luhn",
        "epoch 1764128696123 ms",  # 13 digits starting with 1: not a card network
        "order 12345678901234567890123",  # far too many digits
        "AKIAIOSFODNN7EXAMPL",  # 19 chars
        "AKIAIOSFODNN7EXAMPLEX",  # 21 chars
        "Bearer of bad news",
        "prompt_tokens: 512",
        "tokenizer=bpe",
        "password=",
        'password=""',
        "not an email: a@b",
        "user@localhost",
        "version 1.2@3.4",
        "eyJ short.x.y",
        "2025-11-26 12:34:56.789",
    ],
)
def test_not_secrets(text: str) -> None:
    assert R.redact_text(text) == (text, 0)


def test_counts_each_secret() -> None:
    text = "a@b.com c@d.org 4111111111111111 AKIAIOSFODNN7EXAMPLE password=x"
    out, count = R.redact_text(text)
    assert count == 5
    assert out == (
        "[REDACTED:email] [REDACTED:email] [REDACTED:card] [REDACTED:aws_key] password=[REDACTED:secret]"
    )


def test_secret_keys() -> None:
    for key in [
        "password",
        "PASSWORD",
        "db_passwd",
        "passphrase",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "api_key",
        "apikey",
        "x-api-key",
        "Authorization",
        "cookie",
        "Set-Cookie",
    ]:
        assert is_secret_key(key), key
    for key in ["user", "tokens", "prompt_tokens", "tokenizer", "host", "pass", "path"]:
        assert not is_secret_key(key), key


# --- records ---------------------------------------------------------------------------------------------


def test_redact_record() -> None:
    record = _record(
        "login by bob@example.com",
        {
            "user": {"email": "bob@example.com", "password": "hunter2", "age": 30},
            "headers": {"Authorization": "Bearer abcdefghijkl", "Accept": "*/*"},
            "api_key": 12345,
            "token": {"nested": ["a", "b"]},
            "list": ["x", "card 4111 1111 1111 1111", {"secret": None}],
            "password_set": True,
            "cookie": "",
            "n": 1.5,
        },
    )
    out = R.redact(record)
    assert out["message"] == "login by [REDACTED:email]"
    assert out["attributes"] == {
        "user": {"email": "[REDACTED:email]", "password": "[REDACTED:secret]", "age": 30},
        "headers": {"Authorization": "[REDACTED:secret]", "Accept": "*/*"},
        "api_key": "[REDACTED:secret]",
        "token": "[REDACTED:secret]",
        "list": ["x", "card [REDACTED:card]", {"secret": None}],
        "password_set": True,
        "cookie": "",
        "n": 1.5,
    }
    assert out["redactions"] == 7
    # The input is left alone, every other field is kept.
    assert record["attributes"]["user"]["password"] == "hunter2"
    assert {k: v for k, v in out.items() if k not in ("message", "attributes", "redactions")} == {
        k: v for k, v in record.items() if k not in ("message", "attributes", "redactions")
    }


def test_redact_dict_keys() -> None:
    out = R.redact(_record("", {"bob@example.com": {"visits": 3}}))
    assert out["attributes"] == {"[REDACTED:email]": {"visits": 3}}
    assert out["redactions"] == 1


def test_redactions_add_up_and_second_pass_counts_nothing() -> None:
    once = R.redact(_record("a@b.com", {"password": "x"}, redactions=0))
    assert once["redactions"] == 2
    twice = R.redact(once)
    assert twice == once


def test_record_without_secrets_is_equal() -> None:
    record = _record("hello", {"a": [1, {"b": "c"}]})
    assert R.redact(record) == record


def test_redact_keeps_client_log_id() -> None:
    record = _record("x")
    record["client_log_id"] = "abc"
    assert R.redact(record)["client_log_id"] == "abc"


# --- custom patterns -------------------------------------------------------------------------------------


def test_custom_patterns() -> None:
    redactor = Redactor([r"ORD-\d{6}", r"(?i)internal-[a-z]+", "  "])
    assert redactor.redact_text("order ORD-123456 and Internal-Host") == (
        "order [REDACTED:custom] and [REDACTED:custom]",
        2,
    )
    out, _ = redactor.redact_text("ORD-123456")
    assert redactor.redact_text(out) == (out, 0)


def test_custom_pattern_cannot_eat_tokens() -> None:
    redactor = Redactor([r"REDACTED", r"[a-z]+"])
    out, count = redactor.redact_text("a@b.com hello")
    assert out == "[REDACTED:email] [REDACTED:custom]"
    assert count == 2
    assert redactor.redact_text(out) == (out, 0)


def test_custom_pattern_matching_empty_is_harmless() -> None:
    redactor = Redactor([r"x*"])
    assert redactor.redact_text("abc") == ("abc", 0)
    assert redactor.redact_text("axxb") == ("a[REDACTED:custom]b", 1)


def test_invalid_custom_pattern_raises_at_construction() -> None:
    import re

    with pytest.raises(re.error):
        Redactor(["(unclosed"])


def test_patterns_from_env() -> None:
    patterns = backend_settings.redact_patterns(
        {"LOGPIPE_REDACT_PATTERNS": "ORD-\\d+\n\n  \nSECRET_[A-Z]+\n"}
    )
    redactor = Redactor(patterns)
    assert redactor.redact_text("ORD-1 SECRET_X") == ("[REDACTED:custom] [REDACTED:custom]", 2)
    assert Redactor(backend_settings.redact_patterns({})).redact_text("ORD-1") == ("ORD-1", 0)


def test_patterns_from_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGPIPE_REDACT_PATTERNS", "ZZZ+")
    assert Redactor(backend_settings.redact_patterns()).redact_text("a ZZZZ") == ("a [REDACTED:custom]", 1)


# --- hostile input ---------------------------------------------------------------------------------------

N = 256 * 1024


@pytest.mark.parametrize(
    "text",
    [
        "a" * N,
        "token" * (N // 5),
        "password" * (N // 8) + "=",
        "eyJ" * (N // 3),
        "eyJaaaaa." * (N // 9),
        "a@" * (N // 2),
        "a@b." * (N // 4),
        "a." * (N // 2) + "@",
        "4 " * (N // 2),
        "4" * N,
        "4111 " * (N // 5),
        'password="' * (N // 10),
        'password="\\' * (N // 11),
        "Bearer " * (N // 7),
        "AKIA" * (N // 4),
        "cookie:" + "x" * N,
        "[REDACTED:" * (N // 10),
    ],
)
def test_hostile_strings_take_linear_time(text: str) -> None:
    started = time.perf_counter()
    out, _ = R.redact_text(text)
    assert R.redact_text(out)[1] == 0
    assert time.perf_counter() - started < 3.0, len(text)


def test_typical_record_is_fast() -> None:
    record = _record(
        "GET /api/v1/items?page=2 200 12ms",
        {
            "host": "web-1",
            "path": "/api/v1/items",
            "status": 200,
            "ms": 12.5,
            "ua": "curl/8.5.0",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "region": "eu-west-1",
        },
    )
    started = time.perf_counter()
    for _ in range(10_000):
        R.redact(record)
    assert time.perf_counter() - started < 3.0


# --- properties ------------------------------------------------------------------------------------------

NOISE = st.text(max_size=40)


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(["4", "51", "55", "2221", "34", "37", "6011", "62", "35"]))
    length = draw(st.integers(13, 19))
    body = prefix + "".join(str(draw(st.integers(0, 9))) for _ in range(length - len(prefix) - 1))
    candidate = luhn_complete(body)
    separator = draw(st.sampled_from(["", " ", "-"]))
    return separator.join(candidate[i : i + 4] for i in range(0, len(candidate), 4))


B64URL = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=0, max_size=60
)


def _jwt(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    return f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(payload).encode())}.{signature}"


JWTS = st.builds(
    _jwt,
    st.fixed_dictionaries({"alg": st.sampled_from(["HS256", "RS256", "none"]), "typ": st.just("JWT")}),
    st.dictionaries(
        st.text(min_size=1, max_size=5), st.integers() | st.text(max_size=10), min_size=1, max_size=4
    ),
    B64URL,
)
AWS_KEYS = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(["AKIA", "ASIA"]),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=16),
)
BEARER_TOKENS = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/", min_size=12, max_size=60
)
SECRET_VALUES = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz0123456789", min_size=10, max_size=30
)
KEYS = st.builds(
    lambda pre, name, post: pre + name + post,
    st.sampled_from(["", "db_", "x-", "client_", "my."]),
    st.sampled_from(
        [
            "password",
            "passwd",
            "secret",
            "token",
            "api_key",
            "apikey",
            "api-key",
            "authorization",
            "Password",
            "SECRET",
            "Token",
        ]
    ),
    st.sampled_from(["", "_value", "-id", "2"]),
)
KV_FORMS = st.sampled_from(["{k}={v}", "{k}: {v}", '"{k}": "{v}"', "{k} = '{v}'", '{k}="{v}"'])


def _embed(noise_before: str, secret_text: str, noise_after: str) -> str:
    return f"{noise_before} {secret_text} {noise_after}"


def _assert_gone(text: str, secret: str) -> tuple[str, int]:
    assume(text.count(secret) == 1)  # the noise around it may happen to contain it too
    out, count = R.redact_text(text)
    assert secret not in out, (text, out)
    assert count >= 1
    again, more = R.redact_text(out)
    assert (again, more) == (out, 0)
    return out, count


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(NOISE, st.emails(), NOISE)
def test_property_emails_are_removed(before: str, email: str, after: str) -> None:
    _assert_gone(_embed(before, email, after), email)


@given(NOISE, cards(), NOISE)
def test_property_cards_are_removed(before: str, card: str, after: str) -> None:
    _assert_gone(_embed(before, card, after), card)


@given(NOISE, AWS_KEYS, NOISE)
def test_property_aws_keys_are_removed(before: str, key: str, after: str) -> None:
    _assert_gone(_embed(before, key, after), key)


@given(NOISE, JWTS, NOISE)
def test_property_jwts_are_removed(before: str, jwt: str, after: str) -> None:
    _assert_gone(_embed(before, jwt, after), jwt)


@given(NOISE, st.sampled_from(["Bearer", "bearer", "BEARER"]), BEARER_TOKENS, NOISE)
def test_property_bearer_tokens_are_removed(before: str, scheme: str, token: str, after: str) -> None:
    _assert_gone(_embed(before, f"{scheme} {token}", after), token)


@given(NOISE, KEYS, SECRET_VALUES, KV_FORMS, NOISE)
def test_property_key_values_are_removed(before: str, key: str, value: str, form: str, after: str) -> None:
    _assert_gone(_embed(before, form.format(k=key, v=value), after), value)


@given(st.lists(st.one_of(st.emails(), cards(), AWS_KEYS, JWTS), min_size=1, max_size=4), NOISE)
def test_property_several_secrets(secrets: list[str], noise: str) -> None:
    text = noise + " " + " ; ".join(secrets) + " " + noise
    out, count = R.redact_text(text)
    for secret in secrets:
        assert secret not in out
    assert count >= len(set(secrets)) or count >= 1
    assert R.redact_text(out) == (out, 0)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_property_any_text_never_raises_and_is_idempotent(text: str) -> None:
    out, count = R.redact_text(text)
    assert count >= 0
    assert (count == 0) == (out == text)
    assert R.redact_text(out) == (out, 0)


SECRETISH = st.sampled_from(
    [
        "a@b.com",
        "4111 1111 1111 1111",
        "AKIAIOSFODNN7EXAMPLE",
        JWT,
        "Bearer abcdefghijkl",
        "password=x",
        "token: y",
        "[REDACTED:email]",
        "[REDACTED:",
        "@",
        "eyJ",
        "=",
        ":",
        '"',
        "'",
        "\n",
        "\ud800",
        " ",
    ]
)
TEXTS = st.lists(SECRETISH | st.text(max_size=8), max_size=8).map("".join)
JSON_LIKE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXTS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            TEXTS | st.sampled_from(["password", "token", "email", "Cookie", "x"]), children, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    TEXTS,
    st.dictionaries(st.text(max_size=10) | st.sampled_from(["password", "api_key"]), JSON_LIKE, max_size=5),
)
def test_property_records_never_raise_and_are_idempotent(message: str, attributes: dict[str, Any]) -> None:
    record = _record(message, attributes)
    once = R.redact(record)
    assert once["redactions"] >= 0
    twice = R.redact(once)
    assert twice == once
    assert (once["redactions"] == 0) == (once == record)


@given(TEXTS)
def test_property_mixed_secret_text_is_idempotent(text: str) -> None:
    out, _ = R.redact_text(text)
    assert R.redact_text(out) == (out, 0)


# The whole-record pre-check the worker uses to skip redaction (and re-encoding) of most records: a plain
# per-record oracle, written here, for the one-scan Redactor.json_to_redact. Every built-in match needs one
# of these hints in ASCII lower case, or 13 digits with only spaces/dashes between them; a "\u" escape could
# hide any of them; nothing is known of extra patterns.
_HINT_RE = re.compile(
    rb"@|\\u|passw|passp|secret|token|api[_\-]?key|authorization|cookie|bearer|eyj|akia|asia"
)
_DIGITS_TABLE = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))


def _leaves_json_unchanged(redactor: Redactor, text: str) -> bool:
    """True only when redaction would leave the record whose JSON ``text`` is unchanged (oracle)."""
    if redactor._custom:
        return False
    raw = text.encode("utf-8", "surrogatepass")
    if _HINT_RE.search(raw.lower()) is not None:
        return False
    return b"0" * 13 not in raw.translate(_DIGITS_TABLE, b" -")


def _json(record: Record) -> str:
    return serialize(record).decode("utf-8")


def test_leaves_json_unchanged_for_a_record_without_secrets() -> None:
    record = _record("GET /api/v1/users 200 in 12 ms", {"http": {"status": 200, "path": "/x"}, "n": [1, 2]})
    # (_record's log id ends in 16 zeros, which looks like a card number to the cheap check.)
    assert not _leaves_json_unchanged(R, _json(record))
    record["log_id"] = "01KAXR0S3VQ7W2M5Z8HJKN4TBE"
    assert _leaves_json_unchanged(R, _json(record))
    assert R.redact(record) == record


@pytest.mark.parametrize(
    "message",
    [
        "mail bob@example.com",
        "card 4111 1111 1111 1111",
        "card 4111-1111-1111-1111",
        "key AKIAIOSFODNN7EXAMPLE",
        "Authorization: Bearer abcdefgh12345678",
        "password=hunter2",
        "PassWord: x",
        "api-key=1",
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        "\\u0040 is an escaped at",  # the JSON holds a \u escape: anything could hide behind one
    ],
)
def test_leaves_json_unchanged_is_false_when_a_secret_may_be_there(message: str) -> None:
    assert not _leaves_json_unchanged(R, _json(_record(message)))


def test_leaves_json_unchanged_looks_at_keys_and_nested_values() -> None:
    assert not _leaves_json_unchanged(R, _json(_record("x", {"db": {"Token": 12345}})))
    assert not _leaves_json_unchanged(R, _json(_record("x", {"a": ["b", {"c": "x@y.io"}]})))
    # A character written as a \u escape in the JSON text is caught even when it decodes to a hint.
    escaped = '{"message":"a\\u0040b.io"}'
    assert json.loads(escaped)["message"] == "a@b.io"
    assert not _leaves_json_unchanged(R, escaped)


def test_leaves_json_unchanged_is_false_with_custom_patterns() -> None:
    custom = Redactor(["CUST-[0-9]{6}"])
    assert not _leaves_json_unchanged(custom, _json(_record("nothing here")))


HINTY = st.lists(
    st.sampled_from(
        [
            "token", "TOKEN", "tok", "en", "pass", "word", "Passwd", "secret", "api", "_", "-", "key",
            "authorization", "cookie", "Bearer ", "eyJ", "AKIA", "ASIA", "@", "=", ": ", '"', "\\", "\n",
            "4111", "1111", " ", "-", "5", "\u212a", "\u0130", "\ufffe", "\x01", "é", "[REDACTED:email]",
        ]
    )
    | st.text(max_size=4),
    max_size=12,
).map("".join)  # fmt: skip
HINTY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | HINTY,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(HINTY, children, max_size=3),
    max_leaves=10,
)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(HINTY, st.dictionaries(HINTY, HINTY_JSON, max_size=4))
def test_property_leaves_json_unchanged_only_when_redact_changes_nothing(
    message: str, attributes: dict[str, Any]
) -> None:
    record = _record(message, attributes)
    record["log_id"] = "01KAXR0S3VQ7W2M5Z8HJKN4TBE"  # no run of digits: the check can answer True
    try:
        text = _json(record)
    except (ValueError, UnicodeEncodeError):
        assume(False)  # a lone surrogate: not a record ingest can produce
        return
    if _leaves_json_unchanged(R, text):
        assert R.redact(record) == record
    # The text the worker sees went through pack's escaping too: the same must hold of it.
    [body] = pack("acme", [text.encode("utf-8")])
    [stored] = unpack_with_text(body, R.json_to_redact)[2]
    if stored is not None and _leaves_json_unchanged(R, stored):
        assert R.redact(record) == record


# --- json_to_redact: the whole-message form of the check (one scan, RE2 or re as codec chose) ------------


def _re_hints() -> Any:
    """The message scan as the Lambda zip runs it: re instead of RE2."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(codec, "re2", None)
        return redact._message_hints()


@pytest.fixture(params=["re2", "re"])
def scan_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: with RE2 (skipped where it is not installed) and with re (Lambda)."""
    if request.param == "re2" and codec.re2 is None:
        pytest.skip("google-re2 is not installed")
    if request.param == "re":
        monkeypatch.setattr(redact, "_MESSAGE_HINTS", _re_hints())
    return str(request.param)


def _per_record(texts: list[str | None]) -> list[int]:
    return [i for i, text in enumerate(texts) if text is None or not _leaves_json_unchanged(R, text)]


CLEAN = '{"message":"GET /x 200","n":[1,2]}'


@pytest.mark.parametrize(
    "texts",
    [
        [],
        [CLEAN],
        [CLEAN, None, CLEAN],
        [CLEAN, '{"m":"a@b.io"}', CLEAN],
        ['{"m":"x"}', '{"Token":1}', '{"m":"\\u0040"}', CLEAN, '{"m":"AKIA"}'],
        ['{"m":"eyJ"}', CLEAN, '{"m":"4111 1111-1111  1"}', '{"m":"411111111111"}'],  # 13 digits; 12
        ["@", CLEAN, "@"],  # a hint that is a whole text, first and last
        ['{"m":"é Bearer"}', '{"m":"\U0001f600"}', '{"m":"ßecret SECRET"}'],  # non-ASCII around hints
        ['{"m":"\ud800 passwd"}', CLEAN],  # a lone surrogate (surrogatepass, as the oracle)
        ['{"m":"\u212aookie"}', CLEAN],  # KELVIN SIGN: not a "k" to ASCII lower-casing, nor to the check
    ],
)
def test_json_to_redact_flags_what_the_per_record_check_flags(
    scan_path: str, texts: list[str | None]
) -> None:
    assert R.json_to_redact(texts) == _per_record(texts)


def test_json_to_redact_flags_both_texts_of_a_hint_across_their_boundary(scan_path: str) -> None:
    # Never so in the worker (its texts are JSON objects: a brace on each side), but mapped soundly anyway.
    texts = ["x tok", "en y", CLEAN, "1234567", "890123 z", "a-1-2", "-3-4-5-6-7-8-9-0-1-2-3"]
    flagged = R.json_to_redact(texts)
    assert set(_per_record(texts)) <= set(flagged)
    assert flagged == [0, 1, 3, 4, 5, 6]


def test_with_extra_patterns_every_text_is_flagged(scan_path: str) -> None:
    assert Redactor(["CUST-[0-9]{6}"]).json_to_redact([CLEAN, CLEAN]) == [0, 1]


TEXT_PIECES = st.lists(
    st.sampled_from(["{", "}", '"', ",", "0", "4111", " ", "-", "\\u", "é", "\ud800", "\U0001f600"]) | HINTY,
    max_size=6,
).map("".join)


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.none() | TEXT_PIECES, max_size=8))
def test_property_json_to_redact_passes_only_what_the_per_record_check_passes(
    texts: list[str | None],
) -> None:
    expected = _per_record(texts)
    flagged = R.json_to_redact(texts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(redact, "_MESSAGE_HINTS", _re_hints())
        assert R.json_to_redact(texts) == flagged  # re finds what RE2 finds
    assert flagged == sorted(set(flagged))
    assert set(expected) <= set(flagged)  # sound: never passes a text the per-record check flags
    joined = [text or "" for text in texts]
    for i in set(flagged) - set(expected):
        # Only a hint across a boundary flags more: some run of texts around this one, joined, holds a hint.
        runs = ("".join(joined[a:b]) for a in range(i + 1) for b in range(i + 1, len(texts) + 1))
        assert any(not _leaves_json_unchanged(R, run) for run in runs)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(HINTY, st.dictionaries(HINTY, HINTY_JSON, max_size=3)), min_size=1, max_size=6))
def test_property_a_record_the_message_scan_passes_is_one_redaction_leaves_unchanged(
    cases: list[tuple[str, dict[str, Any]]],
) -> None:
    # Records packed into one message as the worker sees it, secrets and hints anywhere in any record (at
    # its start or end too), ASCII or not; the same must hold on both paths.
    raws = []
    records = []
    for message, attributes in cases:
        record = _record(message, attributes)
        record["log_id"] = "01KAXR0S3VQ7W2M5Z8HJKN4TBE"
        try:
            raws.append(serialize(record))
        except (ValueError, UnicodeEncodeError):
            assume(False)  # a lone surrogate: not a record ingest can produce
        records.append(record)
    [body] = pack("acme", raws, max_bytes=10**7)
    _, _, texts, _ = unpack_with_text(body, R.json_to_redact)
    expected = _per_record(texts)
    for hints in (redact._MESSAGE_HINTS, _re_hints()):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(redact, "_MESSAGE_HINTS", hints)
            flagged = R.json_to_redact(texts)
        assert flagged == expected  # JSON objects side by side: no hint across a boundary
        for i in set(range(len(records))) - set(flagged):
            assert R.redact(records[i]) == records[i]
