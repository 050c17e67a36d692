"""The live per-rep SLA table: day buckets kept up to date as leads change.

Each lead's contribution to its rep's day bucket (``rep_stats.lead_day``)
is recomputed whenever the lead changes and stored with the lead; the
buckets are the sums of those contributions, so they live in memory and are
rebuilt from the lead table after a rebalance, like the deadline index (no
changelog of their own). Buckets merge across partitions and workers, so any
worker can answer for all of them. A contribution is computed as of the
processing instant: a clock that misses its deadline is counted as missed
when the lead is next evaluated (the sweeper's tick at the breach stage).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import fields
from datetime import date, timedelta
from typing import Any

from stream.domain.lead import LeadState
from stream.domain.rep_stats import (
    UNASSIGNED,
    LeadRules,
    RepDay,
    RepReport,
    instant,
    lead_day,
    local_day,
    rep_calendar,
    rep_report,
    standing_breaches,
    summarize_lead,
    window_first_day,
)
from stream.domain.obligations import RETRACTED
from stream.policy import Policy
from stream.service.backtest import active_reps, target_for
from stream.service.calendars import CalendarBook
from stream.service.leads import LeadProcessor


# What the per-rep metrics count, in this order, per (rep, day) and per window.
COUNTS = ("workable_leads", "attempts", "connected_leads", "pipeline_leads", "clocks_within_sla", "clocks_missed")
# Windows exported as metrics (`all` grows without end: the JSON table has it).
LIVE_WINDOWS = ("7d", "30d", "mtd")


def _counts(part: RepDay) -> tuple[int, ...]:
    return (
        part.workable_leads,
        part.attempts,
        part.connected_leads,
        part.pipeline_leads,
        part.clocks_within_sla,
        part.clocks_missed,
    )


# RepDay's fields by kind: counts add up; the sorted tuples of seconds are
# kept as multisets here (adding a lead must not re-sort a whole day).
_INTS = tuple(f.name for f in fields(RepDay) if isinstance(f.default, int) and not isinstance(f.default, bool))
_SECONDS = tuple(f.name for f in fields(RepDay) if f.name.endswith("_seconds"))


class _Bucket:
    """One (partition, rep, day) bucket, updated in place."""

    __slots__ = ("ints", "seconds", "breaches")

    def __init__(self) -> None:
        self.ints = dict.fromkeys(_INTS, 0)
        self.seconds: dict[str, Counter[float]] = {name: Counter() for name in _SECONDS}
        self.breaches: Counter[tuple[str, str]] = Counter()

    def add(self, part: RepDay, sign: int) -> None:
        ints = self.ints
        for name in _INTS:
            ints[name] += sign * getattr(part, name)
        for name in _SECONDS:
            values = getattr(part, name)
            if values:
                counter = self.seconds[name]
                for value in values:
                    counter[value] += sign
                    if not counter[value]:
                        del counter[value]
        for breach_type, stage, n in part.breaches:
            key = (breach_type, stage)
            self.breaches[key] += sign * n
            if not self.breaches[key]:
                del self.breaches[key]

    @property
    def empty(self) -> bool:
        return not self.ints["workable_leads"] and not self.ints["clocks"] and not self.breaches

    def day(self, rep: str, day: date) -> RepDay:
        return RepDay(
            rep=rep,
            day=day,
            **self.ints,
            **{name: tuple(sorted(c.elements())) for name, c in self.seconds.items()},
            breaches=tuple(sorted((t, s, n) for (t, s), n in self.breaches.items())),
        )


class RepTable:
    def __init__(self, policy: Policy, processor: LeadProcessor, calendars: CalendarBook) -> None:
        self.policy = policy
        self.processor = processor
        self.calendars = calendars
        # (partition, rep, day) -> bucket of this worker's active partitions
        self._buckets: dict[tuple[int, str, date], _Bucket] = {}
        # rep -> local day -> COUNTS summed over partitions: what the metrics read
        self._counts: dict[str, dict[date, list[int]]] = {}
        # (partition, rep, local day of detection) -> (breach_type, stage) -> standing breach events
        self._detected: dict[tuple[int, str, date], Counter[tuple[str, str]]] = {}
        # reps whose _counts changed since take_changed(); None: all may have
        self._changed: set[str] | None = None

    def contribution(self, state: LeadState, now: float, rules: LeadRules | None = None) -> RepDay | None:
        """The lead's part of its rep's day bucket as of ``now``; ``rules``:
        the clocks already derived for this state (``Outcome.derived``)."""
        sent = [s["value"] for s in state.emitted.values() if not s.get(RETRACTED)]
        breaches = standing_breaches(sent).get(state.lead_id, []) if sent else []
        lead = summarize_lead(state, rules or self.processor, self.policy.response.deadline_seconds, breaches)
        if lead is None:
            return None
        return lead_day(lead, now, rep_calendar(self.calendars.calendar_for, lead.rep).zone)

    def detections(self, state: LeadState) -> list[list[str]]:
        """The lead's standing breach events as ``[rep, local day of detection,
        breach_type, stage]``: the owner at detection (or ``unassigned``), on
        that rep's calendar. JSON types, stored with the lead."""
        out = []
        for sent in state.emitted.values():
            if sent.get(RETRACTED):
                continue
            value = sent["value"]
            rep = value.get("rep_id") or UNASSIGNED
            zone = rep_calendar(self.calendars.calendar_for, rep).zone
            day = local_day(instant(value["detected_at"]), zone)
            out.append([rep, day.isoformat(), value["breach_type"], value["stage"]])
        return sorted(out)

    def replace_detections(self, partition: int, old: list | None, new: list | None) -> None:
        """Swap one lead's old standing breach events (as stored) for its new ones."""
        if old == new:
            return
        for items, sign in ((old or (), -1), (new or (), +1)):
            for rep, day, breach_type, stage in items:
                key = (partition, rep, date.fromisoformat(day))
                counts = self._detected.setdefault(key, Counter())
                counts[(breach_type, stage)] += sign
                if not +counts:
                    del self._detected[key]

    def detected_since(self, first: date) -> list[list]:
        """``[rep, day, breach_type, stage, count]`` of this worker's partitions
        for local days from ``first`` on (a day or two: what a wallboard shows)."""
        merged: Counter[tuple[str, str, str, str]] = Counter()
        for (_, rep, day), counts in self._detected.items():
            if day >= first:
                for (breach_type, stage), n in counts.items():
                    merged[(rep, day.isoformat(), breach_type, stage)] += n
        return [[*key, n] for key, n in sorted(merged.items()) if n]

    def replace(self, partition: int, old: dict[str, Any] | None, new: RepDay | None) -> None:
        """Swap one lead's old contribution (as stored) for its new one."""
        before = RepDay.from_dict(old) if old else None
        if before == new:
            return
        if before is not None:
            self._add(partition, before, -1)
        if new is not None:
            self._add(partition, new, +1)

    def add(self, partition: int, part: RepDay, times: int = 1) -> None:
        """Add ``times`` leads whose contribution is ``part`` (a rebuild)."""
        self._add(partition, part, times)

    def _add(self, partition: int, part: RepDay, sign: int) -> None:
        if self._changed is not None:
            self._changed.add(part.rep)
        days = self._counts.setdefault(part.rep, {})
        counts = days.setdefault(part.day, [0] * len(COUNTS))
        for i, n in enumerate(_counts(part)):
            counts[i] += sign * n
        if not any(counts):
            del days[part.day]
            if not days:
                del self._counts[part.rep]
        key = (partition, part.rep, part.day)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket()
        bucket.add(part, sign)
        if bucket.empty:
            del self._buckets[key]

    def clear(self) -> None:
        self._buckets.clear()
        self._counts.clear()
        self._detected.clear()
        self._changed = None

    def take_changed(self) -> set[str] | None:
        """The reps whose counts changed since the last call, or None when
        any may have (at first, and after a clear). For one reader: the
        metrics, which keep each rep's windows until its counts change."""
        changed, self._changed = self._changed, set()
        return changed

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget the buckets of ``partitions`` (revoked: another worker owns them now)."""
        gone = set(partitions)
        for key in [k for k in self._buckets if k[0] in gone]:
            self._add(key[0], self._buckets[key].day(key[1], key[2]), -1)
        for key in [k for k in self._detected if k[0] in gone]:
            del self._detected[key]

    def reps(self) -> list[str]:
        """Reps with a bucket on this worker."""
        return list(self._counts)

    def has(self, rep: str) -> bool:
        return rep in self._counts

    def window_counts(self, rep: str, today: date, windows: Iterable[str] = LIVE_WINDOWS) -> dict[str, list[int]]:
        """``rep``'s COUNTS per window ending on local date ``today``, summed
        over this worker's partitions. Costs the fewer of the rep's days and
        the days of the longest window, whatever the history."""
        days = self._counts.get(rep, {})
        firsts = [(window, window_first_day(window, today)) for window in windows]
        out = {window: [0] * len(COUNTS) for window in windows}
        earliest = min((first for _, first in firsts), default=today)
        span = (today - earliest).days + 1
        if len(days) <= span:
            found = [(day, counts) for day, counts in days.items() if earliest <= day <= today]
        else:
            found = [(day, days[day]) for day in (today - timedelta(days=i) for i in range(span)) if day in days]
        for day, counts in found:
            for window, first in firsts:
                if day >= first:
                    total = out[window]
                    for i, n in enumerate(counts):
                        total[i] += n
        return out

    def local_buckets(self) -> list[RepDay]:
        """This worker's buckets, summed over its partitions."""
        return self.merge(bucket.day(rep, day) for (_, rep, day), bucket in self._buckets.items())

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
