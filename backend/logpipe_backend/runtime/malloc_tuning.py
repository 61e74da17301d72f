"""glibc malloc settings for the local server and worker processes: keep freed big buffers for reuse.

Both processes make and drop ~1 MB buffers by the dozen per request or message (a body, its inflated bytes,
its text, the queue message). glibc serves a buffer that large with an mmap of its own and unmaps it when
it is freed, or trims the heap as soon as 128 KiB are free at its top, so the next buffer is fresh pages:
one page fault per 4 KiB touched, and the kernel zeroes each page. A fixed mmap threshold (32 MiB, which
also stops glibc from adapting it) and a trim threshold of 64 MiB let freed buffers be reused instead.
Without it, page faults and the kernel's zeroing show up as system CPU time on every request and message
(figures: docs/performance.md). The price is memory: a process keeps up to 64 MiB it freed instead of giving
it back, so the server stays near its peak resident size after a burst.

Only glibc has ``mallopt`` with these parameters; elsewhere (macOS, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from typing import Final

log = logging.getLogger("logpipe.malloc")

# glibc's <malloc.h> parameter numbers.
_M_TRIM_THRESHOLD: Final = -1
_M_MMAP_THRESHOLD: Final = -3
MMAP_THRESHOLD_BYTES: Final = 32 * 1024 * 1024  # glibc's upper limit for it on 64-bit
TRIM_THRESHOLD_BYTES: Final = 64 * 1024 * 1024


def keep_freed_buffers() -> bool:
    """Apply the settings above to this process; whether glibc took them."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)  # this process's symbols, the C library's among them
        if not hasattr(libc, "gnu_get_libc_version"):  # not glibc (musl's mallopt does nothing)
            return False
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success, 0 on error.
    applied = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
    if not applied:
        log.debug("glibc refused the malloc settings")
    return applied
