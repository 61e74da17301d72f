"""orjson for parsing when it is installed, the standard library when not (Lambda's zip ships none), with
the same results either way.

orjson parses a ~250-byte record in ~0.5 µs against ~2.1 µs for ``json`` (measured), but it is not the
parser of record: :func:`loads_with` tries orjson and, when orjson refuses the text, calls the given
``json``-based ``fallback``, which either returns what ``json`` returns or raises the error ``json``
raises — so the errors (and where they point) stay those of the strict parser. That holds because every
text orjson accepts, ``json`` accepts with the same value, except integers past 64 bits (orjson makes them
floats, ``json`` keeps them exact); :func:`may_hold_big_int` finds those (a run of 19 or more digits,
anywhere in the text), and the caller then takes the ``json`` path for the whole text. Everything orjson
refuses and ``json`` accepts (NaN, Infinity, lone or reversed surrogate escapes, nesting past 1,024) goes
to ``fallback``, whose own hooks refuse or accept it as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

try:
    import orjson
except ImportError:  # the Lambda zip is stdlib only: the json path alone
    orjson = None  # type: ignore[assignment]

# orjson encodes subclasses of str/int/dict/list, datetimes and dataclasses its own way; json refuses the
# last two and encodes subclasses as their base. Passed through, they are refused (see dumps_list).
_DUMPS_OPTION: Final = (
    0
    if orjson is None
    else orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)

# Any integer outside orjson's 64-bit range has at least 19 digits: every digit turned into "0", a text
# holding such a run holds "0" * 19. str.translate is ~0.2 µs per 250-byte record (a regex: ~1.8).
_DIGITS_TO_ZERO: Final = str.maketrans("123456789", "000000000")
_LONG_DIGIT_RUN: Final = "0" * 19
# The same for UTF-8 bytes (the digits a JSON number may hold are ASCII, one byte each), with "[" made "{"
# too: a caller counting both brackets counts "{" in the same translated bytes (one pass less).
_BYTES_SHAPE: Final = bytes.maketrans(b"123456789[", b"000000000{")
_LONG_DIGIT_RUN_BYTES: Final = b"0" * 19


def available() -> bool:
    return orjson is not None


def may_hold_big_int(text: str) -> bool:
    """Whether ``text`` holds a run of 19+ digits (an integer orjson would not parse exactly may be one)."""
    return _LONG_DIGIT_RUN in text.translate(_DIGITS_TO_ZERO)


def bytes_shape(data: bytes) -> bytes:
    """``data`` with every digit turned into "0" and every "[" into "{" (one C-level pass): for
    :func:`shape_may_hold_big_int`, and its count of "{" is ``data``'s count of "{" and "["."""
    return data.translate(_BYTES_SHAPE)


def shape_may_hold_big_int(shape: bytes) -> bool:
    """:func:`may_hold_big_int` of the UTF-8 text whose :func:`bytes_shape` is ``shape`` (the same answer)."""
    return _LONG_DIGIT_RUN_BYTES in shape


def loads_with(fallback: Callable[[str], Any]) -> Callable[[str], Any]:
    """A parse function: orjson's value for a text orjson accepts, else ``fallback(text)`` (value or error).

    Callers must not pass a text for which :func:`may_hold_big_int` is true (use ``fallback`` for it).
    Without orjson it is ``fallback`` itself.
    """
    if orjson is None:
        return fallback
    fast = orjson.loads
    refused = orjson.JSONDecodeError

    def loads(text: str) -> Any:
        try:
            return fast(text)
        except refused:
            return fallback(text)

    return loads


def loads_each(texts: list[str] | list[bytes]) -> list[Any] | None:
    """orjson's value of every text (str, or bytes: orjson refuses bytes that are not UTF-8), or None when
    orjson is missing or refuses one of them (the caller then takes its ``json`` path for all). Callers
    must not pass texts for which :func:`may_hold_big_int` is true."""
    if orjson is None:
        return None
    try:
        return list(map(orjson.loads, texts))
    except orjson.JSONDecodeError:
        return None


def dumps_list(values: list[Any]) -> bytes | None:
    """orjson's compact UTF-8 JSON of the list ``values`` in one call, or None when orjson is missing or
    refuses a value (integers past 64 bits, keys that are not strings, lone surrogates, nesting past 255,
    subclasses of the JSON types, datetimes, dataclasses, and what ``json`` cannot encode either).

    Its bytes are what ``json.dumps(values, ensure_ascii=False, separators=(",", ":"))`` gives (the same
    key order and string escapes: checked for every code point) but for two things a caller must mind:
    floats with an exponent are spelled orjson's way (``1e-7`` for ``1e-07``: the same value), and NaN and
    ±Infinity come out as ``null``, so a caller that must refuse them checks what holds ``null``. Meant
    for values of JSON types only (orjson, unlike ``json``, would also encode a UUID or an Enum).
    """
    if orjson is None:
        return None
    try:
        return orjson.dumps(values, option=_DUMPS_OPTION)
    except TypeError:  # orjson.JSONEncodeError is one
        return None
