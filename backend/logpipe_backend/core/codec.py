"""The one place that chooses a library for JSON, regex scans and deflate: orjson or ``json``, google-re2
or ``re``, python-isal or ``zlib``. The rest of ``core`` (and the adapters) call what is here and never know
which one they got; the Lambda zip ships none of the optional three, and every function here gives the
same answer without them.

JSON parsing. ``json`` (with the caller's hooks) is the parser of record; orjson is tried first and
anything it refuses goes to the caller's ``json``-based fallback, so errors, and where they point, stay
the strict parser's. That is sound because every text orjson accepts, ``json`` accepts with the same
value, except integers past 64 bits, which orjson turns into floats: :func:`may_hold_big_int` finds the
texts that may hold one (a run of :data:`BIG_INT_DIGITS` digits) and callers parse those with ``json``.
Everything orjson refuses and ``json`` accepts (NaN, Infinity, lone surrogate escapes, nesting past 1,024)
goes to the fallback, whose hooks decide as before.

JSON writing. :func:`compact_encoder` is ``json``'s C encoder built once (``json.dumps`` with options
builds a new encoder on every call); :func:`dumps_list` writes a whole list at once, with orjson where
installed, falling back to ``json`` for what orjson refuses, so what it accepts is what ``json`` accepts.

Scanning. :func:`span_finder` runs one pattern over a whole buffer: RE2 is a DFA, so its cost per byte does
not grow with the number of alternatives that could start at each position, as ``re``'s does.

Deflate. :data:`ZLIB` is ``isal_zlib`` or ``zlib``: the same API and formats, so either inflates what the
other deflated (a queue written by one process is read by another that may lack isal).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterator, Sequence
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any, Final

try:
    import orjson
except ImportError:  # the Lambda zip is stdlib only
    orjson = None  # type: ignore[assignment]
try:
    import re2
except ImportError:
    re2 = None
try:
    from isal import isal_zlib
except ImportError:
    isal_zlib = None  # type: ignore[assignment]


# --- parsing JSON -------------------------------------------------------------------------------------------

# Any integer outside orjson's 64-bit range has at least this many digits.
BIG_INT_DIGITS: Final = 19
# Every digit turned into "0": a text holding a run of BIG_INT_DIGITS digits then holds this.
_DIGITS_TO_ZERO: Final = str.maketrans("123456789", "000000000")
_LONG_DIGIT_RUN: Final = "0" * BIG_INT_DIGITS
# The same for UTF-8 bytes (a JSON number's digits are ASCII), with "[" made "{" too: a caller counting both
# brackets counts "{" in the same translated bytes (see bytes_shape).
_BYTES_SHAPE: Final = bytes.maketrans(b"123456789[", b"000000000{")
_LONG_DIGIT_RUN_BYTES: Final = b"0" * BIG_INT_DIGITS


def may_hold_big_int(text: str) -> bool:
    """Whether ``text`` holds a run of :data:`BIG_INT_DIGITS` digits: an integer orjson would not read
    exactly may be one. Such a text must be parsed with ``json`` (the fallback)."""
    return _LONG_DIGIT_RUN in text.translate(_DIGITS_TO_ZERO)


def bytes_shape(data: bytes) -> bytes:
    """``data`` with every digit turned into "0" and every "[" into "{" (one C-level pass): for
    :func:`shape_may_hold_big_int`, and its count of "{" is ``data``'s count of "{" and "["."""
    return data.translate(_BYTES_SHAPE)


def shape_may_hold_big_int(shape: bytes) -> bool:
    """:func:`may_hold_big_int` of the UTF-8 text whose :func:`bytes_shape` is ``shape``."""
    return _LONG_DIGIT_RUN_BYTES in shape


def loads_with(fallback: Callable[[str], Any]) -> Callable[[str], Any]:
    """A parse function: ``fallback``'s value (or error) for every text, reached faster where orjson accepts
    the text. Callers must not pass a text for which :func:`may_hold_big_int` is true (use ``fallback``)."""
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


def loads_each(texts: Sequence[str] | Sequence[bytes], fallback: Callable[[str], Any]) -> list[Any] | None:
    """The value of every text (str, or UTF-8 bytes), as ``fallback`` reads it, in one C-level loop where
    orjson is installed; None when one of them is refused (by orjson, by UTF-8 decoding or by
    ``fallback``): the caller then takes its path that finds and reports the bad one. Callers must not
    pass texts for which :func:`may_hold_big_int` is true."""
    if orjson is not None:
        try:
            return list(map(orjson.loads, texts))
        except orjson.JSONDecodeError:
            return None
    try:
        strings = [t if type(t) is str else t.decode("utf-8") for t in texts]
        return list(map(fallback, strings))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None


# --- writing JSON -------------------------------------------------------------------------------------------


def compact_encoder(*, allow_nan: bool = True) -> Callable[[Any], str]:
    """What ``json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=allow_nan,
    check_circular=False).encode`` gives, with the C encoder built once instead of on every call.

    Without circular-reference markers: records come from parsed JSON, which cannot hold a cycle (a Python
    caller's cycle ends in RecursionError instead of ValueError)."""
    reference = json.JSONEncoder(
        ensure_ascii=False, separators=(",", ":"), allow_nan=allow_nan, check_circular=False
    )
    if c_make_encoder is None:  # an interpreter without the C accelerator
        return reference.encode
    # The arguments JSONEncoder.iterencode passes (markers, default, encoder, indent, key separator,
    # item separator, sort_keys, skipkeys, allow_nan): the output is encode's, byte for byte.
    scan = c_make_encoder(None, reference.default, encode_basestring, None, ":", ",", False, False, allow_nan)
    join = "".join

    def encode(value: Any) -> str:
        if isinstance(value, str):  # as JSONEncoder.encode: a bare string is one call
            return str(encode_basestring(value))
        return join(scan(value, 0))

    return encode


_STRICT_ENCODE: Final = compact_encoder(allow_nan=False)
# orjson encodes subclasses of str/int/dict/list, datetimes and dataclasses its own way, where json refuses
# the last two and encodes subclasses as their base: passed through, they are refused and json decides.
_DUMPS_OPTION: Final = (
    0
    if orjson is None
    else orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)
_CANNOT_ENCODE: Final = (ValueError, TypeError, UnicodeEncodeError, RecursionError)


def dumps_list(values: list[Any], *, finite: bool = False) -> bytes | None:
    """The compact UTF-8 JSON of the list ``values`` (``json.dumps(values, ensure_ascii=False,
    separators=(",", ":"), allow_nan=False)``), or None when ``json`` refuses it (NaN or ±Infinity, a lone
    surrogate, a value of no JSON type). ``finite``: the caller vouches that no float is NaN or infinite.

    Key order and string escapes are ``json``'s in either case (orjson's are the same: checked for every
    code point); a float with an exponent may be spelled orjson's way (``1e-7`` for ``1e-07``: the same
    value). orjson writes NaN and ±Infinity as ``null``, so where the output holds ``null`` and the caller
    has not vouched, ``json`` gives the verdict. Meant for values of JSON types only (orjson, unlike
    ``json``, would encode a UUID or an Enum).
    """
    if orjson is not None:
        try:
            data = orjson.dumps(values, option=_DUMPS_OPTION)
        except TypeError:  # orjson.JSONEncodeError is one: integers past 64 bits, nesting past 255, ...
            pass
        else:
            if finite or b"null" not in data:
                return data
            try:  # json's verdict only: the bytes stay orjson's, whatever the caller vouched
                _STRICT_ENCODE(values)
            except _CANNOT_ENCODE:
                return None
            return data
    try:
        return _STRICT_ENCODE(values).encode("utf-8")
    except _CANNOT_ENCODE:
        return None


# --- scanning -----------------------------------------------------------------------------------------------

SpanFinder = Callable[[bytes], Iterator[tuple[int, int]]]


def span_finder(pattern: bytes) -> SpanFinder:
    """A function giving ``(start, end)`` of each match of ``pattern`` in a buffer, left to right and not
    overlapping (as ``re.finditer``). Bytes are matched one byte a character (RE2 in Latin-1 mode: its
    default, UTF-8, would read the bytes of a text as characters). ``pattern`` must mean the same to both
    engines (no look-around, no backreferences: RE2 has neither)."""
    if re2 is None:
        finditer = re.compile(pattern).finditer
    else:
        options = re2.Options()
        options.encoding = re2.Options.Encoding.LATIN1
        finditer = re2.compile(pattern, options).finditer

    def spans(data: bytes) -> Iterator[tuple[int, int]]:
        for match in finditer(data):
            yield match.span()

    return spans


# --- deflate ------------------------------------------------------------------------------------------------

ZLIB: Final[Any] = zlib if isal_zlib is None else isal_zlib  # decompressobj, compress, error: zlib's API
ZLIB_ERRORS: Final[tuple[type[Exception], ...]] = (zlib.error, ZLIB.error)


def deflate_is_cheap() -> bool:
    """Whether :data:`ZLIB` is isal's: deflating with the standard library costs several times as much
    (docs/performance.md), enough for a caller to store bytes as they are instead."""
    return isal_zlib is not None
