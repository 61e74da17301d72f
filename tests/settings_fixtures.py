"""``isolated_settings``: the SDK and CLI tests never read the developer's ~/.config or LOGPIPE_* variables.

Imported (not a conftest) by ``tests/sdk/conftest.py`` and ``tests/cli/conftest.py``, which make it autouse
there; the other suites start real servers with environments of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["isolated_settings"]

# Every variable the SDK's settings read (sdk/logpipe/_config.py).
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
    """No test reads the developer's ~/.config or LOGPIPE_* variables; yields the XDG config home."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    config_home = tmp_path / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    yield config_home
