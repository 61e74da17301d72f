"""logpipe SDK: send logs to a logpipe endpoint and read them back.

import logpipe
client = logpipe.Client(endpoint=..., api_key=..., tenant="acme")
client.send({"level": "error", "message": "disk full"})
logging.getLogger().addHandler(logpipe.LogpipeHandler(client))
for record in logpipe.AdminClient(admin_token=...).tail(tenant="acme"): ...
"""

from __future__ import annotations

from ._admin import AdminClient
from ._async_client import AsyncClient
from ._batcher import BatchLimits
from ._client import Client, SendResult, SendStats
from ._config import Settings, load_settings, save_profile
from ._exceptions import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigError,
    IdempotencyKeyReusedError,
    InvalidRecordError,
    LogpipeError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
    TransportTimeoutError,
    UnsupportedMediaTypeError,
)
from ._handler import HandlerStats, LogpipeHandler
from ._read_api import Page
from ._retry import RetryPolicy

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AdminClient",
    "AsyncClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchLimits",
    "Client",
    "ClientClosedError",
    "ConfigError",
    "HandlerStats",
    "IdempotencyKeyReusedError",
    "InvalidRecordError",
    "LogpipeError",
    "LogpipeHandler",
    "NotFoundError",
    "Page",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RetryPolicy",
    "SendResult",
    "SendStats",
    "ServerError",
    "Settings",
    "TransportError",
    "TransportTimeoutError",
    "UnsupportedMediaTypeError",
    "__version__",
    "load_settings",
    "save_profile",
]
