"""Just enough ULID arithmetic for ``tail``: the bounds of a log_id range by time.

log_ids are 26-char Crockford base32 ULIDs (docs/contract.md §2): 10 chars of milliseconds, 16 of randomness.
"""

from __future__ import annotations

__all__ = ["is_log_id", "log_id_after_ms", "log_id_time_ms"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(_ALPHABET)}
_MAX_MS = (1 << 48) - 1


def log_id_time_ms(log_id: str) -> int:
    """The acceptance time (epoch ms) encoded in a log_id."""
    value = 0
    for ch in log_id[:10].upper():
        value = value * 32 + _VALUE[ch]
    return value


def is_log_id(value: str) -> bool:
    return len(value) == 26 and all(c in _VALUE for c in value.upper()) and value[0] in "01234567"


def log_id_after_ms(ms: int) -> str:
    """The greatest possible log_id of millisecond ``ms - 1``: ``after=`` it includes all of ``ms``."""
    ms = max(0, min(_MAX_MS, ms - 1))
    chars = []
    for _ in range(10):
        chars.append(_ALPHABET[ms & 31])
        ms >>= 5
    return "".join(reversed(chars)) + "Z" * 16
