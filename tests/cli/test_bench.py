from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "send_memory.py"


@pytest.mark.slow
def test_send_memory_is_flat_small() -> None:
    """bench/send_memory.py --small: 10x the input must not mean (much) more memory."""
    out = subprocess.run(
        [sys.executable, str(BENCH), "--small", "--json", "--max-ratio", "1.5"],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr + out.stdout
    data = json.loads(out.stdout)
    small, large = data["results"]
    assert large["records_received"] == large["lines"] and small["records_received"] == small["lines"]
    assert large["peak_rss_mb"] < 150
