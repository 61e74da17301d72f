"""bench/throughput.py's options for the OTLP comparison (issue 14): the client's gzip, the CPU a record of
each process, and the in-process breakdown of each door's server-side steps. No timing assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
def test_throughput_otlp_gzip_phases_and_cpu_a_record() -> None:
    args = ["--records", "2000", "--otlp-batch", "500", "--otlp-gzip", "sdk", "--phases", "--json"]
    out = subprocess.run(
        [sys.executable, str(BENCH / "throughput.py"), *args], capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)
    otlp = r["otlp"]
    assert otlp["gzip"] == "sdk" and otlp["batch"] == 500
    assert otlp["accepted"] == otlp["stored"] == 2000 and otlp["dlq_depth"] == 0
    for run in (r["pipeline"], otlp):
        assert run["cpu_us_per_record"].keys() == run["cpu_seconds"].keys()
        assert all(us >= 0 for us in run["cpu_us_per_record"].values())
    phases = r["server_phases_us_per_record"]
    assert set(phases) == {"ingest", "otlp"}
    assert "translate (core/otlp.records)" in phases["otlp"]
    assert all(us >= 0 for steps in phases.values() for us in steps.values())
