"""The simulated work's split across invocations (core/simwork.py) and the envelope's work-done mark."""

from __future__ import annotations

import json

import pytest
from logpipe_backend.core.envelope import compress, pack, take_work_done, unpack, with_work_done
from logpipe_backend.core.simwork import WorkPlan, costs, plan


def test_everything_that_fits_is_done() -> None:
    assert plan([1.0, 2.0], 0.0, 10.0) == WorkPlan(finished=2, work_s=3.0, carried_s=0.0)
    assert plan([], 0.0, 0.0) == WorkPlan(finished=0, work_s=0.0, carried_s=0.0)


def test_the_budget_is_spent_and_the_next_record_s_progress_carried() -> None:
    assert plan([1.0, 2.0, 3.0], 0.0, 2.5) == WorkPlan(finished=1, work_s=2.5, carried_s=1.5)
    # Work done earlier on the first record counts: only its rest is done now.
    assert plan([5.0, 1.0], 4.0, 1.5) == WorkPlan(finished=1, work_s=1.5, carried_s=0.5)
    # A record longer than the budget: the progress adds up across invocations.
    assert plan([10.0], 3.0, 4.0) == WorkPlan(finished=0, work_s=4.0, carried_s=7.0)
    assert not plan([1.0], 0.0, 0.0).started and plan([10.0], 3.0, 4.0).started
    assert plan([1.0], 5.0, 0.0) == WorkPlan(finished=1, work_s=0.0, carried_s=0.0)  # already done


def test_costs_are_per_character() -> None:
    assert costs(["ab", "", "abcd"], 0.5) == [1.0, 0.0, 2.0]


def _body() -> str:
    record = {
        "tenant_id": "acme",
        "log_id": "01KAZ479SV65DH4C98VGTRN800",
        "timestamp": "2026-11-26T03:44:56.123Z",
        "received_at": "2026-11-26T03:44:56.123Z",
        "level": "info",
        "message": "hello",
        "attributes": {},
        "source": "json",
        "redactions": 0,
    }
    [body] = pack("acme", [json.dumps(record).encode()])
    return body


def test_the_work_done_mark_round_trips_through_both_envelope_forms() -> None:
    body = _body()
    marked = with_work_done(body, 12.5)
    assert take_work_done(marked) == (body, 12.5)
    assert take_work_done(compress(marked)) == (body, 12.5)
    assert take_work_done(body) == (body, 0.0)
    # A reader that does not know the mark still reads the records.
    assert unpack(marked) == unpack(body)


@pytest.mark.parametrize(
    "mark", ['"1"', "-1", "1e999", "NaN", "true", "", "1}"], ids=lambda m: m or "missing"
)
def test_a_malformed_mark_is_refused(mark: str) -> None:
    marked = '{"v":1,"work_done_s":' + mark + "," + _body()[len('{"v":1,') :]
    with pytest.raises(ValueError):
        take_work_done(marked)


def test_only_finite_work_on_a_packed_body_can_be_marked() -> None:
    with pytest.raises(ValueError):
        with_work_done(_body(), float("nan"))
    with pytest.raises(ValueError):
        with_work_done(_body(), -1.0)
    with pytest.raises(ValueError):
        with_work_done('{"records":[]}', 1.0)
