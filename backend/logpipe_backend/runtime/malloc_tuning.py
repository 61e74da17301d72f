"""glibc malloc settings for the local server and worker processes: keep freed big buffers for reuse.

Both processes make and drop ~1 MB buffers by the dozen per request or message (a body, its inflated bytes,
its text, the queue message). glibc serves a buffer that large with an mmap of its own and unmaps it when
it is freed, or trims the heap as soon as 128 KiB are free at its top, so the next buffer is fresh pages:
one page fault per 4 KiB touched, and the kernel zeroes each page. A fixed mmap threshold (32 MiB, which
also stops glibc from adapting it) and a trim threshold of 64 MiB let freed buffers be reused instead.
Without it, page faults and the kernel's zeroing show up as system CPU time on every request and message
(figures: docs/performance.md). The price is memory: a process keeps up to 64 MiB it freed instead of giving
it back, so the server stays near its peak resident size after a burst.

One malloc arena for the whole process. glibc gives each thread that allocates an arena of its own (up to 8
per core), and what one arena frees serves only the threads that use it. The server handles each connection
in a thread of its own but one ingest request at a time (runtime/routes.py ``one_at_a_time``), so its
threads take turns, and each kept a request's worth of freed memory in its own arena. protobuf's Python
extension (upb) calls ``malloc_trim(0)`` every 10,000 frees it makes (each OTLP request's arena, each log
record without attributes), which hands the free pages of every arena back to the kernel, for the next
requests to fault in again: with one arena the server's OTLP run takes about a third of the page faults
(figures: docs/performance.md). A worker's other thread (the lease heartbeat) allocates little: one arena
costs it nothing measurable.

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
_M_ARENA_MAX: Final = -8
MMAP_THRESHOLD_BYTES: Final = 32 * 1024 * 1024  # glibc's upper limit for it on 64-bit
TRIM_THRESHOLD_BYTES: Final = 64 * 1024 * 1024
ARENAS: Final = 1


def keep_freed_buffers() -> bool:
    """Apply the settings above to this process, before it starts its threads; whether glibc took them."""
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
    applied = all(
        mallopt(parameter, value) == 1
        for parameter, value in (
            (_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES),
            (_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES),
            (_M_ARENA_MAX, ARENAS),
        )
    )
    if not applied:
        log.debug("glibc refused the malloc settings")
    return applied
