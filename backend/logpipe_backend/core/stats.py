"""Counts over time and the fields a tenant's records carry: ``GET /admin/stats`` and ``GET /admin/fields``
(docs/contract.md §3). Pure: the handler feeds records from the store's pages, these fold them.

Stats count the records that match the query's filters in buckets of their ``timestamp`` (event time, the
field ``since``/``until`` bound), grouped by ``level`` or any field (``--by host``), like a CloudWatch Logs
Insights ``stats count(*) by bin(1m)``. Reading is bounded (``max_records``): past it the answer says
``"partial": true`` and from which timestamp on it is complete, instead of reading a large tenant for
minutes. Fields sample the newest records and list their attribute keys with counts and example values,
like ``logcli series``/``labels``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from logpipe_backend.core.errors import ApiError, bad_request
from logpipe_backend.core.filters import field_path
from logpipe_backend.core.query import MAX_LIMIT, LogQuery, Params, parse_admin_query
from logpipe_backend.core.record import Record
from logpipe_backend.core.timefmt import format_ts, parse_event_time

MAX_BUCKETS: Final = 1000
MAX_GROUPS: Final = 20  # distinct values of --by shown; the rest are counted under OTHER
OTHER: Final = "(other)"
MISSING: Final = "(none)"
# Bucket sizes a default is chosen from: about 60 buckets over the requested span.
NICE_BUCKETS_S: Final = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 6 * 3600, 12 * 3600, 86_400, 7 * 86_400)
DEFAULT_BUCKET_S: Final = 3600  # when the span is open (no since)
_UNITS: Final = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}
DEFAULT_SAMPLE: Final = 1000
MAX_SAMPLE: Final = 10_000
MAX_EXAMPLES: Final = 5
MAX_EXAMPLE_CHARS: Final = 100


def _invalid(parameter: str, message: str) -> ApiError:
    return bad_request("invalid_query", message, parameter=parameter)


def _split(params: Params, own: Sequence[str]) -> tuple[dict[str, str], dict[str, str | Sequence[str]]]:
    """This path's own parameters (single values) and the rest, which are a logs query's."""
    mine: dict[str, str] = {}
    rest: dict[str, str | Sequence[str]] = {}
    for name, value in params.items():
        if name in own:
            values = [value] if isinstance(value, str) else list(value)
            if len(values) > 1:
                raise _invalid(name, f"{name} may be given once")
            mine[name] = values[0] if values else ""
        elif name in ("limit", "cursor", "order", "after"):
            raise _invalid(name, f"{name} is a parameter of /logs, not of this path")
        else:
            rest[name] = value
    return mine, rest


def parse_bucket(raw: str) -> int:
    """``30s``, ``1m``, ``5min``, ``1h``, ``1d``, ``1w`` → seconds."""
    text = raw.strip().lower()
    number = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(number) :] or "s"
    if not number.isdigit() or unit not in _UNITS or len(number) > 6 or int(number) == 0:
        raise _invalid("bucket", "bucket must be a duration such as 30s, 1m, 5m, 1h, 1d")
    return int(number) * _UNITS[unit]


@dataclass(frozen=True)
class StatsRequest:
    query: LogQuery  # the filters; read newest first, in pages of MAX_LIMIT
    by: str  # the field as the caller named it
    path: tuple[str, ...]
    bucket_s: int
    first_ms: int | None  # the first bucket's start when the span is known (since given)
    last_ms: int  # the end of the span (until, or now)


def parse_stats(params: Params, now_ms: int) -> StatsRequest:
    mine, rest = _split(params, ("by", "bucket"))
    query = replace(parse_admin_query(rest, now_ms), limit=MAX_LIMIT, order="desc")
    by = mine.get("by", "").strip() or "level"
    path = field_path(by)
    since_ms = parse_event_time(query.since) if query.since else None
    until_ms = parse_event_time(query.until) if query.until else None
    until_ms = now_ms if until_ms is None else until_ms
    if mine.get("bucket", "").strip():
        bucket_s = parse_bucket(mine["bucket"])
    elif since_ms is not None:
        span_s = max(1, (until_ms - since_ms) // 1000)
        bucket_s = next((b for b in NICE_BUCKETS_S if span_s / b <= 60), NICE_BUCKETS_S[-1])
    else:
        bucket_s = DEFAULT_BUCKET_S
    first_ms = None if since_ms is None else since_ms - since_ms % (bucket_s * 1000)
    if first_ms is not None and (until_ms - first_ms) / (bucket_s * 1000) > MAX_BUCKETS:
        raise _invalid("bucket", f"more than {MAX_BUCKETS} buckets: use a larger bucket or a shorter span")
    return StatsRequest(query=query, by=by, path=path, bucket_s=bucket_s, first_ms=first_ms, last_ms=until_ms)


def _group(record: Record, path: tuple[str, ...]) -> str:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping) or key not in value:
            return MISSING
        value = value[key]
    if isinstance(value, str):
        return value[:MAX_EXAMPLE_CHARS]
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))[:MAX_EXAMPLE_CHARS]


class StatsFold:
    """Counts records into (bucket, group); :meth:`result` is the JSON answer."""

    def __init__(self, request: StatsRequest) -> None:
        self.request = request
        self.counts: Counter[tuple[int, str]] = Counter()
        self.records = 0

    def add(self, record: Record) -> None:
        bucket_ms = self.request.bucket_s * 1000
        ms = parse_event_time(record["timestamp"])
        if ms is None:  # every stored timestamp is RFC 3339; a record that is not is not counted
            return
        self.counts[(ms - ms % bucket_ms, _group(record, self.request.path))] += 1
        self.records += 1

    def result(self, *, complete_from: str | None) -> dict[str, Any]:
        """``complete_from``: None when every matching record was read; else the oldest log time read."""
        totals: Counter[str] = Counter()
        for (_, group), count in self.counts.items():
            totals[group] += count
        kept = {group for group, _ in totals.most_common(MAX_GROUPS)}
        per_bucket: dict[int, Counter[str]] = {}
        for (start, group), count in self.counts.items():
            per_bucket.setdefault(start, Counter())[group if group in kept else OTHER] += count
        bucket_ms = self.request.bucket_s * 1000
        starts = sorted(per_bucket)
        if self.request.first_ms is not None:  # a known span: its empty buckets too, for a chart
            end = self.request.last_ms
            starts = sorted(set(starts) | set(range(self.request.first_ms, end, bucket_ms)))
        shown_totals = Counter({g: c for g, c in totals.items() if g in kept})
        other = sum(c for g, c in totals.items() if g not in kept)
        if other:
            shown_totals[OTHER] = other
        return {
            "by": self.request.by,
            "bucket_seconds": self.request.bucket_s,
            "buckets": [
                {"start": format_ts(start), "counts": dict(per_bucket.get(start, Counter()).most_common())}
                for start in starts
            ],
            "totals": dict(shown_totals.most_common()),
            "records": self.records,
            "partial": complete_from is not None,
            "complete_from": complete_from,
        }


# -- fields ------------------------------------------------------------------------------------------


def parse_fields(params: Params, now_ms: int) -> LogQuery:
    mine, rest = _split(params, ("sample",))
    sample = DEFAULT_SAMPLE
    raw = mine.get("sample", "").strip()
    if raw:
        if not raw.isdigit() or len(raw) > 6 or not 1 <= int(raw) <= MAX_SAMPLE:
            raise _invalid("sample", f"sample must be an integer from 1 to {MAX_SAMPLE}")
        sample = int(raw)
    return replace(parse_admin_query(rest, now_ms), limit=sample, order="desc")


def _flatten(attributes: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in attributes.items():
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def fields_result(records: Sequence[Record]) -> dict[str, Any]:
    """The attribute keys (nested ones dotted, as ``--where`` names them) of ``records``, most common
    first, each with how many records have it and its most common values."""
    seen: Counter[str] = Counter()
    values: dict[str, Counter[str]] = {}
    for record in records:
        attributes = record.get("attributes")
        if not isinstance(attributes, Mapping):
            continue
        for name, value in _flatten(attributes):
            seen[name] += 1
            shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            values.setdefault(name, Counter())[shown[:MAX_EXAMPLE_CHARS]] += 1
    return {
        "sampled": len(records),
        "fields": [
            {
                "name": name,
                "count": count,
                "distinct": len(values[name]),
                "values": [{"value": v, "count": c} for v, c in values[name].most_common(MAX_EXAMPLES)],
            }
            for name, count in seen.most_common()
        ],
    }
