"""core.redact: a round scans with only the alternatives that may match (``_possible_kinds``); it must find
exactly what the whole built-in regex finds (the reference below is redact_text as it was before)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from logpipe_backend.core import redact
from logpipe_backend.core.redact import Redactor

R = Redactor()


def _reference(text: str) -> tuple[str, int]:
    """redact_text without custom patterns, every round over the whole built-in regex."""
    total = 0
    for _ in range(redact._MAX_ROUNDS):
        count = 0
        if redact._may_hold_builtin(text):
            text, count = redact._scan(redact._BUILTIN_RE, text, redact._builtin_replacement)
        total += count
        if not count:
            break
    return text, total


# Pieces of every kind, their near misses, tokens (whole, cut, in other cases) and separators.
FRAGMENTS = st.sampled_from(
    [
        "password", "Passwd", "passphrase", "secret", "token", "tokens", "api_key", "API-KEY", "apikey",
        "Authorization", "cookie", "Cookie", "pass", "word", "=", ":", ": ", " ", "\t", "\n", '"', "'",
        ",", ";",
        "&", "Bearer ", "bearer", "eyJhbGciOi", "eyJ", ".", "abcDEF_-12", "AKIA", "ASIA", "ABCDEFGHIJKLMNOP",
        "user@example.com", "@", "a.b", "4111 1111 1111 1111", "4111111111111111", "5500-0000-0000-0004",
        "1234567890123", "7", "-", "[REDACTED:secret]", "[REDACTED:bearer]", "[REDACTED:card]", "[REDACTED:",
        "[redacted:secret]", "]", "[", "x", "\u212a", "\u0130", "é", "_",
    ]
)  # fmt: skip
TEXTS = st.one_of(st.lists(FRAGMENTS, max_size=14).map("".join), st.text(max_size=80))


@settings(max_examples=3000, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS)
def test_property_same_as_whole_regex(text: str) -> None:
    assert R.redact_text(text) == _reference(text)


@given(st.dictionaries(st.sampled_from(["note", "password", "email", "k"]), TEXTS, max_size=4), TEXTS)
def test_property_records_same_as_whole_regex(attributes: dict[str, str], message: str) -> None:
    record = {"message": message, "attributes": attributes, "redactions": 0}
    result = R.redact(record)  # type: ignore[arg-type]
    expected_message, count = _reference(message)
    assert result["message"] == expected_message
    assert result["redactions"] >= count


@pytest.mark.parametrize(
    "text",
    [
        "2025-11-26T03:45:43.187Z INFO [search-4] cache miss 595663 in 64ms password=fd77ebba28f3 retrying",
        "password=[REDACTED:secret] token: abc Bearer abcdefghijkl user@example.com 4111 1111 1111 1111",
        "[REDACTED:secret]=x secret[REDACTED:card]=y pass[REDACTED:email]word=z",
        "Cookie: a=1; b=2\nAuthorization: Bearer eyJhbGciOi.eyJzdWIi.sig AKIAABCDEFGHIJKLMNOP",
    ],
)
def test_examples_same_as_whole_regex(text: str) -> None:
    assert R.redact_text(text) == _reference(text)


def test_subset_regex_is_used() -> None:
    # Can fail: a text with an e-mail and nothing else is scanned without the other alternatives.
    assert redact._possible_kinds("mail user@example.com") == 0b100000
    assert redact._possible_kinds("password=[REDACTED:secret]") == 0b10
    assert redact._possible_kinds("x [REDACTED:secret] [REDACTED:bearer]") == 0
