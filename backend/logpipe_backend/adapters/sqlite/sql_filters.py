"""A query's filters as a SQL condition on the ``records`` table: what SQLite can reject without Python.

Each record's JSON (``doc``) is read by SQLite's JSON functions (built in since SQLite 3.38), so a filter
that SQLite can decide never costs a ``json.loads`` per row. The condition built here is a *superset* of
:func:`logpipe_backend.core.query.matches`: it may let through a row that ``matches`` then refuses, never the
reverse, so the store runs ``matches`` on every row SQLite returns and the answer is exactly the same as
without it. Where SQL cannot express a filter that way (``!=``, regexes, ``not_contains``, ``true``/``null``
operands, field names with quotes), it adds nothing for that filter and Python decides alone.

``contains`` needs care: ``matches`` compares ``str.casefold`` forms, and casefolding can turn a non-ASCII
character into ASCII letters ("ß" → "ss"), which ``LIKE`` (ASCII-only case folding) cannot see. So ``LIKE``
is used only on rows whose ``plain`` flag says the stored JSON is ASCII with no ``\\u`` escape (the store
sets it when writing), and only for needles of printable ASCII that no JSON encoder escapes; every other row
passes to Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from logpipe_backend.core.filters import NUMERIC_OPERATORS, Condition
from logpipe_backend.core.query import LogQuery
from logpipe_backend.core.record import LEVEL_RANK, LEVELS

# Printable ASCII except what JSON encoders may escape (quote, backslash, solidus, and HTML's <, >, &, ').
_LIKE_SAFE: Final = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("\"\\/<>&'")
_SQL_NUMBER_LIMIT: Final = 2**53  # beyond this a float operand is not compared exactly in SQLite's REAL


@dataclass
class SqlFilter:
    """``sql`` (ANDed conditions, each starting with `` AND ``) and its parameters."""

    sql: str = ""
    args: list[object] = field(default_factory=list)

    def add(self, clause: str, *args: object) -> None:
        self.sql += f" AND ({clause})"
        self.args.extend(args)


def _json_path(path: tuple[str, ...]) -> str | None:
    """``$."attributes"."db"."host"``; None when a key cannot be quoted safely in a JSON path."""
    if any('"' in key or "\\" in key for key in path):
        return None
    return "$." + ".".join(f'"{key}"' for key in path)


def _like_pattern(term: str) -> str | None:
    """``%term%`` with LIKE's wildcards escaped; None when the term is not safe for the rules above."""
    if not term or not set(term) <= _LIKE_SAFE:
        return None
    escaped = term.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def _condition(where: SqlFilter, condition: Condition) -> None:
    # The path is a bound parameter, never SQL text: a field name is the caller's input (a quote in it would
    # otherwise end the SQL string). The operator is one of core.filters.OPERATORS.
    path = _json_path(condition.path)
    if path is None:
        return
    value = "json_extract(doc, ?)"
    if condition.op == "exists":
        where.add("json_type(doc, ?) IS NOT NULL", path)
    elif condition.op in NUMERIC_OPERATORS and condition.number is not None:
        if abs(condition.number) < _SQL_NUMBER_LIMIT:
            # A TEXT value sorts above every number in SQLite, so strings pass through to Python, which
            # compares those holding a number numerically; NULL (missing, null) fails, as in Python.
            where.add(f"{value} {condition.op} ?", path, condition.number)
    elif condition.op == "=":
        operand = condition.operand
        if condition.path == ("level",):
            where.add(f"{value} = ?", path, operand.lower())
        elif operand.lower() in ("true", "false", "null") or operand[:1] in ("[", "{"):
            return  # booleans, null, arrays and objects: Python alone (their SQL forms differ)
        elif condition.number is None:
            where.add(f"{value} = ?", path, operand)
        elif abs(condition.number) < _SQL_NUMBER_LIMIT:
            where.add(f"{value} = ? OR {value} = ?", path, condition.number, path, operand)
        # else: a number past 2**53 is not compared exactly in SQL: Python alone (as for the comparisons)


def sql_filter(query: LogQuery) -> SqlFilter:
    """The SQL superset of every filter of ``query`` beyond its key range (see the module docstring)."""
    where = SqlFilter()
    if query.since is not None:
        where.add("json_extract(doc, '$.timestamp') >= ?", query.since)
    if query.until is not None:
        where.add("json_extract(doc, '$.timestamp') < ?", query.until)
    allowed = set(LEVELS)
    if query.min_level is not None:
        allowed = {name for name in LEVELS if LEVEL_RANK[name] >= LEVEL_RANK[query.min_level]}
    if query.filter.levels is not None:
        allowed &= query.filter.levels
    if allowed != set(LEVELS):
        names = sorted(allowed)
        marks = ", ".join(["?"] * len(names)) or "NULL"  # no level allowed: IN (NULL) holds for no row
        where.add(f"json_extract(doc, '$.level') IN ({marks})", *names)
    for term in query.filter.contains:
        pattern = _like_pattern(term)
        if pattern is not None:
            where.add("plain IS NOT 1 OR doc LIKE ? ESCAPE '!'", pattern)
    for condition in query.filter.conditions:
        _condition(where, condition)
    return where
