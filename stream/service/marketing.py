"""Marketing shortfalls: the daily pacing warnings and the month-end
breaches of every rep of the roster (``stream.domain.marketing``), as
``sla-breaches`` events keyed by rep.

The counts come from the whole group's per-rep day buckets: workable leads
of the rep's local month, by the month each became workable while owned by
the rep. A rep's target is the one in force when the check runs: a roster
change mid-month moves the expectation of the checks after it, never of the
ones already made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from schemas.outputs import SlaBreach
from stream.domain.marketing import (
    SHORTFALL,
    Check,
    RepChecks,
    Verdict,
    checks_due,
    judge,
    month_key,
    month_start,
    parse_check_at,
    shortfall_event_id,
)
from stream.domain.rep_stats import RepDay
from stream.domain.response_clock import to_datetime
from stream.policy import Policy
from stream.service.backtest import active_reps, target_for
from stream.service.calendars import CalendarBook


def workable_in_month(buckets: Iterable[RepDay], rep: str, day: date) -> int:
    """The rep's workable leads of the local month holding ``day``."""
    month = (day.year, day.month)
    return sum(b.workable_leads for b in buckets if b.rep == rep and (b.day.year, b.day.month) == month)


class MarketingShortfalls:
    def __init__(self, policy: Policy, calendars: CalendarBook) -> None:
        self.policy = policy
        self.calendars = calendars
        self.check_at = parse_check_at(policy.marketing.check_at)

    def reps(self) -> dict[str, int]:
        """Roster reps with a target, and their target (the roster's active
        reps: an id seen only on leads is nobody's marketing SLA)."""
        roster = self.calendars.roster()
        target = target_for(self.policy, roster)
        out = {}
        for rep in active_reps(self.policy, roster):
            monthly = target(rep)
            if monthly:
                out[rep] = monthly
        return out

    def due(self, now: float, done: Mapping[str, RepChecks]) -> list[tuple[str, Check]]:
        out = []
        for rep in self.reps():
            calendar = self.calendars.calendar_for(rep)
            for check in checks_due(now, calendar, self.check_at, done.get(rep, RepChecks())):
                out.append((rep, check))
        return out

    def evaluate(self, rep: str, check: Check, buckets: list[RepDay], now: float) -> tuple[Verdict, dict[str, Any] | None]:
        """The check's verdict, and the breach event when it falls short."""
        calendar = self.calendars.calendar_for(rep)
        target = self.reps().get(rep, 0)
        verdict = judge(
            check, workable_in_month(buckets, rep, check.day), target, calendar, self.policy.marketing.pacing_warning_ratio
        )
        if verdict.stage is None:
            return verdict, None
        event = SlaBreach(
            event_id=shortfall_event_id(rep, check),
            breach_type=SHORTFALL,
            stage=verdict.stage,
            lead_id=None,
            rep_id=rep,
            clock_started_at=to_datetime(month_start(check.day, calendar)),
            deadline=to_datetime(check.due),
            detected_at=to_datetime(now),
            policy={
                "month": month_key(check.day),
                "target": target,
                "workable_leads": verdict.workable_leads,
                "expected_to_date": verdict.expected_to_date,
                "pacing_ratio": verdict.pacing_ratio,
                "pacing_warning_ratio": self.policy.marketing.pacing_warning_ratio,
                "check_at": self.policy.marketing.check_at,
                "business_days_elapsed": verdict.business_days_elapsed,
                "business_days_in_month": verdict.business_days_in_month,
            },
        )
        return verdict, event.model_dump(mode="json")
