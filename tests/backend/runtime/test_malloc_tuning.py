"""malloc_tuning: freed ~1 MB buffers are reused (no fresh pages), shown by the page faults they cost; one
malloc arena for all the threads, shown by glibc's own statistics."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
from logpipe_backend.runtime import malloc_tuning

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt's parameters are glibc's; elsewhere keep_freed_buffers does nothing",
)

# What a request does: make a few ~1 MiB buffers (bytearray touches each: it zero-fills), drop them all.
# Prints the minor page faults 50 rounds took.
_PROBE = """
import resource, sys
from logpipe_backend.runtime import malloc_tuning
if sys.argv[1] == "tuned":
    assert malloc_tuning.keep_freed_buffers()
def request():
    buffers = [bytearray(1 << 20) for _ in range(4)]
    del buffers
for _ in range(5):
    request()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    request()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    backend = Path(malloc_tuning.__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(backend), os.environ.get("PYTHONPATH", "")])}
    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_"):
        env.pop(name, None)  # glibc's defaults, whatever this shell set
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], env=env, capture_output=True, text=True, check=True
    )
    return int(out.stdout)


@glibc_only
def test_freed_buffers_are_reused_instead_of_mapped_again() -> None:
    untuned, tuned = _faults("default"), _faults("tuned")
    # glibc's default: the heap is trimmed once the buffers are freed, so each round faults its 4 MiB in
    # again (1,024 pages a round); tuned, the rounds reuse the same memory.
    assert untuned > 50 * 500, untuned
    assert tuned < 50 * 20, tuned


# Four threads each hold 1 MiB at once, then glibc prints its statistics: one "Arena N:" block per arena.
_ARENAS_PROBE = """
import ctypes, sys, threading
from logpipe_backend.runtime import malloc_tuning
if sys.argv[1] == "tuned":
    assert malloc_tuning.keep_freed_buffers()
barrier = threading.Barrier(4)
def allocate():
    buffer = bytearray(1 << 20)
    barrier.wait(10)
    del buffer
threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
ctypes.CDLL(None).malloc_stats()
"""


def _arenas(mode: str) -> int:
    backend = Path(malloc_tuning.__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(backend), os.environ.get("PYTHONPATH", "")])}
    env.pop("MALLOC_ARENA_MAX", None)
    out = subprocess.run(
        [sys.executable, "-c", _ARENAS_PROBE, mode], env=env, capture_output=True, text=True, check=True
    )
    return sum(line.startswith("Arena ") for line in out.stderr.splitlines())


@glibc_only
def test_the_threads_share_one_arena() -> None:
    # glibc's default: the threads that allocate at once get arenas of their own (the main one and more).
    assert _arenas("default") > 1
    assert _arenas("tuned") == 1


@glibc_only
def test_applies_on_glibc() -> None:
    assert malloc_tuning.keep_freed_buffers() is True


def test_does_nothing_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(malloc_tuning.sys, "platform", "darwin")
    assert malloc_tuning.keep_freed_buffers() is False
