"""Free space on the data dir's file system: ``/healthz``'s figures, and ingest's 507 when it runs low.

A queue that cannot commit answers 503 (tests/faults/test_fault_datadir.py), but only once SQLite has failed
mid-write. Refusing *before* the disk is full keeps room for what is already accepted: the workers still
write the queued records to logs.db, SQLite still checkpoints its WAL, and the retention sweep (which needs
a little space to delete) still runs. So below ``--min-free`` ingest answers 507 Insufficient Storage
(RFC 4918 §11.5) with ``Retry-After``; clients treat it like 503 and come back later.

The default threshold is the *smaller* of 1 GiB and 5 % of the file system: on a 20 GiB disk 5 % (1 GiB)
is the margin; on a 4 TiB disk 5 % would leave 200 GiB unused for nothing, while 1 GiB is still hundreds of
times the largest write (a 1 MiB message, a WAL checkpoint of a few MiB); on a small 8 GiB volume it is
410 MiB instead of an eighth of the disk.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from logpipe_backend.core.errors import ApiError
from logpipe_backend.core.http import error_response

DEFAULT_MIN_FREE_BYTES: Final = 1 << 30
DEFAULT_MIN_FREE_PERCENT: Final = 5.0
RETRY_AFTER_S: Final = 30  # space comes back with a retention sweep (every 60 s by default) or an operator
CHECK_EVERY_S: Final = 0.5  # statvfs at most this often: one call per request would be wasted work
_UNITS: Final = {
    **{"": 1, "b": 1},
    **{name: 1 << (10 * power) for power, letter in enumerate("kmgt", 1) for name in (letter, f"{letter}ib")},
}
_SIZE_RE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_PERCENT_RE: Final = re.compile(r"(\d+(?:\.\d+)?)\s*%")

LambdaHandler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class MinFree:
    """The threshold: ``bytes`` and/or ``percent`` of the file system; with both, the smaller applies."""

    bytes: int | None = DEFAULT_MIN_FREE_BYTES
    percent: float | None = DEFAULT_MIN_FREE_PERCENT

    def threshold(self, total_bytes: int) -> int:
        limits = [] if self.bytes is None else [self.bytes]
        if self.percent is not None:
            limits.append(int(total_bytes * self.percent / 100))
        return min(limits) if limits else 0

    @classmethod
    def parse(cls, text: str) -> MinFree:
        """``1GiB``, ``500M``, ``5%``, a number of bytes, ``0`` (no threshold), or ``default``."""
        raw = text.strip().lower()
        if raw in ("", "default"):
            return cls()
        percent = _PERCENT_RE.fullmatch(raw)
        if percent:
            value = float(percent.group(1))
            if value > 100:
                raise ValueError(f"--min-free {text!r}: a percentage is at most 100")
            return cls(bytes=None, percent=value)
        size = _SIZE_RE.fullmatch(raw)
        if size is None or size.group(2) not in _UNITS:
            raise ValueError(f"--min-free {text!r}: use a size (1GiB, 500MiB), a percentage (5%) or 0")
        return cls(bytes=int(float(size.group(1)) * _UNITS[size.group(2)]), percent=None)


class DiskGuard:
    """Watches the data dir's free space; :meth:`guard` wraps the ingest handler with the 507."""

    def __init__(
        self, data_dir: Path, min_free: MinFree, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._dir = data_dir
        self._min_free = min_free
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._free = 0
        self._threshold = 0

    def _refresh(self) -> tuple[int, int]:
        with self._lock:
            now = self._clock()
            if now - self._checked_at >= CHECK_EVERY_S:
                usage = shutil.disk_usage(self._dir)
                self._free, self._threshold = usage.free, self._min_free.threshold(usage.total)
                self._checked_at = now
            return self._free, self._threshold

    def free_bytes(self) -> int:
        return self._refresh()[0]

    def low(self) -> bool:
        free, threshold = self._refresh()
        return free < threshold

    def guard(self, handler: LambdaHandler) -> LambdaHandler:
        def guarded(event: dict[str, Any]) -> dict[str, Any]:
            method = event.get("requestContext", {}).get("http", {}).get("method")
            if method == "POST":
                free, threshold = self._refresh()
                if free < threshold:
                    return error_response(
                        ApiError(
                            507,
                            "insufficient_storage",
                            f"the server's disk is nearly full ({free} bytes free, under {threshold});"
                            " nothing was accepted: retry later",
                            retry_after=RETRY_AFTER_S,
                        )
                    )
            return handler(event)

        return guarded
