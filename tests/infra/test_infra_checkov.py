"""checkov over infra/terraform: zero failed checks, and every skipped check carries a written reason.

checkov runs from its own virtual environment (`make .venv-checkov/.installed-stamp`, a prerequisite of
`make test`): it pins an old boto3 and ships a `hcl2` module that clashes with python-hcl2.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from infra_tf import REPO, TF_DIR

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
MIN_REASON_CHARS = 40
# Each skip is written next to its resource (`#checkov:skip=ID:reason`); this list makes a new kind of skip
# a deliberate change to this test, not a comment slipped into the HCL.
ACCEPTED_SKIPS = {
    "CKV_AWS_115",  # function-level concurrency (ingest, admin): bounded by API throttling instead
    "CKV_AWS_116",  # Lambda DLQ: no asynchronous invocations
    "CKV_AWS_117",  # Lambda in a VPC: only AWS APIs are reached
    "CKV_AWS_119",  # DynamoDB with a customer-managed key: AWS-managed key used
    "CKV_AWS_158",  # log groups with a customer-managed key: service key used
    "CKV_AWS_173",  # env vars with a customer-managed key: no secrets in them
    "CKV_AWS_272",  # code signing: reproducible zips pinned by hash instead
    "CKV_AWS_309",  # POST /ingest without an API Gateway authorizer: tenant keys checked in the handler
    "CKV_AWS_338",  # log retention under a year: a variable, 30 days by default
}


def run_checkov(directory: Path) -> dict[str, Any]:
    if not CHECKOV.exists():
        pytest.fail("checkov is missing: run `make .venv-checkov/.installed-stamp` (make test does)")
    result = subprocess.run(
        [str(CHECKOV), "-d", str(directory), "--skip-download", "--framework", "terraform", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # checkov exits 1 when a check fails; the JSON report is on stdout either way.
    assert result.returncode in (0, 1), result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def skips_without_reason(report: dict[str, Any]) -> list[str]:
    bad = []
    for check in report["results"]["skipped_checks"]:
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        if reason == "No comment provided" or len(reason) < MIN_REASON_CHARS:
            bad.append(f"{check['check_id']} on {check['resource']}")
    return bad


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return run_checkov(TF_DIR)


def test_checkov_finds_no_failed_check(report: dict[str, Any]) -> None:
    summary = report["summary"]
    failed = [f"{c['check_id']} {c['resource']}" for c in report["results"]["failed_checks"]]
    assert summary["failed"] == 0, "\n".join(failed)
    assert summary["parsing_errors"] == 0
    assert summary["passed"] > 50  # it did read the configuration


def test_every_skipped_check_has_a_written_reason(report: dict[str, Any]) -> None:
    assert not skips_without_reason(report)
    assert {c["check_id"] for c in report["results"]["skipped_checks"]} <= ACCEPTED_SKIPS


def test_checkov_and_the_reason_check_catch_problems(tmp_path: Path) -> None:
    """The tests above can fail: an unencrypted queue fails checkov; a bare skip fails the reason check."""
    copy = tmp_path / "terraform"
    shutil.copytree(TF_DIR, copy)
    (copy / "bad.tf").write_text(
        'resource "aws_sqs_queue" "plain" {\n  name                    = "plain"\n'
        "  sqs_managed_sse_enabled = false\n}\n"
    )
    api = copy / "api.tf"
    text = api.read_text()
    start = text.index("#checkov:skip=CKV_AWS_309:")
    end = text.index("\n", start)
    api.write_text(text[:start] + "#checkov:skip=CKV_AWS_309" + text[end:])
    report = run_checkov(copy)
    assert report["summary"]["failed"] >= 1
    assert any(c["resource"] == "aws_sqs_queue.plain" for c in report["results"]["failed_checks"])
    assert skips_without_reason(report) == ["CKV_AWS_309 on aws_apigatewayv2_route.ingest"]
