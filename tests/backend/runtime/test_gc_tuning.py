"""The local processes' GC settings (runtime/gc_tuning.py): the workers and the server both apply them.

Each check runs in a child process: gc.freeze() would keep the test process's objects from ever being
collected.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(code: str) -> None:
    subprocess.run(
        [sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    )


def test_tune_gc_freezes_start_up_and_raises_the_youngest_threshold() -> None:
    _run(
        "import gc\n"
        "from logpipe_backend.runtime import gc_tuning as g\n"
        "assert gc.get_freeze_count() == 0 and gc.get_threshold()[0] != g.GC_THRESHOLD\n"
        "second, third = gc.get_threshold()[1:]\n"
        "g.tune_gc()\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "assert gc.get_threshold() == (g.GC_THRESHOLD, second, third), gc.get_threshold()\n"
    )


def test_a_worker_process_tunes_the_gc() -> None:
    source = (Path(__file__).parents[3] / "backend/logpipe_backend/runtime/worker_loop.py").read_text()
    assert "from logpipe_backend.runtime.gc_tuning import tune_gc" in source
    main = source[source.index("def main(") :]
    assert "    tune_gc()\n" in main  # in main, after start-up, before the loop runs


def test_the_server_process_is_tuned_once_it_serves(tmp_path: Path) -> None:
    # The stack's own process (HTTP server, no workers here): by the time it is ready, the GC is tuned.
    _run(
        "import gc\n"
        "from logpipe_backend.runtime.gc_tuning import GC_THRESHOLD\n"
        "from logpipe_backend.runtime.stack import LocalStack, StackOptions\n"
        "from logpipe_backend.wiring.local import DataDir\n"
        f"data_dir = DataDir.resolve({str(tmp_path / 'data')!r})\n"
        "data_dir.create()\n"
        "seen = []\n"
        "def ready(url):\n"
        "    seen.append((gc.get_threshold()[0], gc.get_freeze_count()))\n"
        "    stack.request_stop()\n"
        "stack = LocalStack(StackOptions(data_dir=data_dir, port=0, workers=0), on_ready=ready)\n"
        "assert gc.get_threshold()[0] != GC_THRESHOLD\n"
        "assert stack.run() == 0\n"
        "assert len(seen) == 1 and seen[0][0] == GC_THRESHOLD and seen[0][1] > 1000, seen\n"
    )
