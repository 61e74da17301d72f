"""gzip for request bodies: isal's igzip when it is installed, the standard library's gzip when not.

isal is optional (like orjson): both write standard gzip, which the server (and any gzip reader) inflates
the same. At level 1 isal takes ~0.26 µs per benchmark line against zlib's ~1.08, and its output is smaller
(211 against 222 KB per MB of lines), measured on ``bench/_common.py``'s records. isal's levels are not
zlib's (0-3, other trade-offs), so only level 1, the SDK's default and the fastest either way, goes to isal.
"""

from __future__ import annotations

import gzip

try:
    from isal import igzip
except ImportError:  # optional: the standard library's gzip
    igzip = None  # type: ignore[assignment]

FAST_LEVEL = 1


def compress(data: bytes, level: int) -> bytes:
    """``data`` as one gzip member at zlib ``level`` (1 through isal when installed), mtime 0."""
    if igzip is not None and level == FAST_LEVEL:
        return igzip.compress(data, compresslevel=FAST_LEVEL, mtime=0)
    return gzip.compress(data, compresslevel=level, mtime=0)
