#!/usr/bin/env python3
"""``bench/throughput.py`` on two checkouts, alternating, to tell whether a change cost speed.

    git worktree add ../before <commit> && make -C ../before venv
    .venv/bin/python bench/alternate.py --before ../before --after . --runs 5 --records 200000

Each checkout runs its own ``bench/throughput.py`` with its own ``.venv`` (so each measures its own code),
before, after, before, after …: a slow spell of the shared machine then hits both sides alike, which one
run each could not promise. Printed per side: the median over the runs of the pipeline's records/s and of
its ratio to the floor measured in the same run, and after ÷ before for both. Issue 13 asks that the
median records/s stays at least 0.95 × before. ``--otlp`` also runs each side's OTLP run and compares the
medians of its records/s and of ``otlp_vs_ingest`` (issue 14 asks for at least 0.8).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any


def one_run(checkout: Path, records: int, otlp: bool = False) -> dict[str, Any]:
    python = checkout / ".venv" / "bin" / "python"
    done = subprocess.run(
        [
            str(python),
            str(checkout / "bench" / "throughput.py"),
            "--records",
            str(records),
            "--json",
            *([] if otlp else ["--no-otlp"]),
        ],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{checkout}: throughput.py exited {done.returncode}\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", type=Path, required=True, help="checkout of the code before the change")
    p.add_argument("--after", type=Path, default=Path("."), help="checkout of the changed code (default: .)")
    p.add_argument("--runs", type=int, default=5, help="runs of each side")
    p.add_argument("--records", type=int, default=200_000)
    p.add_argument("--otlp", action="store_true", help="also compare the OTLP runs (issue 14)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON (and no progress)")
    args = p.parse_args(argv)
    sides = {"before": args.before.resolve(), "after": args.after.resolve()}
    rates: dict[str, list[float]] = {"before": [], "after": []}
    ratios: dict[str, list[float]] = {"before": [], "after": []}
    otlp_rates: dict[str, list[float]] = {"before": [], "after": []}
    otlp_ratios: dict[str, list[float]] = {"before": [], "after": []}
    for i in range(args.runs):
        for side, checkout in sides.items():
            r = one_run(checkout, args.records, args.otlp)
            rates[side].append(r["pipeline"]["records_per_s"])
            ratios[side].append(r["ratio"])
            otlp_line = ""
            if args.otlp:
                otlp_rates[side].append(r["otlp"]["records_per_s"])
                otlp_ratios[side].append(r["otlp_vs_ingest"])
                otlp_line = (
                    f"; OTLP {r['otlp']['records_per_s']:>9,.0f} records/s,"
                    f" ÷ /ingest {r['otlp_vs_ingest']:.3f}"
                )
            if args.json:
                continue
            print(
                f"run {i + 1} {side:6}: {r['pipeline']['records_per_s']:>9,.0f} records/s,"
                f" ratio to floor {r['ratio']:.3f}{otlp_line}, load {r['machine']['load_avg_1m_at_start']}"
                f" → {r['load_avg_1m_at_end']}",
                flush=True,
            )
    median = {side: statistics.median(v) for side, v in rates.items()}
    median_ratio = {side: statistics.median(v) for side, v in ratios.items()}
    if args.json:
        figures: dict[str, Any] = {
            "records_per_s": rates,
            "ratio_to_floor": ratios,
            "median_records_per_s": median,
        }
        figures["after_vs_before"] = median["after"] / median["before"]
        if args.otlp:
            figures["otlp_records_per_s"] = otlp_rates
            figures["otlp_vs_ingest"] = otlp_ratios
        print(json.dumps(figures, indent=2))
        return 0
    for side in sides:
        print(f"median {side:6}: {median[side]:>9,.0f} records/s, ratio to floor {median_ratio[side]:.3f}")
    print(
        f"after / before: records/s {median['after'] / median['before']:.3f},"
        f" ratio to floor {median_ratio['after'] / median_ratio['before']:.3f} (issue 13 asks >= 0.95)"
    )
    if args.otlp:
        for side in sides:
            print(
                f"median {side:6} OTLP: {statistics.median(otlp_rates[side]):>9,.0f} records/s,"
                f" ÷ /ingest {statistics.median(otlp_ratios[side]):.3f} (issue 14 asks >= 0.8)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
