"""Shared fixtures: ``running_server`` and ``server_factory`` start a real ``logpipe serve``.

The machinery lives in ``tests/local_stack.py`` (a uniquely named module, so tests can import
``LocalServer`` for type hints without importing a ``conftest``); see its docstring for usage.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from local_stack import LocalServer

# CI (CI=true): hypothesis derandomized and without its per-example deadline, so a run is repeatable and a
# slow shared machine cannot fail a property on timing alone. Locally it explores new examples each run.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

__all__ = ["LocalServer", "running_server", "server_factory"]


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    """Start stacks: ``server_factory(workers=2, visibility_timeout=2.0, env={...}, data_dir=None)``."""
    started: list[LocalServer] = []

    def make(
        *,
        workers: int = 2,
        visibility_timeout: float = 2.0,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
    ) -> LocalServer:
        workdir = tmp_path / f"stack{len(started)}"
        workdir.mkdir()
        server = LocalServer(
            data_dir=data_dir or workdir / "data",
            workdir=workdir,
            workers=workers,
            visibility_timeout=visibility_timeout,
            extra_env=dict(env or {}),
        )
        started.append(server)
        return server.start()

    yield make
    for server in started:
        if server.process is not None:
            server.kill()


@pytest.fixture
def running_server(server_factory: Callable[..., LocalServer]) -> LocalServer:
    """A started ``logpipe serve`` with 2 workers and a 2 s visibility timeout."""
    return server_factory()
