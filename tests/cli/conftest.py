from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

ENV_NAMES = (
    "LOGPIPE_ENDPOINT",
    "LOGPIPE_API_KEY",
    "LOGPIPE_ADMIN_TOKEN",
    "LOGPIPE_PROFILE",
    "LOGPIPE_TENANT",
    "LOGPIPE_AUTH",
    "LOGPIPE_REGION",
    "LOGPIPE_CONFIG",
)


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test reads the developer's ~/.config or LOGPIPE_* variables."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    config_home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    yield config_home


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
