"""Exit codes of docs/contract.md §4, in one place."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    NOT_ACCEPTED = 1  # some records not accepted, or the server refused
    USAGE = 2  # usage error (click uses 2 as well)
    UNREACHABLE = 3  # cannot reach the endpoint
    INTERRUPTED = 130  # a second Ctrl-C: left at once (128 + SIGINT, the shell's convention)
