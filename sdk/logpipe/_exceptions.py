"""Every error the SDK raises. Foreign exceptions (httpx, OSError, botocore) are translated at the edge
with ``raise ... from`` so callers catch one tree::

    LogpipeError
    ├── ConfigError                 bad settings or an unreadable config file
    ├── ClientClosedError           the client was used after close()
    ├── InvalidRecordError          a record that cannot be sent (not JSON-serializable, too big...)
    ├── TransportError              the endpoint could not be reached (after retries)
    │   └── TransportTimeoutError   ... because it did not answer in time
    └── APIError                    the server answered with an error (status, code, message, detail)
        ├── BadRequestError         400, 405 and other 4xx
        ├── AuthenticationError     401 missing or unknown credential
        ├── PermissionDeniedError   403 wrong kind of credential or tenant mismatch
        ├── NotFoundError           404
        ├── IdempotencyKeyReusedError  422 same key, different body
        ├── PayloadTooLargeError    413 (``limit`` names which)
        ├── UnsupportedMediaTypeError  415
        ├── RateLimitedError        429 (``retry_after`` in seconds, when sent)
        └── ServerError             5xx (503: queue unavailable; 507: the server's disk is nearly full;
                                    ``retry_after`` in seconds, when sent)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigError",
    "IdempotencyKeyReusedError",
    "InvalidRecordError",
    "LogpipeError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "TransportError",
    "TransportTimeoutError",
    "UnsupportedMediaTypeError",
    "api_error_from_response",
    "transport_error",
]


class LogpipeError(Exception):
    """Base of every error raised by the logpipe SDK."""


class ConfigError(LogpipeError):
    """Settings are missing or invalid, or the config file cannot be read or written."""


class InvalidRecordError(LogpipeError, ValueError):
    """A record the client refuses to send as it is (never sent)."""


class ClientClosedError(LogpipeError):
    """The client (or handler) was used after ``close()``."""


class TransportError(LogpipeError):
    """The endpoint could not be reached: connection refused, DNS, reset, TLS... (after retries)."""


class TransportTimeoutError(TransportError):
    """The endpoint did not answer in time (after retries)."""


class APIError(LogpipeError):
    """The server answered with an error status (docs/contract.md §3 error body)."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        code: str = "http_error",
        detail: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.detail: dict[str, Any] = dict(detail or {})
        self.request_id = request_id

    def __str__(self) -> str:
        extra = "".join(f", {k}={v}" for k, v in self.detail.items())
        return f"{self.status} {self.code}: {self.message}{extra}"


class BadRequestError(APIError):
    """400 (malformed body, bad query), 405, and any other 4xx without a class of its own."""


class AuthenticationError(APIError):
    """401: the credential is missing or unknown."""


class PermissionDeniedError(APIError):
    """403: the credential is of the wrong kind, or a record names another tenant."""


class NotFoundError(APIError):
    """404: no such route (wrong endpoint path?)."""


class IdempotencyKeyReusedError(APIError):
    """422: the Idempotency-Key was already used with a different body."""


class PayloadTooLargeError(APIError):
    """413: a limit was exceeded; ``detail["limit"]`` names it."""


class UnsupportedMediaTypeError(APIError):
    """415: content type, charset or content encoding refused."""


class RateLimitedError(APIError):
    """429: too much queued or the tenant is over its rate."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed (503: the queue is unreachable; 507: its disk is nearly full). Retried, as
    a 503; ``retry_after`` is the server's ``Retry-After`` when it sent one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: IdempotencyKeyReusedError,
}


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        import datetime as _dt

        if when.tzinfo is None:
            when = when.replace(tzinfo=_dt.UTC)
        seconds = (when - _dt.datetime.now(_dt.UTC)).total_seconds()
    if seconds != seconds or seconds < 0:  # NaN or in the past
        return 0.0
    return seconds


def api_error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], *, request_id: str | None = None
) -> APIError:
    """Build the typed error for an HTTP error response (body per docs/contract.md §3, or anything else)."""
    import json

    code = "http_error"
    message = f"HTTP {status}"
    detail: dict[str, Any] = {}
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        err = parsed["error"]
        code = str(err.get("code") or code)
        message = str(err.get("message") or message)
        detail = {k: v for k, v in err.items() if k not in ("code", "message")}
        for k, v in parsed.items():
            if k not in ("error",):
                detail.setdefault(k, v)
        request_id = request_id or (str(parsed["request_id"]) if "request_id" in parsed else None)
        detail.pop("request_id", None)
    elif isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        # API Gateway's own errors: {"message": "Forbidden"}
        message = parsed["message"]
    elif body:
        text = body[:200].decode("utf-8", "replace").strip()
        if text:
            message = text
    if status == 429 or status >= 500:
        waiting = RateLimitedError if status == 429 else ServerError
        return waiting(
            message,
            retry_after=parse_retry_after(headers.get("retry-after")),
            status=status,
            code=code,
            detail=detail,
            request_id=request_id,
        )
    cls: type[APIError]
    if status == 422 and code != "idempotency_key_reused":
        cls = BadRequestError
    else:
        cls = _BY_STATUS.get(status, BadRequestError)
    return cls(message, status=status, code=code, detail=detail, request_id=request_id)


def transport_error(exc: httpx.HTTPError, url: str) -> TransportError:
    """Translate an httpx failure to talk to ``url`` (the caller raises it ``from exc``)."""
    if isinstance(exc, httpx.TimeoutException):
        return TransportTimeoutError(f"timed out talking to {url}")
    return TransportError(f"cannot reach {url}: {str(exc) or type(exc).__name__}")
