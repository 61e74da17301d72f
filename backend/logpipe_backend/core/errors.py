"""Errors the HTTP API answers with, as data.

Every error a handler returns is an :class:`ApiError`: an HTTP status, a snake_case code, a message for a
person, and detail fields (``line``, ``index``, ``limit``, ``retry_after``) that docs/contract.md §3 names.
Handlers turn it into ``{"error": {"code": ..., "message": ..., **detail}}``.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answered to the client; nothing of the request was queued or stored."""

    def __init__(self, status: int, code: str, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.detail}}

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r}, {self.detail!r})"


def bad_request(code: str, message: str, **detail: Any) -> ApiError:
    return ApiError(400, code, message, **detail)


def unauthorized(message: str = "missing or unknown credential") -> ApiError:
    return ApiError(401, "unauthorized", message)


def forbidden(code: str, message: str) -> ApiError:
    return ApiError(403, code, message)


def too_large(limit: str, max_value: int, message: str, **detail: Any) -> ApiError:
    """413 naming the limit that was exceeded (``limit`` is the setting's name, ``max`` its value)."""
    return ApiError(413, "payload_too_large", message, limit=limit, max=max_value, **detail)


def unsupported_media_type(code: str, message: str) -> ApiError:
    return ApiError(415, code, message)


def too_many_requests(code: str, message: str, retry_after: int) -> ApiError:
    return ApiError(429, code, message, retry_after=retry_after)


def one_line(err: ApiError) -> str:
    """The error as one line of text, for protocols whose errors are a message (OTLP's Status, Loki):
    ``code: message``, with the exceeded limit's name for a 413."""
    limit = err.detail.get("limit")
    return f"{err.code}{f' ({limit})' if limit else ''}: {err.message}"
