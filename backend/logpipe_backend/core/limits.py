"""Request limits of docs/contract.md §3. Each is a setting: ``settings.limits`` reads the overrides."""

from __future__ import annotations

from dataclasses import dataclass

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
