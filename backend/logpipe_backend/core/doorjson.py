"""JSON bodies of the protocol doors (Loki, Splunk HEC), parsed within /ingest's limits."""

from __future__ import annotations

import json
from typing import Any, Final

from logpipe_backend.core.errors import ApiError, bad_request, too_large
from logpipe_backend.core.json_records import _deeper_than
from logpipe_backend.core.limits import Limits


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259 §6); POST /ingest refuses them too.
    raise ValueError(f"{name} is not a JSON number")


_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant)


def _check(values: list[Any], limits: Limits) -> None:
    # Values sit inside a record's attributes: depth 1 there, as /ingest counts a record's own values.
    if _deeper_than(values, limits.json_depth):
        raise too_large("json_depth", limits.json_depth, f"JSON nests deeper than {limits.json_depth} levels")


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request("invalid_utf8", f"body is not valid UTF-8 at byte {exc.start}") from None


def loads(data: bytes, limits: Limits) -> Any:
    """One JSON document; 400 ``invalid_json``, 413 ``json_depth``."""
    try:
        doc = _DECODER.decode(_utf8(data))
    except (ValueError, RecursionError) as exc:
        raise bad_request("invalid_json", f"body is not JSON: {exc}") from None
    _check([doc], limits)
    return doc


def concatenated(data: bytes, limits: Limits) -> list[Any]:
    """The JSON values of a body holding them one after another, whitespace between or not (Splunk HEC's
    event batches). 400 ``invalid_json`` with the value's ``index``; 413 ``records`` past the limit."""
    text = _utf8(data)
    values: list[Any] = []
    end = len(text)
    pos = 0
    while True:
        while pos < end and text[pos] in " \t\r\n":
            pos += 1
        if pos == end:
            break
        if len(values) >= limits.records:
            raise too_large("records", limits.records, f"more than {limits.records} events in one request")
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except (ValueError, RecursionError) as exc:
            raise bad_request(
                "invalid_json", f"event {len(values)} is not JSON: {exc}", index=len(values)
            ) from None
        values.append(value)
    _check(values, limits)
    return values


def invalid(message: str, **detail: Any) -> ApiError:
    return bad_request("invalid_data", message, **detail)
