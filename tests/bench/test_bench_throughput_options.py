"""bench/throughput.py's options for the OTLP comparison (issue 14): the client's gzip, the CPU a record of
each process, and the in-process breakdown of each door's server-side steps. No timing assertions."""

from __future__ import annotations

import importlib.util
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.slow
def test_throughput_otlp_gzip_phases_and_cpu_a_record() -> None:
    args = ["--records", "2000", "--otlp-batch", "500", "--otlp-gzip", "stdlib", "--phases", "--json"]
    out = subprocess.run(
        [sys.executable, str(BENCH / "throughput.py"), *args], capture_output=True, text=True, timeout=180
    )
    assert out.returncode == 0, out.stderr[-3000:]
    r = json.loads(out.stdout)
    otlp = r["otlp"]
    assert otlp["gzip"] == "stdlib" and otlp["batch"] == 500
    assert otlp["accepted"] == otlp["stored"] == 2000 and otlp["dlq_depth"] == 0
    for run in (r["pipeline"], otlp):
        assert run["cpu_us_per_record"].keys() == run["cpu_seconds"].keys()
        assert all(us >= 0 for us in run["cpu_us_per_record"].values())
    phases = r["server_phases_us_per_record"]
    assert set(phases) == {"ingest", "otlp"}
    build_step = "translate + serialize by the chunk (otlp.stored_chunks → ingest.prepare_normalized)"
    assert build_step in phases["otlp"]
    assert all(us >= 0 for steps in phases.values() for us in steps.values())


def test_the_otlp_client_gzips_as_the_sdk_by_default() -> None:
    """Both runs' clients compress alike unless asked otherwise, so that the ratio compares the doors."""
    spec = importlib.util.spec_from_file_location("bench_throughput", BENCH / "throughput.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # puts bench/ on sys.path itself, for _otlp and _common
    assert inspect.signature(module.run).parameters["otlp_gzip"].default == "sdk"
    assert inspect.signature(module.otlp_pipeline).parameters["gzip_name"].default == "sdk"
    assert set(module.OTLP_GZIPS) == {"sdk", "stdlib"}
