"""The SDK's one choice of optional speed-ups: orjson or ``json`` to read records, isal or zlib for gzip.

Both are optional at run time (a minimal install may lack them) and nothing else in the SDK imports them:
the rest calls :func:`loads`, :data:`orjson` (for ``classify_lines``' own loop) and :func:`gzip`, and gets
the same results either way. The SDK never imports the backend, so this is its own copy of the rules the
backend's ``core/codec.py`` follows.

JSON: ``json`` is the parser of record. A text orjson refuses goes to ``json`` (its value or its error);
a text that may hold an integer past 64 bits (a run of 19 or more digits) goes to ``json`` directly, as
orjson would make it a float; every other text orjson accepts, ``json`` accepts with the same value. Lone
surrogates: a ``str`` holding one cannot be UTF-8 encoded for orjson, so ``json`` judges it.

gzip: isal's igzip and zlib both write standard gzip, which the server (and any gzip reader) inflates the
same. isal's levels are not zlib's (0-3, other trade-offs), so only level 1, the SDK's default, goes to
isal; any other level is zlib's, byte for byte. ``mtime=0``: a retried batch is byte-identical, which the
server's Idempotency-Key check relies on (it compares a digest of the body).
"""

from __future__ import annotations

import gzip as _gzip
import json
from typing import Any, Final

__all__ = ["FAST_GZIP_LEVEL", "JSON_DECODER", "gzip", "igzip", "loads", "may_hold_big_int", "orjson"]

try:
    import orjson
except ImportError:  # optional: without it, json alone
    orjson = None  # type: ignore[assignment]

try:
    from isal import igzip
except ImportError:  # optional: the standard library's gzip
    igzip = None  # type: ignore[assignment]

FAST_GZIP_LEVEL = 1


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# The parser of record: strict JSON (NaN and Infinity refused, as the server refuses them). Built once:
# json.loads with options builds a new decoder on every call, on the hot path of `logpipe send`.
JSON_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)

# Every digit turned into "0": a text holding 19+ digits in a row then holds "0" * 19. bytes.translate on
# the encoded text, not str.translate or a regex: those cost several times the parse they guard.
_BYTE_DIGITS_TO_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_DIGITS_TO_ZERO: Final = str.maketrans("123456789", "000000000")
_LONG_DIGIT_RUN: Final = "0" * 19
_LONG_DIGIT_RUN_BYTES: Final = b"0" * 19


def may_hold_big_int(text: str) -> bool:
    """Whether ``text`` holds a run of 19+ digits (an integer orjson would not parse exactly may be one)."""
    return _LONG_DIGIT_RUN in text.translate(_DIGITS_TO_ZERO)


def loads(text: str) -> Any:
    """``JSON_DECODER.decode(text)``: its value or its error, by orjson when that gives the same."""
    fast = orjson
    if fast is None:
        return JSON_DECODER.decode(text)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate in the str: json's business (it may accept it)
        return JSON_DECODER.decode(text)
    if _LONG_DIGIT_RUN_BYTES in data.translate(_BYTE_DIGITS_TO_ZERO):
        return JSON_DECODER.decode(text)
    try:
        return fast.loads(data)
    except fast.JSONDecodeError:
        return JSON_DECODER.decode(text)


def gzip(data: bytes, level: int) -> bytes:
    """``data`` as one gzip member at zlib ``level`` (level 1 through isal when installed), mtime 0."""
    if igzip is not None and level == FAST_GZIP_LEVEL:
        return igzip.compress(data, compresslevel=FAST_GZIP_LEVEL, mtime=0)
    return _gzip.compress(data, compresslevel=level, mtime=0)
