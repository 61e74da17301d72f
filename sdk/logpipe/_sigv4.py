"""SigV4 signing (service ``execute-api``) for the admin API on AWS, as an ``httpx.Auth``.

botocore does the signing (it ships with boto3, a product dependency) and is imported only when SigV4 is
used, so the bearer-token path never pays for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Generator
from typing import Any

import httpx

from ._exceptions import ConfigError

__all__ = ["SigV4Auth", "region_from_url"]

_REGION_IN_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


def region_from_url(url: str) -> str | None:
    match = _REGION_IN_HOST.search(url)
    return match.group(1) if match else None


class SigV4Auth(httpx.Auth):
    requires_request_body = True  # the signature covers a hash of the body

    def __init__(
        self, *, region: str | None = None, session: Any = None, service: str = "execute-api"
    ) -> None:
        try:
            import botocore.session
        except ImportError as exc:  # pragma: no cover - boto3 is a dependency
            raise ConfigError("SigV4 needs botocore (pip install boto3)") from exc
        self._session = session if session is not None else botocore.session.get_session()
        self._region = region
        self._service = service

    def _resolve_region(self, url: str) -> str:
        region = (
            self._region
            or region_from_url(url)
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
        )
        if not region:
            getter = getattr(self._session, "get_config_variable", None)
            region = getter("region") if getter else getattr(self._session, "region_name", None)
        if not region:
            raise ConfigError("no AWS region for SigV4: set --region, LOGPIPE_REGION or AWS_REGION")
        return str(region)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        from botocore.auth import SigV4Auth as BotoSigV4
        from botocore.awsrequest import AWSRequest

        credentials = self._session.get_credentials()
        if credentials is None:
            raise ConfigError("no AWS credentials found for SigV4 (boto3's default chain)")
        url = str(request.url)
        aws_request = AWSRequest(method=request.method, url=url, data=request.content)
        BotoSigV4(credentials.get_frozen_credentials(), self._service, self._resolve_region(url)).add_auth(
            aws_request
        )
        for name, value in aws_request.headers.items():
            request.headers[name] = value
        yield request
