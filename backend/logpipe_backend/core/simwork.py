"""How much of a message's simulated work fits in the time an invocation has left (issue 12, point 2).

The seed's simulated CPU work costs ``LOGPIPE_SIMULATED_WORK_PER_CHAR`` seconds per character of each record's
``message``. A message packs thousands of records, so its work can outlast any invocation: the worker then
does what fits, stores the records it finished and re-queues the rest, carrying the seconds already spent
on the first unfinished record (``core.envelope.with_work_done``), so that even one record whose work is
longer than a whole invocation completes after enough of them. Pure arithmetic: no clock, no sleep.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class WorkPlan:
    finished: int  # records, from the first, whose work completes within the budget
    work_s: float  # seconds of work to do now (the finished records' and a start on the next one)
    carried_s: float  # seconds of the first unfinished record's work done after this (0 when all finish)

    @property
    def started(self) -> bool:
        return self.work_s > 0 or self.finished > 0


def costs(messages: Sequence[str], per_char_s: float) -> list[float]:
    """Each record's simulated work in seconds, from the lengths of its ``message``."""
    return [per_char_s * len(message) for message in messages]


def plan(record_costs: Sequence[float], done_s: float, budget_s: float) -> WorkPlan:
    """What to do with ``budget_s`` seconds, given each record's work and ``done_s`` already spent on the
    first record (by earlier invocations). All of it when it fits; else the records that fit, whole, and
    the rest of the budget spent on the next record, whose progress is carried."""
    budget_s = max(0.0, budget_s)
    spent = 0.0
    for index, cost in enumerate(record_costs):
        left = max(0.0, cost - done_s) if index == 0 else cost
        if spent + left > budget_s:
            already = done_s if index == 0 else 0.0
            return WorkPlan(finished=index, work_s=budget_s, carried_s=already + budget_s - spent)
        spent += left
    return WorkPlan(finished=len(record_costs), work_s=spent, carried_s=0.0)
