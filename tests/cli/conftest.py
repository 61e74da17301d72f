from __future__ import annotations

import pytest
from click.testing import CliRunner
from settings_fixtures import isolated_settings  # noqa: F401  (autouse fixture)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
