"""Every ``LOGPIPE_*`` environment variable the backend reads, read here, typed.

Each reader takes the environment as a mapping (None: ``os.environ``), so a test passes a dict and a
process reads its own. Nothing here imports an adapter: ``logpipe_backend.wiring`` turns these values into
adapters and the ``*Deps`` of ``logpipe_backend.ports``.

| variable | read by | meaning |
| --- | --- | --- |
| ``LOGPIPE_QUEUE_URL`` | :func:`on_aws`, wiring.aws | set: the AWS adapters (the SQS queue); unset: local |
| ``LOGPIPE_DATA_DIR`` | :func:`data_dir` | the local stack's data dir (default: the XDG data dir) |
| ``LOGPIPE_ADMIN_TOKEN`` | :func:`admin_token` | the local admin token (else the data dir's stored one) |
| ``LOGPIPE_ADMIN_AUTH`` | :func:`admin_auth_mode` | ``token`` or ``iam`` (default: ``iam`` on AWS) |
| ``LOGPIPE_MAX_QUEUE_DEPTH`` | :func:`max_queue_depth` | ingest answers 429 past it; 0: no bound |
| ``LOGPIPE_SIMULATED_WORK_PER_CHAR`` | :func:`work_per_char_s` | the seed's simulated work, s a character |
| ``LOGPIPE_LIMIT_<NAME>`` | :func:`limits` | a request limit of docs/contract.md §3 |
| ``LOGPIPE_RATE_LIMIT_RECORDS_PER_S``, ``..._BURST`` | :func:`rate_limiter` | per-tenant rate limit |
| ``LOGPIPE_REDACT_PATTERNS`` | :func:`redact_patterns` | extra secret patterns, one regex a line |
| ``LOGPIPE_MIN_FREE_MB`` | :func:`min_free_bytes` | ``logpipe serve`` refuses a data dir with less free |
| ``LOGPIPE_TABLE_NAME``, ``LOGPIPE_*_TABLE_NAME`` | :func:`required` | the DynamoDB tables (wiring.aws) |
| ``LOGPIPE_LOG_RETENTION_DAYS`` | :func:`retention_days` | TTL of stored records on AWS (0: forever) |
| ``LOGPIPE_STRICT_ISOLATION`` | :func:`strict_isolation` | per-tenant credentials (with the role's ARN) |

The CLI's and the SDK's own variables (the key, the endpoint, ``logpipe serve``'s options) are read in
``cli/`` and ``sdk/``. ``core/`` reads no environment: it holds the defaults these readers complete.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Final

from logpipe_backend.core.limits import Limits
from logpipe_backend.core.ratelimit import DEFAULT_BURST, DEFAULT_RECORDS_PER_S, RateLimiter
from logpipe_backend.ports import AUTH_MODES, DEFAULT_MAX_QUEUE_DEPTH

ENV_QUEUE_URL: Final = "LOGPIPE_QUEUE_URL"
ENV_TABLE_NAME: Final = "LOGPIPE_TABLE_NAME"
ENV_TENANTS_TABLE_NAME: Final = "LOGPIPE_TENANTS_TABLE_NAME"
ENV_IDEMPOTENCY_TABLE_NAME: Final = "LOGPIPE_IDEMPOTENCY_TABLE_NAME"
ENV_RETENTION_DAYS: Final = "LOGPIPE_LOG_RETENTION_DAYS"
ENV_STRICT_ISOLATION: Final = "LOGPIPE_STRICT_ISOLATION"
ENV_TENANT_ACCESS_ROLE_ARN: Final = "LOGPIPE_TENANT_ACCESS_ROLE_ARN"
ENV_REDACT_PATTERNS: Final = "LOGPIPE_REDACT_PATTERNS"
ENV_RATE: Final = "LOGPIPE_RATE_LIMIT_RECORDS_PER_S"  # 0 disables the limit
ENV_BURST: Final = "LOGPIPE_RATE_LIMIT_BURST"
DEFAULT_RETENTION_DAYS: Final = 30
# Below this much free space `logpipe serve` refuses to start: SQLite needs room for its WAL and checkpoints,
# and a queue that cannot commit answers 503 to every request. LOGPIPE_MIN_FREE_MB overrides (0: no check).
DEFAULT_MIN_FREE_MB: Final = 64
_TRUE: Final = ("1", "true", "yes", "on")
_FALSE: Final = ("", "0", "false", "no", "off")

Env = Mapping[str, str]


class ConfigError(Exception):
    """A setting is missing or wrong (the message names the variable)."""


def env_or_os(environ: Env | None) -> Env:
    return os.environ if environ is None else environ


def on_aws(environ: Env | None = None) -> bool:
    """``LOGPIPE_QUEUE_URL`` set: the AWS adapters; otherwise the local ones."""
    return bool(env_or_os(environ).get(ENV_QUEUE_URL))


def required(environ: Env | None, name: str) -> str:
    value = env_or_os(environ).get(name, "").strip()
    if not value:
        raise ConfigError(f"{name} is not set")
    return value


def max_queue_depth(environ: Env | None = None) -> int:
    raw = env_or_os(environ).get("LOGPIPE_MAX_QUEUE_DEPTH")
    return DEFAULT_MAX_QUEUE_DEPTH if raw is None or raw.strip() == "" else int(raw)


def work_per_char_s(environ: Env | None = None) -> float:
    raw = env_or_os(environ).get("LOGPIPE_SIMULATED_WORK_PER_CHAR", "").strip()
    value = float(raw) if raw else 0.0
    if value < 0 or value != value:  # negative or NaN
        raise ValueError("LOGPIPE_SIMULATED_WORK_PER_CHAR must be a number of seconds >= 0")
    return value


def admin_auth_mode(environ: Env | None = None) -> str:
    env = env_or_os(environ)
    mode = env.get("LOGPIPE_ADMIN_AUTH") or ("iam" if on_aws(env) else "token")
    if mode not in AUTH_MODES:
        raise ValueError(f"LOGPIPE_ADMIN_AUTH must be one of {AUTH_MODES}, not {mode!r}")
    return mode


def limits(environ: Env | None = None) -> Limits:
    """``LOGPIPE_LIMIT_<NAME>`` (e.g. ``LOGPIPE_LIMIT_BODY_BYTES``) over the defaults of core/limits.py."""
    env = env_or_os(environ)
    values: dict[str, int] = {}
    for f in fields(Limits):
        raw = env.get(f"LOGPIPE_LIMIT_{f.name.upper()}")
        if raw is not None:
            values[f.name] = int(raw)
    return Limits(**values)


def rate_limiter(
    environ: Env | None = None, *, clock: Callable[[], float] = time.monotonic
) -> RateLimiter | None:
    """The limiter ``LOGPIPE_RATE_LIMIT_RECORDS_PER_S`` / ``LOGPIPE_RATE_LIMIT_BURST`` ask for; None when
    the rate is 0 (no limit). Bad values raise ValueError at start-up, not per request."""
    env = env_or_os(environ)
    raw_rate = (env.get(ENV_RATE) or "").strip()
    raw_burst = (env.get(ENV_BURST) or "").strip()
    rate = float(raw_rate) if raw_rate else DEFAULT_RECORDS_PER_S
    if rate == 0:
        return None
    if raw_burst:
        burst = float(raw_burst)
    elif raw_rate:  # a rate without a burst: the default's 4 seconds' worth of it
        burst = max(1.0, rate * DEFAULT_BURST / DEFAULT_RECORDS_PER_S)
    else:
        burst = DEFAULT_BURST
    if not (math.isfinite(rate) and math.isfinite(burst)):
        raise ValueError(f"{ENV_RATE} and {ENV_BURST} must be finite numbers")
    return RateLimiter(rate, burst, clock=clock)


def redact_patterns(environ: Env | None = None) -> list[str]:
    """The extra patterns of ``LOGPIPE_REDACT_PATTERNS`` (one regex a line; blank lines skipped)."""
    lines = env_or_os(environ).get(ENV_REDACT_PATTERNS, "").splitlines()
    return [line for line in lines if line.strip()]


def data_dir(environ: Env | None = None) -> Path:
    """``$LOGPIPE_DATA_DIR``, else ``$XDG_DATA_HOME/logpipe``, else ``~/.local/share/logpipe``."""
    env = env_or_os(environ)
    explicit = env.get("LOGPIPE_DATA_DIR")
    if explicit:
        return Path(explicit).expanduser()
    xdg = env.get("XDG_DATA_HOME", "")
    # XDG: a relative XDG_DATA_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "logpipe"


def admin_token(environ: Env | None = None) -> str | None:
    """``LOGPIPE_ADMIN_TOKEN`` when set (else the local stack uses the one stored in its data dir)."""
    return env_or_os(environ).get("LOGPIPE_ADMIN_TOKEN") or None


def min_free_bytes(environ: Env | None = None) -> int:
    raw = env_or_os(environ).get("LOGPIPE_MIN_FREE_MB", "").strip()
    try:
        mb = float(raw) if raw else float(DEFAULT_MIN_FREE_MB)
    except ValueError:
        raise ConfigError(f"LOGPIPE_MIN_FREE_MB must be a number of MiB, not {raw!r}") from None
    if mb < 0 or mb != mb:
        raise ConfigError(f"LOGPIPE_MIN_FREE_MB must be >= 0, not {raw!r}")
    return int(mb * 1024 * 1024)


def retention_days(environ: Env | None = None) -> int:
    raw = env_or_os(environ).get(ENV_RETENTION_DAYS, "").strip()
    try:
        days = int(raw) if raw else DEFAULT_RETENTION_DAYS
    except ValueError as exc:
        raise ConfigError(f"{ENV_RETENTION_DAYS} must be a whole number of days, not {raw!r}") from exc
    if days < 0:
        raise ConfigError(f"{ENV_RETENTION_DAYS} must be 0 or more")
    return days


def strict_isolation(environ: Env | None = None) -> bool:
    raw = env_or_os(environ).get(ENV_STRICT_ISOLATION, "").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigError(f"{ENV_STRICT_ISOLATION} must be 1 or 0, not {raw!r}")
