"""Request limits of docs/contract.md §3. Each is a setting; :meth:`Limits.from_env` reads overrides."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class Limits:
    body_bytes: int = 4 * MIB  # body as sent (possibly gzip)
    decoded_bytes: int = 16 * MIB  # body after Content-Encoding, checked while inflating
    records: int = 10_000  # records per request
    record_bytes: int = 256 * KIB  # one normalized record, serialized as UTF-8 JSON
    json_depth: int = 64  # nesting of objects/arrays inside one record
    idempotency_key_chars: int = 128

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """``LOGPIPE_LIMIT_<NAME>`` (e.g. ``LOGPIPE_LIMIT_BODY_BYTES``) overrides a default."""
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for f in fields(cls):
            raw = env.get(f"LOGPIPE_LIMIT_{f.name.upper()}")
            if raw is not None:
                values[f.name] = int(raw)
        return cls(**values)
