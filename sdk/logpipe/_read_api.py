"""The read paths' side of the wire (docs/contract.md §3): the record filters as query parameters, shared by
every read, and the answers read back (a page of records, or a JSON object)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import httpx

from ._exceptions import APIError

# A filter that may be given once or several times: one value, or a sequence of them (all must hold).
Terms = str | Sequence[str] | None


def listed(terms: Terms) -> list[str]:
    if terms is None:
        return []
    return [terms] if isinstance(terms, str) else list(terms)


def named(**values: str | None) -> list[tuple[str, str]]:
    """The parameters that have a value, in the order given."""
    return [(name, value) for name, value in values.items() if value is not None]


class FilterArgs(TypedDict, total=False):
    """The filters every read takes as keyword arguments (``AdminClient.stats(..., level="warn")``)."""

    since: str | None
    until: str | None
    level: str | None
    levels: Terms
    where: Terms
    contains: Terms
    not_contains: Terms
    regex: str | None


def filter_params(
    *,
    since: str | None = None,
    until: str | None = None,
    level: str | None = None,
    levels: Terms = None,
    where: Terms = None,
    contains: Terms = None,
    not_contains: Terms = None,
    regex: str | None = None,
) -> list[tuple[str, str]]:
    """``where``, ``contains`` and ``not_contains`` repeat; ``levels`` is one comma list."""
    joined = None if levels is None else ",".join(listed(levels))
    params = named(since=since, until=until, level=level, levels=joined, regex=regex)
    for name, terms in (("where", where), ("contains", contains), ("not_contains", not_contains)):
        params += [(name, term) for term in listed(terms)]
    return params


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _bad_response(detail: object) -> APIError:
    return APIError(f"unexpected response from the server: {detail}", status=200, code="bad_response")


def page_of(response: httpx.Response) -> Page:
    """The page a ``/logs`` answer holds (records that are not objects are left out)."""
    try:
        data = response.json()
        items = data["items"]
        cursor = data.get("next_cursor")
        if not isinstance(items, list):
            raise TypeError("items")
    except (ValueError, KeyError, TypeError) as exc:
        raise _bad_response(exc) from exc
    return Page(items=[i for i in items if isinstance(i, dict)], next_cursor=cursor if cursor else None)


def json_object(response: httpx.Response) -> dict[str, Any]:
    """A ``/stats`` or ``/fields`` answer: a JSON object."""
    try:
        data = response.json()
    except ValueError as exc:
        raise _bad_response(exc) from exc
    if not isinstance(data, dict):
        raise _bad_response("not an object")
    return data
