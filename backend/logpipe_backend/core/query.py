"""The admin query: its parameters (docs/contract.md §3), pagination cursors, the filters both stores share.

A store reads one tenant's log_id key range (``after`` / ``start_after`` bound it, ``order`` walks it) and
applies :func:`matches` for the rest (time bounds, minimum level, and the :class:`RecordFilter` of
``core/filters.py``). A cursor is opaque to clients: url-safe base64 of
``{"tenant", "order", "last"}``, checked on the way back in so a cursor cannot cross tenants or orders.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from logpipe_backend.core.auth import valid_tenant_id
from logpipe_backend.core.errors import ApiError, bad_request
from logpipe_backend.core.filters import RecordFilter, parse_filter
from logpipe_backend.core.ids import is_log_id
from logpipe_backend.core.levels import level_from_value
from logpipe_backend.core.record import LEVEL_RANK, Record
from logpipe_backend.core.timefmt import format_ts, parse_time_bound

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 1000
MAX_CURSOR_CHARS: Final = 512
ORDERS: Final = ("desc", "asc")
SINGLE_PARAMS: Final = frozenset(
    {"tenant", "since", "until", "level", "levels", "regex", "after", "order", "limit", "cursor"}
)
REPEATABLE_PARAMS: Final = frozenset({"where", "contains", "not_contains"})
QUERY_PARAMS: Final = SINGLE_PARAMS | REPEATABLE_PARAMS
Params = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class LogQuery:
    """One page of one tenant's records. Time bounds are RFC 3339 strings, already resolved."""

    tenant_id: str
    since: str | None = None  # inclusive lower bound on ``timestamp``
    until: str | None = None  # exclusive upper bound on ``timestamp``
    min_level: str | None = None  # "warn" gives warn, error, fatal
    filter: RecordFilter = field(default_factory=RecordFilter)  # where, contains, not_contains, regex, levels
    after: str | None = None  # only log_ids strictly greater (what tail follows)
    order: str = "desc"  # by log_id: "desc" or "asc"
    limit: int = 100
    start_after: str | None = None  # pagination: the last log_id of the previous page (in ``order``)


@dataclass(frozen=True)
class QueryPage:
    items: list[Record]
    last_log_id: str | None  # set when more items may follow; the handler turns it into a cursor
    # Stored chunks that could not be decoded (DynamoDB store: logged and passed over, never failing the
    # page); always 0 for a store that keeps one row per record.
    skipped_chunks: int = 0


def _invalid(parameter: str, message: str) -> ApiError:
    return bad_request("invalid_query", message, parameter=parameter)


def _invalid_cursor(message: str) -> ApiError:
    return bad_request("invalid_cursor", message, parameter="cursor")


def encode_cursor(query: LogQuery, last_log_id: str) -> str:
    """An opaque cursor continuing ``query`` after ``last_log_id`` (url-safe base64, no padding)."""
    payload = json.dumps(
        {"tenant": query.tenant_id, "order": query.order, "last": last_log_id}, separators=(",", ":")
    )
    return base64.urlsafe_b64encode(payload.encode("utf-8")).rstrip(b"=").decode("ascii")


def _decode_cursor(cursor: str, tenant_id: str, order: str) -> str:
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _invalid_cursor("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data: Any = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError) as exc:
        raise _invalid_cursor("cursor is not one this API returned") from exc
    if not isinstance(data, dict) or not isinstance(data.get("last"), str) or not is_log_id(data["last"]):
        raise _invalid_cursor("cursor is not one this API returned")
    if data.get("tenant") != tenant_id:
        raise _invalid_cursor("cursor belongs to another tenant")
    if data.get("order") != order:
        raise _invalid_cursor("cursor belongs to a query with another order")
    last: str = data["last"]
    return last


def _parse_limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    text = raw.strip()
    if not text.isdigit() or len(text) > 7 or not 1 <= int(text) <= MAX_LIMIT:
        raise _invalid("limit", f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(text)


def _parse_bound(name: str, raw: str | None, now_ms: int) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return format_ts(parse_time_bound(raw, now_ms))
    except ApiError as exc:
        raise _invalid(name, f"{name}: {exc.message}") from None


def _values(params: Params) -> dict[str, list[str]]:
    """Every parameter as a list of values; a parameter that may be given once and came twice is refused
    (a second ``tenant`` must not quietly win or lose)."""
    values: dict[str, list[str]] = {}
    for name, raw in params.items():
        if name not in QUERY_PARAMS:
            raise _invalid(name, f"unknown query parameter {name!r}")
        listed = [raw] if isinstance(raw, str) else list(raw)
        if name in SINGLE_PARAMS and len(listed) > 1:
            raise _invalid(name, f"{name} may be given once")
        values[name] = listed
    return values


def parse_admin_query(params: Params, now_ms: int) -> LogQuery:
    """The :class:`LogQuery` of GET /admin/logs parameters; ApiError 400 naming the bad ``parameter``.

    ``params`` maps a name to its value, or to every value of a repeatable parameter (``where``,
    ``contains``, ``not_contains``). ``order`` defaults to ``desc``, except with ``after`` (what tail
    follows), where it defaults to ``asc``. Unknown parameters are refused, so a typo (``levle=warn``) does
    not silently return everything.
    """
    values = _values(params)

    def single(name: str) -> str | None:
        found = values.get(name)
        return found[0] if found else None

    tenant = single("tenant")
    if tenant is None or not tenant:
        raise _invalid("tenant", "tenant is required")
    if not valid_tenant_id(tenant):
        raise _invalid("tenant", "tenant must be 2-63 characters: lowercase letters, digits, '-', '_'")

    since = _parse_bound("since", single("since"), now_ms)
    until = _parse_bound("until", single("until"), now_ms)
    if since is not None and until is not None and since >= until:
        raise _invalid("until", "until must be later than since")

    min_level = None
    raw_level = single("level")
    if raw_level is not None and raw_level.strip():
        min_level = level_from_value(raw_level)
        if min_level is None:
            raise _invalid("level", "level must be one of trace, debug, info, warn, error, fatal")

    after = None
    raw_after = single("after")
    if raw_after is not None and raw_after.strip():
        after = raw_after.strip().upper()  # ULIDs are case-insensitive; ours are upper case
        if not is_log_id(after):
            raise _invalid("after", "after must be a log_id (26-character ULID)")

    raw_order = single("order")
    if raw_order is None or not raw_order.strip():
        order = "asc" if after is not None else "desc"
    else:
        order = raw_order.strip().lower()
        if order not in ORDERS:
            raise _invalid("order", "order must be asc or desc")

    limit = _parse_limit(single("limit"))

    start_after = None
    cursor = single("cursor")
    if cursor is not None and cursor.strip():
        start_after = _decode_cursor(cursor.strip(), tenant, order)

    return LogQuery(
        tenant_id=tenant,
        since=since,
        until=until,
        min_level=min_level,
        filter=parse_filter(values),
        after=after,
        order=order,
        limit=limit,
        start_after=start_after,
    )


def matches(query: LogQuery, record: Record) -> bool:
    """Whether ``record`` passes the filters that are not on the key: time bounds, level, the rest.

    Times compare as strings: every stored timestamp has the same fixed-width RFC 3339 UTC format.
    """
    timestamp = record["timestamp"]
    if query.since is not None and timestamp < query.since:
        return False
    if query.until is not None and timestamp >= query.until:
        return False
    if query.min_level is not None and LEVEL_RANK.get(record["level"], 0) < LEVEL_RANK[query.min_level]:
        return False
    return not query.filter or query.filter.holds(record)
