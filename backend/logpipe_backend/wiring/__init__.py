"""Builds each handler's dependencies from the environment: AWS adapters or local ones, never both.

``LOGPIPE_QUEUE_URL`` set → the AWS adapters (SQS, DynamoDB; boto3 clients made once, ``AWS_ENDPOINT_URL``
honoured). Otherwise the local adapters on ``LOGPIPE_DATA_DIR`` (default: the XDG data dir).

One module per function (``wiring.ingest``, ``wiring.worker``, ``wiring.admin``), each importing its adapters
inside the function that builds them: a Lambda zip then holds only what its own function can import (see
``infra/package_lambdas.py``), and the local stack never loads boto3.

Settings read by the builders: ``LOGPIPE_QUEUE_URL``, ``LOGPIPE_DATA_DIR``, ``LOGPIPE_ADMIN_AUTH``
(``token`` | ``iam``; default ``iam`` on AWS, ``token`` locally), ``LOGPIPE_ADMIN_TOKEN``,
``LOGPIPE_MAX_QUEUE_DEPTH``, ``LOGPIPE_SIMULATED_WORK_PER_CHAR``, ``LOGPIPE_REDACT_PATTERNS``,
``LOGPIPE_LIMIT_*``, and the AWS adapters' own (``adapters/aws/wiring.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def env_or_os(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def on_aws(environ: Mapping[str, str] | None = None) -> bool:
    return bool(env_or_os(environ).get("LOGPIPE_QUEUE_URL"))
