"""Splunk HTTP Event Collector (``/services/collector/…``) → raw records, and HEC's answers. Pure.

``/event`` bodies are JSON objects one after another (Splunk docs, "Format events for HTTP Event
Collector"): ``event`` (a string, or an object kept as a JSON record), ``time`` (epoch seconds, a float or
its text), ``host``, ``source``, ``sourcetype``, ``index`` and ``fields`` (indexed fields). An event
object's own fields win over the metadata of the same name. ``/raw`` bodies are text lines, each a record as
a text line sent to POST /ingest. Docker's splunk driver sends ``{"line": …, "source": "stdout", …}``:
``line`` is the message when the object has no message field of its own.
"""

from __future__ import annotations

from typing import Any, Final

from logpipe_backend.core.doorjson import concatenated
from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.limits import Limits
from logpipe_backend.core.normalize import MESSAGE_FIELDS

_METADATA: Final = ("host", "source", "sourcetype", "index")

# HEC's status codes (Splunk docs, "Troubleshoot HTTP Event Collector", "Possible error codes").
SUCCESS: Final = (0, "Success")
TOKEN_REQUIRED: Final = (2, "Token is required")
INVALID_TOKEN: Final = (4, "Invalid token")
NO_DATA: Final = (5, "No data")
INVALID_FORMAT: Final = (6, "Invalid data format")
INTERNAL: Final = (8, "Internal server error")
BUSY: Final = (9, "Server is busy")
EVENT_REQUIRED: Final = (12, "Event field is required")
EVENT_BLANK: Final = (13, "Event field cannot be blank")
HEALTHY: Final = (17, "HEC is healthy")
UNHEALTHY: Final = (18, "HEC is unhealthy, queues are full")


class HecError(ApiError):
    """An ApiError with the HEC code a client expects for it."""

    def __init__(self, status: int, hec: tuple[int, str], message: str, **detail: Any) -> None:
        super().__init__(status, "invalid_data", message, **detail)
        self.hec = hec


def events(data: bytes, limits: Limits) -> list[dict[str, Any] | str]:
    """The raw records of an ``/event`` body, in order."""
    if not data.strip():
        raise HecError(400, NO_DATA, "the body holds no events")
    out: list[dict[str, Any] | str] = []
    for index, value in enumerate(concatenated(data, limits)):
        if not isinstance(value, dict):
            raise HecError(400, INVALID_FORMAT, f"event {index} is not a JSON object", index=index)
        if "event" not in value:
            raise HecError(400, EVENT_REQUIRED, f'event {index} has no "event" field', index=index)
        event = value["event"]
        if event == "" or event is None:
            raise HecError(400, EVENT_BLANK, f'event {index} has a blank "event" field', index=index)
        if isinstance(event, dict):
            raw = dict(event)
            if not any(isinstance(raw.get(name), str) for name in MESSAGE_FIELDS) and isinstance(
                raw.get("line"), str
            ):
                raw["message"] = raw.pop("line")
        elif isinstance(event, str):
            raw = {"message": event}
        else:  # a number, a list: kept as the message's JSON text would lose its type; keep it as data
            raw = {"message": "", "event": event}
        fields = value.get("fields")
        if fields is not None and not isinstance(fields, dict):
            raise HecError(400, INVALID_FORMAT, f'event {index}: "fields" is an object', index=index)
        for name, field in (fields or {}).items():
            raw.setdefault(name, field)
        for name in _METADATA:
            if name in value:
                raw.setdefault(name, value[name])
        if "time" in value:
            # Epoch seconds; normalization reads a number or numeric text by magnitude.
            raw["timestamp"] = value["time"]
        out.append(raw)
    return out


def body(code: tuple[int, str], text: str | None = None, **extra: Any) -> dict[str, Any]:
    """HEC's JSON answer ``{"text": …, "code": N}``."""
    return {"text": text or code[1], "code": code[0], **extra}


def code_for(err: ApiError, had_credential: bool) -> tuple[int, int]:
    """(HTTP status, HEC code) for an error of the shared pipeline."""
    if isinstance(err, HecError):
        return err.status, err.hec[0]
    if err.status == 401:
        return (403, INVALID_TOKEN[0]) if had_credential else (401, TOKEN_REQUIRED[0])
    if err.status == 403:
        return 403, INVALID_TOKEN[0]
    if err.status in (429, 503):
        return 503, BUSY[0]  # HEC's "server is busy": what HEC clients retry on
    if err.code == "empty_body":
        return 400, NO_DATA[0]
    if err.status >= 500:
        return 500, INTERNAL[0]
    return err.status, INVALID_FORMAT[0]
