"""What the three handlers share: the last-resort error boundary and small event readers."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.http import error_response
from logpipe_backend.ports import now_ms

__all__ = ["Event", "Response", "error_headers", "guarded", "method", "now_ms", "path_of", "request_id"]

log = logging.getLogger("logpipe.handlers")

Event = Mapping[str, Any]
Response = dict[str, Any]


def method(event: Event) -> str:
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(http.get("method") or "").upper()


def path_of(event: Event) -> str:
    """The request's path: ``rawPath`` of a payload 2.0 event (the stage is ``$default``: no prefix); an
    event without one (a hand-built test event) is POST /ingest's."""
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(event.get("rawPath") or http.get("path") or "/ingest")


def error_headers(err: ApiError) -> dict[str, str]:
    """The headers an error carries whatever its body's shape: ``Retry-After`` and ``Allow``."""
    return {
        name.replace("_", "-"): str(err.detail[name])
        for name in ("retry_after", "allow")
        if name in err.detail
    }


def request_id(event: Event) -> str:
    rid = (event.get("requestContext") or {}).get("requestId")
    return str(rid) if rid else secrets.token_urlsafe(12)


def guarded(name: str, run: Callable[[], Response]) -> Response:
    """Run a handler body: an ApiError becomes its JSON response; anything else a 500 without details.

    A bad input must never raise out of a Lambda (API Gateway would answer a bare 500 with no JSON), and a
    traceback in a response would leak internals, so the exception goes to the log only.
    """
    try:
        return run()
    except ApiError as err:
        return error_response(err)
    except Exception:
        log.exception("%s handler failed", name)
        return error_response(ApiError(500, "internal_error", "internal error; see the server log"))
