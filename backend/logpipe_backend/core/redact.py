"""Redaction of secrets in a record before it is stored (docs/contract.md §2).

Kinds, each replaced by ``[REDACTED:<kind>]``:

- ``secret``  the value of a key named like password/passwd/passphrase, secret, token (not tokens/tokenizer),
              api_key/apikey/api-key, authorization, cookie: as a JSON key anywhere in ``attributes`` (a
              value of any type but null/boolean/empty, which hide nothing), and in text as ``key=value``,
              ``key: value``, ``"key": "value"`` (a cookie's value runs to the end of the line, so every
              pair of a ``Cookie:`` header goes)
- ``bearer``  the token after ``Bearer``
- ``jwt``     three base64url parts, the first starting ``eyJ`` (base64 of ``{"``)
- ``aws_key`` AWS access key ids (``AKIA``/``ASIA`` + 16)
- ``email``   e-mail addresses
- ``card``    13–19 digits (single spaces or dashes between allowed) that pass the Luhn check and start
              with 2–6, the first digits of the card networks (Mastercard 2/5, Amex/JCB/Diners 3, Visa 4,
              Discover/UnionPay/Maestro 6) — which keeps epoch-ms timestamps (1…) from looking like cards
- ``custom``  each extra pattern (``LOGPIPE_REDACT_PATTERNS``, one regex a line)

All built-in kinds are alternatives of one regex compiled once and scanned left to right, so a secret is
replaced by the kind that starts first (``password=a@b.c`` is one ``secret``). Every alternative begins at
a boundary (look-behind) and uses possessive/atomic parts, so a hostile string costs linear time. Tokens
are never matched again (values that already are ``[REDACTED:…]`` are skipped) and a string is redacted
until a round finds nothing, which makes redaction idempotent: a second pass changes and counts nothing.
Strings with none of the characters a secret needs are skipped by a cheap pre-check (most attribute
values are such strings).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from itertools import accumulate
from typing import Any, Final

from logpipe_backend.core import codec
from logpipe_backend.core.record import Record

TOKEN_RE: Final = re.compile(r"\[REDACTED:[a-z_]+\]")

_NAMES: Final = r"pass(?:word|wd|phrase)|secret|token(?!s|iz)|api[_-]?key|authorization|cookie"
_SECRET_KEY_RE: Final = re.compile(_NAMES, re.IGNORECASE | re.ASCII)
_KEY_CHARS: Final = r"A-Za-z0-9_.\-"
_NOT_TOKEN: Final = r"(?!\[REDACTED:)"
# The local part of an address: RFC 5322 atext and dots.
_LOCAL: Final = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-"
_B64URL: Final = r"A-Za-z0-9_\-"
_MAX_QUOTED: Final = 4096  # a quoted value longer than this is redacted only up to its first space


def _key(names: str) -> str:
    """A key containing one of ``names`` (starting at a word boundary), its closing quote and separator."""
    k = _KEY_CHARS
    return rf"(?<![{k}])(?>[{k}]*?(?i:{names})[{k}]*+)[\"']?[ \t]*+[=:][ \t]*+"


def _value(prefix: str, bare: str) -> str:
    """A key's value: double-quoted, single-quoted, or ``bare`` (after a stray quote). Group ``<prefix>_v``
    + 1/2/3 is the part replaced, so quotes and the key stay as they were."""
    return (
        rf"\"(?P<{prefix}_v1>{_NOT_TOKEN}(?:[^\"\\\r\n]|\\.){{1,{_MAX_QUOTED}}}+)\""
        rf"|'(?P<{prefix}_v2>{_NOT_TOKEN}[^'\r\n]{{1,{_MAX_QUOTED}}}+)'"
        rf"|[\"']?(?P<{prefix}_v3>{_NOT_TOKEN}{bare})"
    )


_SCHEME: Final = rf"(?:(?i:bearer|basic|digest|token|negotiate)[ \t]++{_NOT_TOKEN})?"
_COOKIE_VALUE: Final = r"[^\r\n\"']++"  # a cookie's value runs to the end of the line (every pair)
_KV_VALUE: Final = _SCHEME + r"[^\s,;&\"'<>]++"  # a scheme word (Authorization: Bearer x), one token
_BEARER: Final = rf"(?<![{_B64URL}])(?i:bearer)[ \t]++(?P<bearer_v>{_NOT_TOKEN}[A-Za-z0-9._~+/\-]{{8,}}+=*)"
_JWT: Final = rf"(?<![{_B64URL}])eyJ[{_B64URL}]{{5,}}+\.[{_B64URL}]{{5,}}+\.[{_B64URL}]*+"
_AWS_KEY: Final = r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"
_EMAIL: Final = rf"(?<![{_LOCAL}])[{_LOCAL}]++@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z][A-Za-z0-9\-]*+"
_CARD: Final = r"(?<![0-9])[2-6](?:[ \-]?[0-9]){12,18}(?![0-9])"
_SKIP_ALTERNATIVE: Final = r"(?P<skip>\[REDACTED:[a-z_]+\])"
# The built-in kinds' alternatives, in the order they are tried at each position.
_ALTERNATIVES: Final = (
    f"(?P<cookie>{_key('cookie')}(?:{_value('cookie', _COOKIE_VALUE)}))",
    f"(?P<kv>{_key(_NAMES)}(?:{_value('kv', _KV_VALUE)}))",
    f"(?P<bearer>{_BEARER})",
    f"(?P<jwt>{_JWT})",
    f"(?P<aws_key>{_AWS_KEY})",
    f"(?P<email>{_EMAIL})",
    f"(?P<card>{_CARD})",
)
_BUILTIN_PATTERN: Final = "|".join((_SKIP_ALTERNATIVE, *_ALTERNATIVES))
_BUILTIN_RE: Final = re.compile(_BUILTIN_PATTERN, re.ASCII)
# Pre-check for cards (see _may_hold_builtin for the rest): 13 digits, maybe with separators in between.
_CARD_MIN_CHARS: Final = 13
# Shorter than this, only an e-mail or a key=value secret can be in a string: a bearer token or a JWT
# takes 15 characters at least, an AWS key id 20, a card 13.
_SHORT_CHARS: Final = 13
_SCALARS: Final = (int, float, bool)  # values with nothing to redact
_CARD_HINT_RE: Final = re.compile(r"[2-6](?:[ \-]?[0-9]){12}", re.ASCII)

# The whole-message pre-check (Redactor.json_to_redact). Every built-in match needs, in ASCII upper or lower
# case, one of these words (the names of secret keys, "bearer", "eyj" of a JWT, "akia"/"asia" of an AWS key
# id), an "@" (e-mail), or 13 digits with only spaces/dashes between them (a card: _CARD_HINT); a JSON "\u"
# escape could hide any of them. Every string of a record (message, keys, values) appears in its JSON
# verbatim but for JSON's short escapes (\" \\ \/ \b \f \n \r \t), none of which is part of a hint.
_SECRET_HINTS: Final = (
    rb"@|\\u|passw|passp|secret|token|api[_\-]?key|authorization|cookie|bearer|eyj|akia|asia"
)
_CARD_HINT: Final = rb"[0-9](?:[ \-]*[0-9]){12}"
# Not a secret: the worker's other need, owned here rather than left to the card hint (which happens to
# cover it today): every run of codec.BIG_INT_DIGITS digits, so that unpack_with_text reads an integer
# past 64 bits exactly (see Redactor.json_to_redact).
_BIG_INT_HINT: Final = rb"[0-9]{%d}" % codec.BIG_INT_DIGITS


def _message_hints(card_hint: bytes = _CARD_HINT) -> codec.SpanFinder:
    """One scan for every hint over a whole message's bytes. (?i) rather than lower-casing the bytes first:
    the hints' letters match either ASCII case (were some other Latin-1 character to fold to one, it
    would only flag more)."""
    return codec.span_finder(rb"(?i)" + _SECRET_HINTS + rb"|" + card_hint + rb"|" + _BIG_INT_HINT)


_MESSAGE_HINTS: Final = _message_hints()


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = ord(char) - 48
        if position % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _token(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def _replace_group(m: re.Match[str], group: str, kind: str) -> str:
    """The match with only ``group`` replaced by the token of ``kind``."""
    start, end = m.span(group)
    whole = m.group()
    offset = m.start()
    return whole[: start - offset] + _token(kind) + whole[end - offset :]


def _replace_value(m: re.Match[str], prefix: str) -> str:
    for group in (f"{prefix}_v1", f"{prefix}_v2", f"{prefix}_v3"):
        if m.start(group) >= 0:
            return _replace_group(m, group, "secret")
    return _token("secret")  # not reached: one value alternative always matched


_CARD_SEPARATORS: Final = re.compile(r"[ \-]")


def _card(m: re.Match[str]) -> tuple[str, int] | None:
    """The longest Luhn-valid card (13+ digits, ending at a group boundary) at the start of the match.

    The regex takes as many digits as it can (up to 19), so a card followed by `` 7`` first comes with that
    digit; shorter candidates ending where a separator follows are tried before giving up.
    """
    text = m.group()
    ends = [len(text), *reversed([sep.start() for sep in _CARD_SEPARATORS.finditer(text)])]
    for end in ends:
        digits = _CARD_SEPARATORS.sub("", text[:end])
        if len(digits) < 13:
            break
        if _luhn_ok(digits):
            return _token("card"), m.start() + end
    return None


def _builtin_replacement(m: re.Match[str]) -> tuple[str, int] | None:
    """(replacement, end of the replaced span) for a built-in match; None when it is not a secret after
    all (no Luhn-valid card in the digits)."""
    kind = m.lastgroup
    if kind == "skip":
        return m.group(), m.end()
    if kind == "cookie" or kind == "kv":
        return _replace_value(m, kind), m.end()
    if kind == "bearer":
        return _replace_group(m, "bearer_v", "bearer"), m.end()
    if kind == "card":
        return _card(m)
    return _token(kind or "secret"), m.end()


def _may_hold_builtin(text: str) -> bool:
    """False when no built-in kind can match: a cheap test that skips most strings. (An ``or`` chain of
    ``in`` tests: no generator or regex set-up for the many short strings it sees.)"""
    if len(text) < _SHORT_CHARS:
        if "@" in text:
            return True
        if "=" not in text and ":" not in text:
            return False
    lowered = text.lower()
    if "@" in text or "eyj" in lowered or "akia" in lowered or "asia" in lowered or "bearer" in lowered:
        return True
    if ("=" in text or ":" in text) and ("cookie" in lowered or _names_a_secret(lowered)):
        return True
    return len(text) >= _CARD_MIN_CHARS and _CARD_HINT_RE.search(text) is not None


def _names_a_secret(lowered: str) -> bool:
    """Whether lower-cased text holds one of the secret key names other than cookie."""
    return (
        "passw" in lowered
        or "passp" in lowered
        or "secret" in lowered
        or "token" in lowered
        or "apikey" in lowered
        or "api_key" in lowered
        or "api-key" in lowered
        or "authorization" in lowered
    )


def _possible_kinds(text: str) -> int:
    """A bit per alternative of _ALTERNATIVES (bit i: the i-th) that may match somewhere in ``text``.

    Each bit tests what every match of its kind holds (as _may_hold_builtin), outside tokens: no key,
    bearer, JWT, AWS key id, e-mail or card can take its name or its ``:`` from ``[REDACTED:…]`` (a key
    there is followed by ``]``, a bearer word by ``]``; the others need characters a token lacks).
    """
    if "[REDACTED:" in text:
        text = TOKEN_RE.sub(" ", text)
    lowered = text.lower()
    kinds = 0
    if "=" in text or ":" in text:
        if "cookie" in lowered:
            kinds |= 0b11  # cookie, and kv (whose names hold "cookie")
        elif _names_a_secret(lowered):
            kinds |= 0b10
    if "bearer" in lowered:
        kinds |= 0b100
    if "eyj" in lowered:
        kinds |= 0b1000
    if "akia" in lowered or "asia" in lowered:
        kinds |= 0b10000
    if "@" in text:
        kinds |= 0b100000
    if len(text) >= _CARD_MIN_CHARS and _CARD_HINT_RE.search(text) is not None:
        kinds |= 0b1000000
    return kinds


_KIND_REGEXES: dict[int, re.Pattern[str]] = {}


def _builtin_regex(kinds: int) -> re.Pattern[str]:
    """The built-in regex with only the alternatives of ``kinds`` (and skip), compiled once per subset.

    Where the others cannot match anywhere in a text, it finds the same matches there as _BUILTIN_RE (at
    each position the same alternative matches first, the same way), at a fraction of the cost: ``re``
    tries every alternative at every position.
    """
    regex = _KIND_REGEXES.get(kinds)
    if regex is None:
        chosen = [alt for bit, alt in enumerate(_ALTERNATIVES) if kinds >> bit & 1]
        regex = _KIND_REGEXES[kinds] = re.compile("|".join((_SKIP_ALTERNATIVE, *chosen)), re.ASCII)
    return regex


Replacer = Callable[[re.Match[str]], "tuple[str, int] | None"]


def _scan(regex: re.Pattern[str], text: str, replace: Replacer) -> tuple[str, int]:
    """Replace matches left to right; a match ``replace`` rejects is rescanned from its next character."""
    out: list[str] = []
    pos = 0
    count = 0
    size = len(text)
    search = regex.search
    m = search(text, pos)
    while m is not None:
        start = m.start()
        result = replace(m) if m.end() > start else None
        if result is None:
            # Not a secret (or an empty match of a custom pattern): other secrets may start inside it.
            out.append(text[pos : start + 1])
            pos = start + 1
        else:
            replacement, end = result
            out.append(text[pos:start])
            out.append(replacement)
            if replacement != text[start:end]:
                count += 1
            pos = end
        if pos >= size:
            break
        m = search(text, pos)
    if not count:
        return text, 0
    out.append(text[pos:])
    return "".join(out), count


def is_secret_key(key: str) -> bool:
    """Whether a JSON key names a secret."""
    return _SECRET_KEY_RE.search(key) is not None


_KEY_CACHE_SIZE: Final = 10_000
_MAX_ROUNDS: Final = 8  # redact_text converges in 2 rounds; the bound is for odd custom patterns
_SKIP: Final = "logpipe_token"  # a group name no user pattern is likely to use


def _compile_custom(pattern: str) -> re.Pattern[str]:
    try:
        # Existing tokens first, so a custom pattern cannot match inside one (keeps redaction idempotent).
        return re.compile(rf"(?P<{_SKIP}>\[REDACTED:[a-z_]+\])|(?:{pattern})")
    except re.error:
        # e.g. a pattern that starts with global flags, which must stay first: use it on its own.
        return re.compile(pattern)


def _custom_replacement(m: re.Match[str]) -> tuple[str, int] | None:
    if _SKIP in m.re.groupindex and m.start(_SKIP) >= 0:
        return m.group(), m.end()
    return _token("custom"), m.end()


def _is_token(value: Any) -> bool:
    return isinstance(value, str) and TOKEN_RE.fullmatch(value) is not None


class Redactor:
    """Redacts records; built once per process (patterns compiled once), then used for every record."""

    def __init__(self, extra_patterns: Sequence[str] = ()) -> None:
        """``extra_patterns``: regexes of further secrets (kind ``custom``); re.error if one is invalid."""
        self._custom = [_compile_custom(p) for p in extra_patterns if p.strip()]
        # JSON keys repeat in every record: remember (redacted key, count, names a secret) per key.
        self._keys: dict[str, tuple[str, int, bool]] = {}

    def redact_text(self, text: str) -> tuple[str, int]:
        """``text`` with every secret replaced, and how many were.

        Repeated until a round finds nothing: a replacement changes what a later pattern sees next to it
        (its look-behind sees ``]`` instead of the secret's last character), and the result must be what
        a second redaction leaves unchanged. Text with secrets takes two rounds, text without one.
        """
        total = 0
        for _ in range(_MAX_ROUNDS):
            count = 0
            # A round where no kind may match (the second one, mostly: only tokens left) finds nothing.
            kinds = _possible_kinds(text) if _may_hold_builtin(text) else 0
            if kinds:
                text, count = _scan(_builtin_regex(kinds), text, _builtin_replacement)
            for regex in self._custom:
                text, found = _scan(regex, text, _custom_replacement)
                count += found
            total += count
            if not count:
                break
        return text, total

    def json_to_redact(self, texts: Sequence[str | None]) -> list[int]:
        """The indices, in order, of the texts that may hold a secret (the records :meth:`redact` may
        change), of None, and of the texts holding a run of ``codec.BIG_INT_DIGITS`` digits.

        The worker stores the ~99 % of records holding no secret as the JSON they arrived in, and passes
        this as the screen of ``envelope.unpack_with_text``, which relies on it to flag every text that
        may hold an integer past 64 bits (_BIG_INT_HINT: a rule of its own, not the card hint's accident).
        One scan of all texts' bytes joined: each match is mapped to every text it overlaps (from the one
        holding its start to the one holding its end). Sound: a hint matches wherever it does in a text,
        and the scan reports matches left to right without overlap, so wherever a hint starts in a text,
        a reported match starts there or covers that position. A match across two texts flags both. With
        extra patterns every text is flagged (nothing is known about them).
        """
        if self._custom:
            return list(range(len(texts)))
        encoded = [b"" if text is None else text.encode("utf-8", "surrogatepass") for text in texts]
        starts = list(accumulate(map(len, encoded), initial=0))  # text i is [starts[i], starts[i + 1])
        flagged = {i for i, text in enumerate(texts) if text is None}
        for start, end in _MESSAGE_HINTS(b"".join(encoded)):
            flagged.update(range(bisect_right(starts, start) - 1, bisect_right(starts, end - 1)))
        return sorted(flagged)

    def _redact_value(self, value: Any) -> tuple[Any, int]:
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, dict):
            return self._redact_dict(value)
        if isinstance(value, list):
            total = 0
            items = []
            for item in value:
                new, found = self._redact_value(item)
                items.append(new)
                total += found
            return (items, total) if total else (value, 0)
        return value, 0

    def _redact_key(self, key: str) -> tuple[str, int, bool]:
        cached = self._keys.get(key)
        if cached is None:
            new_key, found = self.redact_text(key)
            # Judged on the redacted key without its tokens ("[REDACTED:secret]" names no secret), so a
            # second pass over the result decides the same way.
            secret = is_secret_key(TOKEN_RE.sub("", new_key) if "[REDACTED:" in new_key else new_key)
            if len(self._keys) >= _KEY_CACHE_SIZE:
                self._keys.clear()
            cached = self._keys[key] = (new_key, found, secret)
        return cached

    def _redact_dict(self, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
        total = 0
        result: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(key, str):
                new_key, found, secret = self._redact_key(key)
                total += found
            else:
                new_key, secret = key, False
            if secret:
                if value is None or isinstance(value, bool) or value == "" or _is_token(value):
                    new_value = value  # nothing to hide, or hidden already
                else:
                    new_value = _token("secret")
                    total += 1
            elif type(value) is str and not self._custom and not _may_hold_builtin(value):
                new_value = value  # the common case, decided without two calls and a loop per string
            elif value is None or type(value) in _SCALARS:
                new_value = value
            else:
                new_value, found = self._redact_value(value)
                total += found
            result[new_key] = new_value
        return (result, total) if total else (data, 0)

    def redact(self, record: Record) -> Record:
        """A new record with ``message`` and every string in ``attributes`` redacted; ``redactions`` grows
        by the number of secrets replaced (0 on a record that was redacted already)."""
        message, in_message = self.redact_text(record["message"])
        attributes, in_attributes = self._redact_dict(record["attributes"])
        result: Record = {**record}
        result["message"] = message
        result["attributes"] = attributes
        result["redactions"] = record.get("redactions", 0) + in_message + in_attributes
        return result
