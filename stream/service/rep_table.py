"""The live per-rep SLA table: day buckets kept up to date as leads change.

Each lead's contribution to its rep's day bucket (``rep_stats.lead_day``)
is recomputed whenever the lead changes; the table applies the difference
to the old and new buckets. Buckets merge across partitions and workers, so
any worker can answer for all of them. A contribution is computed as of the
processing instant: a clock that misses its deadline is counted as missed
when the lead is next evaluated (the sweeper's tick at the breach stage).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stream.domain.lead import LeadState
from stream.domain.rep_stats import RepDay, RepReport, lead_day, rep_calendar, rep_report, standing_breaches, summarize_lead
from stream.domain.obligations import RETRACTED
from stream.policy import Policy
from stream.service.backtest import active_reps, target_for
from stream.service.calendars import CalendarBook
from stream.service.leads import LeadProcessor


def bucket_key(partition: int, rep: str, day: str) -> str:
    return f"{partition}|{rep}|{day}"


class RepTable:
    def __init__(self, policy: Policy, processor: LeadProcessor, calendars: CalendarBook) -> None:
        self.policy = policy
        self.processor = processor
        self.calendars = calendars

    def contribution(self, state: LeadState, now: float) -> RepDay | None:
        sent = [s["value"] for s in state.emitted.values() if not s.get(RETRACTED)]
        breaches = standing_breaches(sent).get(state.lead_id, [])
        lead = summarize_lead(state, self.processor, self.policy.response.deadline_seconds, breaches)
        if lead is None:
            return None
        return lead_day(lead, now, rep_calendar(self.calendars.calendar_for, lead.rep).zone)

    @staticmethod
    def changes(
        old: dict[str, Any] | None, new: RepDay | None
    ) -> list[tuple[str, str, RepDay, int]]:
        """(rep, day, part, +1 | -1) to apply to the buckets; nothing when equal."""
        before = RepDay.from_dict(old) if old else None
        if before == new:
            return []
        out = []
        if before is not None:
            out.append((before.rep, before.day.isoformat(), before, -1))
        if new is not None:
            out.append((new.rep, new.day.isoformat(), new, +1))
        return out

    @staticmethod
    def apply(stored: dict[str, Any] | None, part: RepDay, sign: int) -> RepDay | None:
        """The bucket after adding (or removing) one contribution; None when empty."""
        if stored is None:
            bucket = part if sign > 0 else None
        else:
            current = RepDay.from_dict(stored)
            bucket = current.plus(part) if sign > 0 else current.minus(part)
        if bucket is None or bucket.empty:
            return None
        return bucket

    @staticmethod
    def merge(buckets: Iterable[RepDay]) -> list[RepDay]:
        """Buckets of several partitions or workers, summed per (rep, day)."""
        merged: dict[tuple[str, str], RepDay] = {}
        for b in buckets:
            key = (b.rep, b.day.isoformat())
            merged[key] = merged[key].plus(b) if key in merged else b
        return [merged[k] for k in sorted(merged)]

    def report(self, buckets: Iterable[RepDay], now: float) -> RepReport:
        roster = self.calendars.roster()
        return rep_report(
            self.merge(buckets),
            now,
            self.calendars.calendar_for,
            target_for(self.policy, roster),
            reps=active_reps(self.policy, roster),
        )
