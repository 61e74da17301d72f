"""Reading ``logpipe send``'s inputs: files, globs, ``.gz`` and stdin, line by line in bounded memory."""

from __future__ import annotations

import glob
import gzip
import io
import os
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from logpipe import SendStats

# A line longer than a record may be (256 KiB) is read only up to this and then skipped to its end, so one
# giant line (a binary file, a minified bundle) cannot take memory without bound.
MAX_LINE_BYTES = 256 * 1024 + 2
READ_BUFFER = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"


class InputError(Exception):
    """An input cannot be opened (usage error) or read."""


@dataclass(frozen=True)
class Source:
    name: str  # path, or "-" for stdin

    def open(self) -> BinaryIO:
        if self.name == "-":
            return _open_stdin()
        try:
            raw: BinaryIO = open(self.name, "rb", buffering=READ_BUFFER)  # noqa: SIM115 - closed by caller
        except OSError as exc:
            raise InputError(f"cannot open {self.name}: {exc.strerror or exc}") from exc
        # .gz by name or by content (a rotated log renamed without its suffix is still gzip)
        if self.name.endswith(".gz") or raw.peek(2)[:2] == GZIP_MAGIC:  # type: ignore[attr-defined]
            return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
        return raw


def _open_stdin() -> BinaryIO:
    """stdin through a reader of our own on a duplicate of fd 0.

    After Ctrl-C, ``send`` returns without waiting for the reading thread, which may be blocked in a
    read. Had it been reading ``sys.stdin.buffer``, interpreter shutdown would try to take that buffer's
    lock and abort ("could not acquire lock ... at interpreter shutdown"); nobody at shutdown touches
    this private reader.
    """
    try:
        fd = os.dup(sys.stdin.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return sys.stdin.buffer  # not a real file (tests' CliRunner): no such problem
    stream = io.BufferedReader(io.FileIO(fd, "rb"), buffer_size=READ_BUFFER)
    if stream.peek(2)[:2] == GZIP_MAGIC:  # `zcat`-free: `logpipe send - < app.log.gz`
        return gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[return-value]
    return stream


def expand(args: tuple[str, ...]) -> list[Source]:
    """Files, globs (``**`` recursive) and ``-``; a pattern matching nothing is a usage error."""
    sources: list[Source] = []
    for arg in args or ("-",):
        if arg == "-":
            sources.append(Source("-"))
            continue
        if os.path.exists(arg) or not glob.has_magic(arg):
            if not os.path.isfile(arg):
                raise InputError(f"no such file: {arg}")
            sources.append(Source(arg))
            continue
        matches = sorted(p for p in glob.glob(arg, recursive=True) if os.path.isfile(p))
        if not matches:
            raise InputError(f"no file matches {arg}")
        sources.extend(Source(p) for p in matches)
    return sources


@dataclass
class ReadPosition:
    """Where reading got to: the source being read and the ``stats.lines_read`` count before its line 1.

    ``lines_done(stats)`` is how many lines of that source were read. Lines are counted as ``lines_read``
    counts them (a skipped giant line is one), so ``--skip-lines`` of that count resumes exactly there.
    ``stopping`` (set by Ctrl-C) ends reading before the next line is handed over: a plain attribute, not an
    ``Event``, because it is checked on every line.
    """

    sources: list[Source]
    index: int = 0
    base: int = 0
    stopping: bool = False

    def lines_done(self, stats: SendStats) -> int:
        """Lines of ``sources[index]`` read so far (or skipped with ``--skip-lines``)."""
        return stats.lines_read - self.base

    def resume_command(self, stats: SendStats) -> str:
        """The ``logpipe send`` that carries on where reading stopped."""
        rest = [shlex.quote(s.name) for s in self.sources[self.index :]]
        return f"logpipe send {' '.join(rest)} --skip-lines {self.lines_done(stats)}"


def _skip_lines(stream: BinaryIO, count: int) -> int:
    """Read past ``count`` lines (however long); the number there were."""
    done = 0
    while done < count:
        line = stream.readline(READ_BUFFER)
        if not line:
            break
        if line.endswith(b"\n") or len(line) < READ_BUFFER:  # not a piece of a longer line
            done += 1
    return done


def read_lines(
    sources: list[Source],
    stats: SendStats,
    skipped: list[str],
    *,
    skip_lines: int = 0,
    position: ReadPosition | None = None,
) -> Iterator[str]:
    """Every line of every source, decoded as UTF-8 (invalid bytes become U+FFFD, so a stray byte costs
    one character, not the record). Lines over ``MAX_LINE_BYTES`` are skipped and noted in ``skipped``.

    ``skip_lines``: the first source's first lines are read past (``--skip-lines``, to resume).
    ``position.stopping`` ends the lines at once (Ctrl-C): a line read after it is neither yielded nor
    counted, so every line before ``position`` was handed over and none after it (issue 15).
    """
    position = position or ReadPosition(sources)
    for index, source in enumerate(sources):
        stream = source.open()
        position.index, position.base = index, stats.lines_read
        try:
            if index == 0 and skip_lines:
                try:
                    position.base -= _skip_lines(stream, skip_lines)
                except (OSError, EOFError, gzip.BadGzipFile) as exc:
                    raise InputError(f"reading {source.name}: {exc}") from exc
            while True:
                try:
                    line = stream.readline(MAX_LINE_BYTES)
                except (OSError, EOFError, gzip.BadGzipFile) as exc:
                    raise InputError(f"reading {source.name}: {exc}") from exc
                if position.stopping:
                    return
                if not line:
                    break
                stats.bytes_read += len(line)
                if len(line) >= MAX_LINE_BYTES and not line.endswith(b"\n"):
                    # skip to the end of this giant line
                    while line and not line.endswith(b"\n"):
                        line = stream.readline(READ_BUFFER)
                        stats.bytes_read += len(line)
                    stats.lines_read += 1
                    stats.add(rejected=1)
                    if len(skipped) < 5:
                        skipped.append(f"{source.name}: a line over 256 KiB was skipped")
                    continue
                stats.lines_read += 1
                yield line.decode("utf-8", "replace")
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
