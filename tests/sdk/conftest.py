from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test reads the developer's ~/.config or LOGPIPE_* variables."""
    for name in (
        "LOGPIPE_ENDPOINT",
        "LOGPIPE_API_KEY",
        "LOGPIPE_ADMIN_TOKEN",
        "LOGPIPE_PROFILE",
        "LOGPIPE_TENANT",
        "LOGPIPE_AUTH",
        "LOGPIPE_REGION",
        "LOGPIPE_CONFIG",
    ):
        monkeypatch.delenv(name, raising=False)
    config_home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    yield config_home


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the delays the retry loop asks for instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr("logpipe._client.time.sleep", delays.append)
    monkeypatch.setattr("logpipe._admin.time.sleep", delays.append)
    return delays
