"""Record filters of a query beyond the key range (docs/contract.md §3): ``where`` conditions on fields,
substrings of the message (``contains`` / ``not_contains``), a regular expression on it (``regex``) and an
exact set of levels (``levels``). Pure: parsed from query parameters, evaluated on one record.

A FIELD is a top-level field of the record (:data:`TOP_LEVEL`), else a dotted path into ``attributes``
(``host`` and ``db.host`` mean ``attributes.host`` and ``attributes.db.host``; ``attributes.host`` works
too), as ``logcli``'s ``| json | status >= 500`` reads a line's fields.

Regular expressions run on RE2 (google-re2): its matching time is linear in the text, so no pattern a
caller sends can make a query backtrack for minutes (the classic ``(a+)+$``). Without RE2 installed the
server refuses regex filters with 400 rather than running them on ``re`` unbounded.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from logpipe_backend.core.errors import ApiError, bad_request
from logpipe_backend.core.levels import level_from_value
from logpipe_backend.core.record import Record

try:
    import re2
except ImportError:  # the regex filters answer 400 without it (see the module docstring)
    re2 = None

TOP_LEVEL: Final = frozenset(
    {
        "tenant_id",
        "log_id",
        "timestamp",
        "received_at",
        "level",
        "message",
        "source",
        "client_log_id",
        "redactions",
    }
)
# Longest operator first, so "a>=1" is (a, >=, 1), not (a, >, =1).
OPERATORS: Final = ("!=", ">=", "<=", "=", ">", "<", "~")
NUMERIC_OPERATORS: Final = frozenset({">", ">=", "<", "<="})
MAX_CONDITIONS: Final = 20  # per parameter: where, contains, not_contains
MAX_VALUE_CHARS: Final = 1000
MAX_REGEX_MEMORY: Final = 8 << 20  # RE2 fails to compile a pattern whose automaton would need more
_MISSING: Final = object()

Matcher = Callable[[str], bool]


def _invalid(parameter: str, message: str) -> ApiError:
    return bad_request("invalid_query", message, parameter=parameter)


def compile_regex(pattern: str, parameter: str) -> Matcher:
    """A search (not a full match) of ``pattern`` on RE2; 400 naming ``parameter`` when it cannot be."""
    if re2 is None:
        raise _invalid(parameter, "regular expressions need google-re2 on the server, which is not installed")
    options = re2.Options()
    options.max_mem = MAX_REGEX_MEMORY
    options.log_errors = False
    try:
        regex: Any = re2.compile(pattern, options)
    except re2.error as exc:
        raise _invalid(parameter, f"{parameter}: not a valid RE2 expression: {exc}") from None

    def search(text: str) -> bool:
        return regex.search(text) is not None

    return search


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Condition:
    """One ``where``: ``path`` into the record, an operator (``exists`` when none) and its operand."""

    text: str  # as the caller wrote it, for messages
    path: tuple[str, ...]
    op: str
    operand: str = ""
    number: float | None = None  # the operand as a number (numeric comparisons; = and != when it is one)
    search: Matcher | None = None  # the compiled regex of "~"

    def lookup(self, record: Record) -> Any:
        value: Any = record
        for key in self.path:
            if not isinstance(value, Mapping) or key not in value:
                return _MISSING
            value = value[key]
        return value

    def holds(self, record: Record) -> bool:
        value = self.lookup(record)
        if self.op == "exists":
            return value is not _MISSING
        if self.op == "!=":
            return value is _MISSING or not _equals(value, self.operand, self.number, self.path)
        if value is _MISSING:
            return False
        if self.op == "=":
            return _equals(value, self.operand, self.number, self.path)
        if self.op == "~":
            assert self.search is not None
            return self.search(_as_text(value))
        return _compare(value, self.op, self.number)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _equals(value: Any, operand: str, number: float | None, path: tuple[str, ...]) -> bool:
    """``=`` as people mean it: strings exactly (levels in any case), numbers as numbers (``number``, the
    operand parsed once by parse_condition), true/false/null."""
    if isinstance(value, str):
        return value == (operand.lower() if path == ("level",) else operand)
    if isinstance(value, bool):
        return operand.lower() == ("true" if value else "false")
    if value is None:
        return operand.lower() == "null"
    if isinstance(value, int | float):
        return number is not None and value == number
    return _as_text(value) == operand


def _compare(value: Any, op: str, number: float | None) -> bool:
    """Numeric comparisons: a number, or a string holding one ("500" from a text log's parsing)."""
    assert number is not None
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        parsed = _number(value)
        if parsed is None:
            return False
        value = parsed
    if not isinstance(value, int | float):
        return False
    if op == ">":
        return value > number
    if op == ">=":
        return value >= number
    if op == "<":
        return value < number
    return value <= number


def field_path(name: str) -> tuple[str, ...]:
    """``level`` → ("level",); ``db.host`` and ``attributes.db.host`` → ("attributes", "db", "host")."""
    if name in TOP_LEVEL:
        return (name,)
    parts = tuple(name.split("."))
    return parts if parts[0] == "attributes" and len(parts) > 1 else ("attributes", *parts)


def parse_condition(text: str) -> Condition:
    """``FIELD=V``, ``FIELD!=V``, ``FIELD>N`` (``>=``, ``<``, ``<=``), ``FIELD~REGEX`` or ``FIELD``."""
    if len(text) > MAX_VALUE_CHARS:
        raise _invalid("where", f"where is longer than {MAX_VALUE_CHARS} characters")
    cut = min((i for i, ch in enumerate(text) if ch in "=!<>~"), default=len(text))
    name = text[:cut].strip()
    if not name or any(not part for part in name.split(".")):
        raise _invalid(
            "where", f"where {text!r}: a field name must come first (level=error, status>=500, host)"
        )
    rest = text[cut:]
    if not rest:
        return Condition(text=text, path=field_path(name), op="exists")
    op = next((o for o in OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise _invalid("where", f"where {text!r}: use =, !=, >, >=, <, <= or ~")
    operand = rest[len(op) :]
    if op in NUMERIC_OPERATORS:
        number = _number(operand.strip())
        if number is None:
            raise _invalid("where", f"where {text!r}: {op} compares numbers; {operand!r} is not one")
        return Condition(text=text, path=field_path(name), op=op, operand=operand, number=number)
    if op == "~":
        search = compile_regex(operand, "where")
        return Condition(text=text, path=field_path(name), op=op, operand=operand, search=search)
    return Condition(text=text, path=field_path(name), op=op, operand=operand, number=_number(operand))


@dataclass(frozen=True)
class RecordFilter:
    """Every filter of a query but the key range and time bounds; all must hold (AND)."""

    conditions: tuple[Condition, ...] = ()
    contains: tuple[str, ...] = ()  # case-insensitive substrings of the message (all must be there)
    not_contains: tuple[str, ...] = ()
    regex: Matcher | None = None
    levels: frozenset[str] | None = None  # an exact set, beside the minimum level of LogQuery

    def __post_init__(self) -> None:
        # Case-insensitive as str.casefold (so "STRASSE" finds "straße"): the terms once, here.
        object.__setattr__(self, "contains", tuple(t.casefold() for t in self.contains if t))
        object.__setattr__(self, "not_contains", tuple(t.casefold() for t in self.not_contains if t))

    def __bool__(self) -> bool:
        return bool(self.conditions or self.contains or self.not_contains or self.regex or self.levels)

    def holds(self, record: Record) -> bool:
        if self.levels is not None and record["level"] not in self.levels:
            return False
        if self.contains or self.not_contains:
            message = record["message"].casefold()
            if not all(term in message for term in self.contains):
                return False
            if any(term in message for term in self.not_contains):
                return False
        if self.regex is not None and not self.regex(record["message"]):
            return False
        return all(condition.holds(record) for condition in self.conditions)


def _terms(values: Sequence[str], parameter: str) -> tuple[str, ...]:
    if len(values) > MAX_CONDITIONS:
        raise _invalid(parameter, f"at most {MAX_CONDITIONS} {parameter} parameters")
    for value in values:
        if len(value) > MAX_VALUE_CHARS:
            raise _invalid(parameter, f"{parameter} is longer than {MAX_VALUE_CHARS} characters")
    return tuple(values)


def parse_levels(raw: str) -> frozenset[str]:
    levels = set()
    for part in raw.split(","):
        if not part.strip():
            continue
        level = level_from_value(part.strip())
        if level is None:
            raise _invalid(
                "levels", f"levels: {part.strip()!r} is not one of trace, debug, info, warn, error, fatal"
            )
        levels.add(level)
    if not levels:
        raise _invalid("levels", "levels must name at least one level (warn,error)")
    return frozenset(levels)


def parse_filter(params: Mapping[str, Sequence[str]]) -> RecordFilter:
    """The :class:`RecordFilter` of the repeatable parameters ``where``, ``contains``, ``not_contains`` and
    the single ``regex`` and ``levels``."""
    wheres = params.get("where", ())
    if len(wheres) > MAX_CONDITIONS:
        raise _invalid("where", f"at most {MAX_CONDITIONS} where parameters")
    regex_values = [v for v in params.get("regex", ()) if v]
    if len(regex_values) > 1:
        raise _invalid("regex", "regex may be given once")
    regex = None
    if regex_values:
        if len(regex_values[0]) > MAX_VALUE_CHARS:
            raise _invalid("regex", f"regex is longer than {MAX_VALUE_CHARS} characters")
        regex = compile_regex(regex_values[0], "regex")
    level_values = [v for v in params.get("levels", ()) if v.strip()]
    return RecordFilter(
        conditions=tuple(parse_condition(w) for w in wheres if w.strip()),
        contains=_terms(params.get("contains", ()), "contains"),
        not_contains=_terms(params.get("not_contains", ()), "not_contains"),
        regex=regex,
        levels=parse_levels(",".join(level_values)) if level_values else None,
    )
