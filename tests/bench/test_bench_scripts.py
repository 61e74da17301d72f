"""The benchmarks of bench/ run on a small N, so they cannot rot: each must finish, store every
record it sent, and print figures that make sense. No timing assertions: machines are noisy."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _run(script: str, *args: str, timeout: float = 120) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:] + out.stdout[-3000:]
    data: dict[str, Any] = json.loads(out.stdout)
    return data


@pytest.mark.slow
def test_throughput_stores_every_record_and_reports_a_ratio() -> None:
    r = _run("throughput.py", "--records", "3000")
    pipe = r["pipeline"]
    assert pipe["accepted"] == pipe["stored"] == r["records"] == 3000
    assert pipe["dlq_depth"] == 0
    assert pipe["requests"] >= 1 and pipe["retries"] == 0  # nothing waited on a 429 (rate limit off)
    assert pipe["records_per_s"] > 0 and pipe["mb_per_s"] > 0
    assert r["floor_before"]["records_per_s"] > 0 and r["floor_after"]["records_per_s"] > 0
    assert 0 < r["ratio"] < 100
    assert 200 <= r["mean_record_bytes"] <= 300  # the records are the ~250-byte ones the issue asks for
    otlp = r["otlp"]  # the same records through POST /v1/logs (issue 14)
    assert otlp["accepted"] == otlp["stored"] == 3000 and otlp["dlq_depth"] == 0
    assert otlp["requests"] >= 1 and otlp["records_per_s"] > 0
    assert r["otlp_vs_ingest"] == otlp["records_per_s"] / pipe["records_per_s"]


@pytest.mark.slow
def test_alternate_runs_both_checkouts_in_turn_and_compares_their_medians() -> None:
    repo = str(BENCH.parent)  # the same checkout on both sides: each runs its own bench with .venv
    r = _run(
        "alternate.py", "--before", repo, "--after", repo, "--runs", "2", "--records", "2000", "--otlp",
        timeout=300,
    )  # fmt: skip
    for side in ("before", "after"):
        assert len(r["records_per_s"][side]) == len(r["ratio_to_floor"][side]) == 2
        assert len(r["otlp_records_per_s"][side]) == len(r["otlp_vs_ingest"][side]) == 2
        assert all(rate > 0 for rate in r["otlp_records_per_s"][side] + r["otlp_vs_ingest"][side])
        assert all(rate > 0 for rate in r["records_per_s"][side])
        assert (
            r["median_records_per_s"][side]
            == sorted(r["records_per_s"][side])[0] / 2 + sorted(r["records_per_s"][side])[1] / 2
        )
    assert r["after_vs_before"] == r["median_records_per_s"]["after"] / r["median_records_per_s"]["before"]


@pytest.mark.slow
def test_latency_reports_percentiles_for_each_measure() -> None:
    r = _run("latency.py", "--samples", "20", "--queryable-samples", "10", "--load-rps", "2")
    for name, samples in (("ingest_1", 20), ("ingest_1000", 20), ("to_queryable", 10)):
        s = r[name]
        assert s["samples"] == samples
        assert 0 < s["p50_ms"] <= s["p99_ms"] <= s["max_ms"]
    assert r["load"]["requests_sent"] > 0 and r["load"]["requests_refused"] == 0
    assert r["dlq_depth"] == 0


@pytest.mark.slow
def test_cost_counts_requests_and_beats_the_original_design() -> None:
    r = _run("cost.py", "--records", "2000", "--original-records", "400", timeout=180)
    ours, original = r["this_design"], r["original_design"]
    assert ours["stored"] == 2000 and original["stored"] == 400
    a, b = ours["per_million_logs"], original["per_million_logs"]
    # The original design: one SendMessage and one PutItem per log, by construction.
    assert original["calls"]["sqs:SendMessage"] == 400 and original["calls"]["dynamodb:PutItem"] >= 400
    assert ours["calls"]["sqs:SendMessageBatch"] >= 1 and "sqs:SendMessage" not in ours["calls"]
    assert a["sqs_billed_requests"] <= b["sqs_billed_requests"] / 50  # the target is 1/100 at scale
    assert a["dynamodb_write_calls"] <= b["dynamodb_write_calls"] / 20
    assert a["lambda_worker_invocations"] < b["lambda_worker_invocations"]
    assert a["dynamodb_wru"] > 0 and a["dollars_total"] > 0
    assert r["prices_as_of"] and r["prices"]["sqs_per_million_requests"] > 0
    # Issue 12: records in chunks. At most 0.1 write units per record, and 1/20 of the original's dollars,
    # with API Gateway's requests counted in both.
    assert 0 < a["dynamodb_wru"] / 1e6 <= 0.1
    assert a["dollars"]["api_gateway"] > 0 and b["dollars"]["api_gateway"] > 0
    assert 0 < r["ratios"]["dollars_total"] <= 1 / 20
    assert r["ratios"]["dollars_total"] == a["dollars_total"] / b["dollars_total"]
    # The store before chunks (one item per record) pays at least a write unit per record.
    per_record = r["item_per_record_design"]
    assert per_record["stored"] == 2000 and per_record["per_million_logs"]["dynamodb_wru"] >= 1e6
    assert a["dollars_total"] < per_record["per_million_logs"]["dollars_total"] / 10
    # CloudWatch Logs' ingestion price for the same bytes: ~250-byte records at $0.50/GB.
    cw = r["cloudwatch_logs"]
    assert 200e6 <= cw["bytes_per_million_logs"] <= 300e6
    expected = cw["bytes_per_million_logs"] / 1024**3 * r["prices"]["cloudwatch_logs_ingest_per_gb"]
    assert cw["dollars_per_million_logs"] == pytest.approx(expected, abs=1e-4)


def test_simwork_stores_everything_at_the_dev_rate_where_the_seed_filled_the_dlq() -> None:
    r = _run("simwork.py", "--records", "200", "--requests", "2")
    fixed, seed = r["runs"]
    assert fixed["requeue"] and not seed["requeue"]
    assert fixed["stored_unique"] == 200 and fixed["stored_duplicates"] == 0
    assert fixed["dlq_messages"] == 0 and fixed["still_queued"] == 0 and fixed["reported_failed"] == 0
    assert fixed["invocations"] > 2 and fixed["requeue_calls"] > 0 and fixed["work_hours"] > 0
    # The seed's worker: every message failed 5 times and went to the DLQ, nothing stored.
    assert seed["stored_unique"] == 0 and seed["dlq_messages"] == 2 and seed["reported_failed"] == 10


@pytest.mark.slow
def test_query_bench_finds_the_needle_and_reports_its_figures() -> None:
    r = _run("query.py", "--records", "5000", "--repeat", "1", timeout=300)
    assert r["records"] == 5000 and r["logs_db_bytes"] > 5000 * 200
    page = r["filter_first_page"]
    assert (
        page["api_ms"] > 0
        and page["direct_sql_ms"] > 0
        and page["ratio"] == round(page["api_ms"] / page["direct_sql_ms"], 2)
    )
    assert r["needle"]["pages"] >= 1 and r["needle"]["cli_ms"] > r["needle"]["cli_start_ms"] > 0
    assert r["stats_ms"] > 0
    aws = r["aws_needle"]
    assert aws["records"] == 5000 and aws["found"] == 1 and aws["items"] >= 5  # a chunk per message of 1,000
    assert aws["query_calls"] >= 1 and aws["bytes_read"] > 0
    assert aws["rru"] >= aws["bytes_read"] / 4096 and aws["dollars"] == round(aws["rru"] * 0.125 / 1e6, 6)


@pytest.mark.slow
def test_retention_store_levels_off_and_reports_rates_with_and_without_sweeps() -> None:
    r = _run(
        "retention.py",
        *("--retention", "10", "--rate", "3000", "--cycles", "3", "--windows", "2", "--window", "1.5"),
        timeout=240,
    )
    size, rate = r["size"], r["rate"]
    assert size["refused"] == 0 and size["accepted"] > 0
    sizes = size["store_bytes"]
    assert len(sizes) == 4 and all(s > 0 for s in sizes) and sizes[0] == size["first_cycle_bytes"]
    # Records go as they come: the store keeps about one retention's worth (+ a sweep interval), never all.
    assert max(size["stored_records"]) < 0.7 * size["accepted"]
    assert size["max_ratio"] == max(sizes[1:]) / sizes[0]
    assert size["max_ratio"] <= 1.5 and size["passed"]  # the size levels off (issue 16)
    assert rate["records_deleted_by_sweeps"] > 0 and rate["refused"] == 0  # the sweeps really deleted
    assert rate["rate_without_sweeps"] > 0 and rate["rate_with_sweeps"] > 0
    assert rate["rate_ratio"] == rate["rate_with_sweeps"] / rate["rate_without_sweeps"]
    assert rate["passed"] == (rate["rate_ratio"] >= 0.9)
