"""Loki push (``POST /loki/api/v1/push``) → raw records. Pure: no I/O.

Bodies (Loki's docs, "Ingest logs"): JSON ``{"streams": [{"stream": {labels}, "values": [[ns, line,
{structured metadata}?], …]}]}``, and PushRequest protobuf compressed with snappy's block format, what
Promtail, Alloy and Vector send by default (declared in core/protos.py; snappy by cramjam).

An entry becomes a raw record as POST /ingest parses them: the line is the message; the stream's labels,
then the entry's structured metadata, become attributes by name; the first of the ``level``,
``severity``, ``detected_level`` labels naming a level gives the level (else the line's leading level
word, as for a text line); the nanosecond timestamp becomes the record's, with ``timestamp_ns`` (a decimal
string) when it is not a whole millisecond.
"""

from __future__ import annotations

import re
from typing import Any, Final

import cramjam

from logpipe_backend.core.doorjson import invalid, loads
from logpipe_backend.core.errors import ApiError, bad_request, too_large
from logpipe_backend.core.levels import level_from_text, level_from_value
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.nanotime import MAX_NS, NS_PER_MS, timestamp_of_ns
from logpipe_backend.core.protos import LokiPushRequest

JSON: Final = "json"
PROTOBUF: Final = "protobuf"
_LEVEL_LABELS: Final = ("level", "severity", "detected_level")
# One label of a Prometheus label set: name="value", value with \\ \" \n escapes.
_LABEL_RE: Final = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_UNESCAPE_RE: Final = re.compile(r"\\(.)")
_ESCAPES: Final = {"n": "\n", "t": "\t"}


def content_kind(content_type: str | None) -> str:
    essence = (content_type or "").split(";")[0].strip().lower()
    if essence == "application/json":
        return JSON
    if essence in ("application/x-protobuf", ""):  # Promtail and Alloy send the former; old clients none
        return PROTOBUF
    raise ApiError(
        415, "unsupported_media_type", "Loki push takes application/json or application/x-protobuf"
    )


def unsnappy(body: bytes, limits: Limits) -> bytes:
    """A snappy block inflated; its declared length is checked first, so a bomb costs nothing."""
    try:
        size = cramjam.snappy.decompress_raw_len(body)
        if size > limits.decoded_bytes:
            raise too_large(
                "decoded_bytes",
                limits.decoded_bytes,
                f"body is over {limits.decoded_bytes} bytes after decoding",
            )
        return bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise bad_request("invalid_snappy", f"body is not snappy-compressed protobuf: {exc}") from None


def records(data: bytes, kind: str, limits: Limits) -> list[dict[str, Any] | str]:
    """The pushed entries as raw records, in order; 400 for a body that is no push request, 413 past the
    record limit."""
    streams = _protobuf_streams(data) if kind == PROTOBUF else _json_streams(loads(data, limits))
    total = sum(len(entries) for _, entries in streams)
    if total > limits.records:
        raise too_large("records", limits.records, f"more than {limits.records} entries in one request")
    out: list[dict[str, Any] | str] = []
    for labels, entries in streams:
        level = next(
            (found for name in _LEVEL_LABELS if name in labels and (found := level_from_value(labels[name]))),
            None,
        )
        for ns, line, metadata in entries:
            raw: dict[str, Any] = {**labels, **metadata} if metadata else dict(labels)
            entry_level = level or _metadata_level(metadata) or level_from_text(line)
            if entry_level is not None:
                raw["level"] = entry_level
            raw["message"] = line
            if 0 < ns <= MAX_NS:
                raw["timestamp"] = timestamp_of_ns(ns)
                if ns % NS_PER_MS:
                    raw["timestamp_ns"] = str(ns)
            out.append(raw)
    return out


def _metadata_level(metadata: dict[str, str]) -> str | None:
    for name in _LEVEL_LABELS:
        if name in metadata and (found := level_from_value(metadata[name])):
            return found
    return None


Entry = tuple[int, str, dict[str, str]]


def _json_streams(doc: Any) -> list[tuple[dict[str, str], list[Entry]]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list):
        raise invalid('a Loki push body is {"streams": [...]}')
    out: list[tuple[dict[str, str], list[Entry]]] = []
    for i, stream in enumerate(doc["streams"]):
        labels: Any = stream.get("stream", {}) if isinstance(stream, dict) else None
        values = stream.get("values") if isinstance(stream, dict) else None
        if not _str_map(labels) or not isinstance(values, list):
            raise invalid(
                f'stream {i} needs "stream" (label names to strings) and "values" (a list)', index=i
            )
        entries: list[Entry] = []
        for value in values:
            if not (isinstance(value, list) and 2 <= len(value) <= 3 and isinstance(value[1], str)):
                raise invalid(f"stream {i}: each value is [timestamp_ns, line, {{metadata}}?]", index=i)
            metadata = value[2] if len(value) == 3 else {}
            if not _str_map(metadata):
                raise invalid(f"stream {i}: structured metadata maps names to strings", index=i)
            entries.append((_ns(value[0], i), value[1], metadata))
        out.append((labels, entries))
    return out


def _str_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _ns(value: Any, stream: int) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    raise invalid(f"stream {stream}: a timestamp is a string of Unix epoch nanoseconds", index=stream)


def _protobuf_streams(data: bytes) -> list[tuple[dict[str, str], list[Entry]]]:
    request = LokiPushRequest()
    try:
        request.ParseFromString(data)
    except Exception as exc:  # protobuf's DecodeError, or RecursionError on a deep nest
        raise bad_request("invalid_protobuf", f"body is not a Loki PushRequest: {exc}") from None
    out = []
    for i, stream in enumerate(request.streams):
        labels = parse_labels(stream.labels, i)
        entries = [
            (
                e.timestamp.seconds * 1_000_000_000 + e.timestamp.nanos,
                e.line,
                {p.name: p.value for p in e.structuredMetadata},
            )
            for e in stream.entries
        ]
        out.append((labels, entries))
    return out


def parse_labels(text: str, stream: int = 0) -> dict[str, str]:
    """``{name="value", …}`` (Prometheus' label set text, what Loki's protobuf carries) → dict."""
    text = text.strip()
    if not (text.startswith("{") and text.endswith("}")):
        raise invalid(f'stream {stream}: labels are {{name="value", ...}}', index=stream)
    labels: dict[str, str] = {}
    pos, end = 1, len(text) - 1
    while pos < end and text[pos:end].strip():
        m = _LABEL_RE.match(text, pos, end)
        if m is None:
            raise invalid(f'stream {stream}: labels are {{name="value", ...}}', index=stream)
        labels[m.group(1)] = _UNESCAPE_RE.sub(lambda e: _ESCAPES.get(e.group(1), e.group(1)), m.group(2))
        pos = m.end()
    return labels
