"""The record filters of the read paths as query parameters (docs/contract.md §3), shared by every read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

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
