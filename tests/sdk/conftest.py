from __future__ import annotations

import pytest
from settings_fixtures import isolated_settings  # noqa: F401  (autouse fixture)


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the delays the retry loop asks for instead of sleeping."""
    delays: list[float] = []
    monkeypatch.setattr("logpipe._client.time.sleep", delays.append)
    monkeypatch.setattr("logpipe._admin.time.sleep", delays.append)
    return delays
