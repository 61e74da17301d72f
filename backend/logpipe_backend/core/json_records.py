"""JSON and NDJSON bodies → raw records, strictly and within the limits (used by :mod:`.body`).

A record is a JSON object, or a JSON string: a text record, as one line of a text body but free to hold
line breaks (a stack trace that ``logpipe send --multiline`` joined; its first line gives its time, level
and format).

Strict means what a store can keep and a client meant: NaN, Infinity and floats that overflow to infinity
are refused (``json`` accepts them), so are integers past Python's digit limit and lone surrogate escapes
(``"\\ud800"``, which no UTF-8 store can hold). Nesting is measured breadth-first over the parsed
containers, never recursively; the C parser's own recursion guard (about 1,000 levels) is caught, so a
100,000-deep ``[[[[…`` costs a few microseconds. The fast path is one ``json.loads``-equivalent call
per body or line; a body that could hold far more values than records are allowed is read item by item.
"""

from __future__ import annotations

import json
import json.scanner
import re
from collections.abc import Callable
from typing import Any, Final, NoReturn, cast

from logpipe_backend.core import codec
from logpipe_backend.core.errors import ApiError, bad_request, too_large
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.lines import nonblank_lines

_BOM: Final = "\ufeff"
_ESCAPED_BYTE_RE: Final = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a bad byte
_JSON_WS: Final = " \t\n\r"  # the only whitespace JSON allows
_WS: Final = re.compile(r"[ \t\n\r]*")
_ARRAY_SEPARATORS: Final = (",", "]")
# A JSON body is parsed in one call (fastest) unless it could hold more values than this many per allowed
# record: then item by item, stopping at the record limit (see _parse_json_array).
_VALUES_PER_RECORD: Final = 64
# A \u escape of a surrogate (D800–DFFF). Its presence is the only way a parsed string can hold a lone
# surrogate, so the costlier check runs only when the raw text has one.
_SURROGATE_ESCAPE_RE: Final = re.compile(r"\\u[dD][89a-fA-F]")


def _may_hold_surrogate_escape(text: str) -> bool:
    # A one-character search (memchr) first: most bodies hold no backslash, and the regex scan is slower.
    return "\\" in text and _SURROGATE_ESCAPE_RE.search(text) is not None


class _NotJson(ValueError):
    """A value JSON allows syntactically but we refuse (NaN, Infinity, overflowing floats)."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not allowed")


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _NotJson(f"number {text[:40]!r} is out of range")
    return value


# One decoder for every call; the hooks run only for floats and NaN/Infinity, so ints and strings stay fast.
_DECODER: Final = json.JSONDecoder(parse_float=_parse_float, parse_constant=_refuse_constant)
# Its C scanner, called directly per array item: (value, end index), StopIteration when nothing parses.
# (typeshed types the scanner's argument as the scanner itself: the decoder quacks alike.)
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = json.scanner.make_scanner(cast(Any, _DECODER))
# _DECODER's values and errors, faster where codec has a faster parser (see core/codec.py).
_FAST_DECODE: Final = codec.loads_with(_DECODER.decode)


def _decode_for(text: str) -> Callable[[str], Any]:
    """The parse function for ``text`` or its lines: the json path alone when it may hold a big integer."""
    return _DECODER.decode if codec.may_hold_big_int(text) else _FAST_DECODE


def _deeper_than(values: list[Any], limit: int) -> bool:
    """Whether any of ``values`` (each at depth 1) nests arrays/objects deeper than ``limit``.

    Breadth-first over containers, one comprehension per level: no recursion, and for flat records a single
    pass over their values. Measured faster than a bracket scan of the raw text, which has to step over
    every character of every string.
    """
    level: list[Any] = values
    depth = 1
    while level:
        if depth > limit:
            return True
        level = [
            child
            for container in level
            for child in (container.values() if type(container) is dict else container)
            if type(child) is dict or type(child) is list
        ]
        depth += 1
    return False


def _too_deep(limits: Limits, **where: int) -> ApiError:
    return too_large(
        "json_depth", limits.json_depth, f"JSON nests deeper than {limits.json_depth} levels", **where
    )


def _line_of_record(text: str, index: int, limits: Limits) -> int:
    """The line number of the ``index``-th record of an NDJSON text."""
    for seen, (number, _) in enumerate(nonblank_lines(text, limits.records)):
        if seen == index:
            return number
    return 0


def _check_depth(text: str, records: list[Any], limits: Limits, where: str) -> None:
    """413 ``json_depth`` naming the first record too deep, by ``line`` (ndjson) or ``index`` (json)."""
    # Cheap and almost always enough: a record nesting deeper than the limit holds more opening brackets
    # than the limit, and every other record at least one, so a body with no more brackets than
    # (records - 1) + limit holds no such record (brackets inside strings only make the count larger).
    brackets = text.count("{") + text.count("[")
    if brackets <= len(records) - 1 + limits.json_depth or not _deeper_than(records, limits.json_depth):
        return
    for index, record in enumerate(records):  # error path only: find the record to name
        if _deeper_than([record], limits.json_depth):
            if where == "line":
                raise _too_deep(limits, line=_line_of_record(text, index, limits))
            raise _too_deep(limits, index=index)
    raise _too_deep(limits)  # not reached: some record was too deep


# Any JSON spelling of the key "tenant_id": each character literal or a \u escape of it (hex any case).
_TENANT_KEY_RE: Final = re.compile(
    '"' + "".join(f"(?:{re.escape(c)}|\\\\u(?i:{ord(c):04x}))" for c in "tenant_id") + '"'
)


def _tenant_id_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: an object naming ``tenant_id`` more than once with different values keeps
    them all, as a list, which equals no tenant id — so normalization refuses the record (403)."""
    record = dict(pairs)
    if len(record) < len(pairs):
        values = [value for key, value in pairs if key == "tenant_id"]
        if any(value != values[0] for value in values[1:]):
            record["tenant_id"] = values
    return record


_PAIRS_DECODER: Final = json.JSONDecoder(
    parse_float=_parse_float, parse_constant=_refuse_constant, object_pairs_hook=_tenant_id_pairs
)


def _flag_duplicate_tenant_ids(text: str, records: list[Any], limits: Limits, by_line: bool) -> None:
    """Make a record that names ``tenant_id`` twice with different values fail the tenant check.

    ``json`` keeps the last of duplicate keys, so ``{"tenant_id":"mine","tenant_id":"theirs"}`` would be
    judged by one of them only; a request naming another tenant anywhere must be refused. Cheap on the
    fast path: unless the text spells the key more often than the parsed records carry it, nothing is
    parsed again (only a ``\\u`` escape can spell it otherwise, and then a regex counts the spellings).
    """
    # A one-character search (memchr) first: searching for "\\u" costs as much as a regex.
    if '"tenant_id"' not in text and ("\\" not in text or "\\u" not in text):
        return
    # Objects only: `in` on a string record (a text record) would find the words, not a key.
    carried = sum(1 for record in records if type(record) is dict and "tenant_id" in record)
    if not carried:
        return  # a duplicate key would still be present after parsing: none at the top level
    spelled = text.count('"tenant_id"') if "\\u" not in text else len(_TENANT_KEY_RE.findall(text))
    if spelled <= carried:
        return
    # Rare: parse again keeping duplicates (the text parsed once already, so this cannot fail).
    if by_line:
        again = [_PAIRS_DECODER.decode(line) for _, line in nonblank_lines(text, limits.records)]
    else:
        value = _PAIRS_DECODER.decode(text)
        again = value if type(value) is list else [value]
    for record, reparsed in zip(records, again, strict=True):
        if (
            type(reparsed) is dict
            and type(reparsed.get("tenant_id")) is list
            and type(record.get("tenant_id")) is not list
        ):
            record["tenant_id"] = reparsed["tenant_id"]


def _has_lone_surrogate(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _not_a_record(index: int) -> ApiError:
    return bad_request("invalid_record", f"record {index} is not a JSON object or string", index=index)


def _too_many(limits: Limits) -> ApiError:
    return too_large("records", limits.records, f"more than {limits.records} records in one request")


def _invalid_json(message: str, **where: int) -> ApiError:
    return bad_request("invalid_json", message, **where)


def _fail_line(exc: Exception, number: int, limits: Limits) -> NoReturn:
    if isinstance(exc, RecursionError):  # the C parser's guard, far past any sane json_depth
        raise _too_deep(limits, line=number) from None
    if isinstance(exc, _NotJson):
        raise _invalid_json(f"line {number}: {exc}", line=number) from None
    raise _invalid_json(f"line {number} is not valid JSON: {exc}", line=number) from None


_DICT_TYPE: Final = frozenset({dict})


def _parse_lines(text: str, decode: Callable[[str], Any], limits: Limits) -> list[dict[str, Any] | str]:
    """Line by line: names the first bad line; reads what :func:`parse_ndjson_bytes` declines (blank
    lines, a BOM, big integers, text records)."""
    records: list[dict[str, Any] | str] = []
    for number, line in nonblank_lines(text, limits.records):
        try:
            value = decode(line)
        except (ValueError, RecursionError) as exc:
            _fail_line(exc, number, limits)
        if type(value) is not dict and type(value) is not str:
            raise bad_request("invalid_record", f"line {number} is not a JSON object or string", line=number)
        records.append(value)
        if len(records) > limits.records:
            raise _too_many(limits)
    return records


def parse_ndjson(text: str, limits: Limits) -> list[dict[str, Any] | str]:
    """One object per non-blank line of ``text`` (decoded UTF-8); errors name the ``line``."""
    records = _parse_lines(text, _decode_for(text), limits)
    _check_ndjson_records(text, records, limits)
    return records


_UTF8_BOM: Final = _BOM.encode("utf-8")


def parse_ndjson_bytes(data: bytes, limits: Limits) -> list[dict[str, Any] | str] | None:
    """What ``body.parse_records(data, "ndjson", limits)`` returns, from the UTF-8 bytes as they came (no
    decode, one split where the full path splits twice); None when this cannot be sure of it, and for
    every error up to the parse: the caller then takes the full path, which finds the error (the checks
    after parsing raise their own).

    Sure means: no BOM; at most ``limits.records`` lines, none blank (``bytes.isspace`` is true for fewer
    lines than ``str.isspace``, but a line only the latter calls blank is no JSON, which is refused)
    and none over ``limits.record_bytes``; no run of digits a big integer needs; ``codec.loads_each``
    accepts every line, so every line is UTF-8 (it refuses surrogates, overlong forms and stray bytes)
    and the body is too. Then the full path would decode the same lines and parse them to the same
    objects; the checks after parsing run on the decoded text, only when the bytes show they may have
    work to do. Equivalence: tests/backend/core/test_core_body_fast_paths.py (hypothesis).
    """
    if data.startswith(_UTF8_BOM):
        return None
    # At most records + 1 pieces whatever the body (a body of newlines never becomes a huge list); more
    # newlines leave that many, the last non-empty.
    lines = data.split(b"\n", limits.records)
    if lines[-1] == b"":
        lines.pop()
    if (
        not lines
        or len(lines) > limits.records
        or max(map(len, lines)) > limits.record_bytes
        or b"" in lines
        or any(map(bytes.isspace, lines))
    ):
        return None
    shape = codec.bytes_shape(data)  # one pass for two checks: big integers here, brackets below
    if codec.shape_may_hold_big_int(shape):
        return None
    records = codec.loads_each(lines, _DECODER.decode)
    if records is None or not {*map(type, records)} <= _DICT_TYPE:
        return None
    # What the checks need: brackets past their cheap bound, a tenant_id key, or an escape.
    brackets = shape.count(b"{")  # "{" and "["
    if brackets > len(records) - 1 + limits.json_depth or b'"tenant_id"' in data or b"\\" in data:
        _check_ndjson_records(data.decode("utf-8"), records, limits)
    return records


def _check_ndjson_records(text: str, records: list[dict[str, Any] | str], limits: Limits) -> None:
    _check_depth(text, records, limits, "line")
    _flag_duplicate_tenant_ids(text, records, limits, by_line=True)
    if _may_hold_surrogate_escape(text):
        for index, record in enumerate(records):
            if _has_lone_surrogate(record):
                number = _line_of_record(text, index, limits)
                raise _invalid_json(f"line {number} has a lone surrogate escape", line=number)


def _json_error(text: str, limits: Limits) -> ApiError:
    """The error of an invalid JSON text, as :meth:`json.JSONDecoder.decode` words and places it."""
    try:
        _DECODER.decode(text)
    except RecursionError:  # the C parser's guard, far past any sane json_depth
        return _too_deep(limits)
    except json.JSONDecodeError as exc:
        return _invalid_json(f"body is not valid JSON: {exc}", line=exc.lineno, column=exc.colno)
    except ValueError as exc:  # _NotJson, or an integer past Python's digit limit
        return _invalid_json(f"body is not valid JSON: {exc}")
    return _invalid_json("body is not valid JSON")  # not reached: only called for text that fails


def _skip_ws(text: str, idx: int) -> int:
    m = _WS.match(text, idx)
    return m.end() if m else idx


def _may_hold_too_many_values(text: str, limits: Limits) -> bool:
    """Whether parsing ``text`` at once could build more than ``_VALUES_PER_RECORD`` values per allowed
    record. Every value but the first follows a ``,`` ``:`` ``[`` or ``{``, so counting those bounds them."""
    budget = limits.records * _VALUES_PER_RECORD
    if len(text) // 2 + 1 <= budget:  # a value and its separator take at least two characters
        return False
    return text.count(",") + text.count(":") + text.count("[") + text.count("{") + 1 > budget


def _parse_json_array(text: str, start: int, limits: Limits) -> list[Any]:
    """The items of the JSON array at ``text[start]``, one C-scanner call per item.

    Item by item rather than one ``json.loads`` (about a microsecond more per item), so a body of millions
    of tiny items (``[{},{},…]`` fits 5 million in 16 MiB: half a gigabyte as Python objects) stops at
    ``limits.records`` + 1 items.
    """
    scan = _SCAN
    items: list[Any] = []
    idx = _skip_ws(text, start + 1)
    if text.startswith("]", idx):
        idx += 1
    else:
        while True:
            try:
                value, idx = scan(text, idx)
            except StopIteration:
                raise _json_error(text, limits) from None
            except RecursionError:
                raise _too_deep(limits, index=len(items)) from None
            if type(value) is not dict and type(value) is not str:
                index = len(items)
                raise _not_a_record(index)
            items.append(value)
            if len(items) > limits.records:
                raise _too_many(limits)
            char = text[idx : idx + 1]
            if char not in _ARRAY_SEPARATORS:
                idx = _skip_ws(text, idx)
                char = text[idx : idx + 1]
            if char == ",":
                idx = _skip_ws(text, idx + 1)
            elif char == "]":
                idx += 1
                break
            else:
                raise _json_error(text, limits)
    if idx < len(text) and text[idx:].strip(_JSON_WS):
        raise _json_error(text, limits)
    return items


def parse_json(text: str, limits: Limits) -> list[dict[str, Any] | str]:
    """One object, or the objects of an array; errors name the ``index`` (or the ``line``/``column`` of
    malformed JSON). 400 ``empty_body`` for whitespace or ``[]``."""
    start = _skip_ws(text, 0)
    if start == len(text):
        raise bad_request("empty_body", "the body holds no records")
    if text[start] == "[" and _may_hold_too_many_values(text, limits):
        try:
            items = _parse_json_array(text, start, limits)
        except ValueError as exc:  # _NotJson, or an integer past Python's digit limit
            raise _invalid_json(f"body is not valid JSON: {exc}") from None
    else:
        try:
            value = _decode_for(text)(text)
        except (ValueError, RecursionError):
            raise _json_error(text, limits) from None
        items = value if type(value) is list else [value]
        if len(items) > limits.records:
            raise _too_many(limits)
        for index, item in enumerate(items):
            if type(item) is not dict and type(item) is not str:
                raise _not_a_record(index)
    if not items:
        raise bad_request("empty_body", "the body holds no records")
    _check_depth(text, items, limits, "index")  # a record's depth: an array around records is not counted
    _flag_duplicate_tenant_ids(text, items, limits, by_line=False)
    if _may_hold_surrogate_escape(text):
        for index, item in enumerate(items):
            if _has_lone_surrogate(item):
                raise _invalid_json(f"record {index} has a lone surrogate escape", index=index)
    return items


def record_with_invalid_utf8(data: bytes, limits: Limits) -> int | None:
    """Error path: which record of a JSON body holds the invalid bytes, when they are inside strings.

    Decoded with ``surrogateescape``, each invalid byte becomes a char in U+DC80–U+DCFF that the parser
    keeps; the first record holding one is named. None when that does not work out (bytes outside strings,
    or a body too big to parse twice).
    """
    text = data.decode("utf-8", "surrogateescape")
    if _may_hold_too_many_values(text, limits):
        return None
    try:
        value = _DECODER.decode(text[1:] if text.startswith(_BOM) else text)
    except (ValueError, RecursionError):
        return None
    items = value if type(value) is list else [value]
    for index, item in enumerate(items):
        if _ESCAPED_BYTE_RE.search(json.dumps(item, ensure_ascii=False)):
            return index
    return None
