"""`make demo` (examples/demo.py) runs the whole pipeline and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_runs_end_to_end() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGPIPE_")}
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "demo OK" in out and "none leaked" in out
    assert "hunter2" not in out and "alice@example.com" not in out
    assert "[REDACTED:card]" in out and "client_log_id=order-981-payment" in out
