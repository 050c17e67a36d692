"""Live segment statistics (closing the loop, docs/scoring.md), derived from
the lead states like the per-rep buckets: no message per event.

Each lead contributes its evidence to its segment's cohort of its UTC
creation day (:func:`contribution`, stored with the lead). A worker sums the
contributions of each partition it owns per segment (:class:`PartitionTally`,
rebuilt from the lead table after a rebalance) and publishes each changed
(segment, partition) tally at most once a second to a compacted topic.
Every worker merges the partitions of a segment with the segments file's
seed into the ``SegmentStats`` the scorer reads (:class:`SegmentBoard`).

A tally is a function of the lead states, so a replayed or duplicated input
changes nothing twice; a verdict moves only by ``decide``'s hysteresis,
starting from the segments file's verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from stream.domain.lead import LeadState
from stream.domain.segments import (
    LeadOutcome,
    Prior,
    SegmentCounts,
    SegmentStats,
    SegmentTable,
    _mature_through,
    acquisition_cost,
    segment_key,
)
from stream.policy import ScoringPolicy

# [segment, UTC creation day, SegmentCounts dict, latest fact time]: JSON types
Contribution = list


def lead_outcome(state: LeadState | None) -> LeadOutcome:
    if state is None:
        return LeadOutcome()
    return LeadOutcome(
        attempts=len(state.calls),
        connected=any(c[2] == "connected" for c in state.calls),
        opportunity=bool(state.opportunities),
        value=float(sum(o[1] for o in state.opportunities)),
    )


def _latest_fact(state: LeadState) -> float:
    times = [state.created_at or 0.0]
    for facts in (state.owners, state.downloads, state.calls, state.opportunities):
        if facts:
            times.append(facts[-1][0])
    return max(times)


def contribution(state: LeadState, policy: ScoringPolicy, since: datetime | None) -> Contribution | None:
    """What the lead tells about its segment: one lead with its acquisition
    cost and its outcome so far. None before its creation is known, and for
    leads created at or before ``since`` (already in the segments file)."""
    if state.created_at is None:
        return None
    created = datetime.fromtimestamp(state.created_at, tz=timezone.utc)
    if since is not None and created <= since:
        return None
    counts = lead_outcome(state).counts() + SegmentCounts(
        leads=1, acquisition_cost=acquisition_cost(state.attributes.get("source"), policy)
    )
    # The scorer's segment when it has one: the same key, computed once.
    segment = (state.score or {}).get("segment") or segment_key(state.attributes, policy.segment_by)
    return [segment, created.date().isoformat(), counts.to_dict(), _latest_fact(state)]


def _negate(c: SegmentCounts) -> SegmentCounts:
    return SegmentCounts(
        -c.leads, -c.contacted, -c.connected, -c.opportunities, -c.attempts, -c.value, -c.value_sq, -c.acquisition_cost
    )


class _Tally:
    """One segment on one partition: cohorts by creation day, old ones folded
    into ``mature`` as the partition's event time passes ``min_age_days``."""

    __slots__ = ("mature", "cohorts", "matured_through", "watermark")

    def __init__(self) -> None:
        self.mature = SegmentCounts()
        self.cohorts: dict[date, SegmentCounts] = {}
        self.matured_through: date | None = None
        self.watermark: float | None = None

    def add(self, day: date, delta: SegmentCounts) -> None:
        if self.matured_through is not None and day <= self.matured_through:
            self.mature = self.mature + delta
        else:
            self.cohorts[day] = self.cohorts.get(day, SegmentCounts()) + delta

    def see(self, at: float, min_age_days: float) -> None:
        if self.watermark is not None and at <= self.watermark:
            return
        self.watermark = at
        through = _mature_through(datetime.fromtimestamp(at, tz=timezone.utc), min_age_days)
        if self.matured_through is not None and through <= self.matured_through:
            return
        for day in [d for d in self.cohorts if d <= through]:
            self.mature = self.mature + self.cohorts.pop(day)
        self.matured_through = through

    def stats(self, segment: str) -> SegmentStats:
        return SegmentStats(
            segment,
            mature=self.mature,
            cohorts={d.isoformat(): c for d, c in sorted(self.cohorts.items())},
            matured_through=self.matured_through,
            watermark=datetime.fromtimestamp(self.watermark, tz=timezone.utc) if self.watermark else None,
        )


class PartitionTally:
    """The segment evidence of the leads of this worker's partitions, kept
    up to date as leads change; ``dirty`` names what to publish next."""

    def __init__(self, policy: ScoringPolicy) -> None:
        self.min_age_days = policy.min_age_days
        self._tallies: dict[tuple[int, str], _Tally] = {}
        self.dirty: set[tuple[int, str]] = set()

    def replace(self, partition: int, old: Contribution | None, new: Contribution | None) -> None:
        """Swap one lead's old contribution (as stored) for its new one."""
        if old == new:
            return
        if old is not None and new is not None and old[:2] == new[:2]:
            # The usual change: one more fact about a lead already counted.
            before, after = old[2], new[2]
            delta = {name: after.get(name, 0) - before.get(name, 0) for name in after}
            self._apply(partition, new[0], new[1], SegmentCounts.from_dict(delta), new[3])
            return
        if old is not None:
            self._apply(partition, old[0], old[1], _negate(SegmentCounts.from_dict(old[2])), None)
        if new is not None:
            self._apply(partition, new[0], new[1], SegmentCounts.from_dict(new[2]), new[3])

    def add(self, partition: int, contribution: Contribution, times: int = 1) -> None:
        """Add ``times`` leads whose contribution is ``contribution`` (a
        rebuild; its latest fact: the latest of theirs)."""
        counts = SegmentCounts.from_dict(contribution[2])
        if times != 1:
            counts = SegmentCounts(*(times * getattr(counts, name) for name in SegmentCounts.__slots__))
        self._apply(partition, contribution[0], contribution[1], counts, contribution[3])

    def _apply(self, partition: int, segment: str, day: str, delta: SegmentCounts, latest: float | None) -> None:
        key = (partition, segment)
        tally = self._tallies.get(key)
        if tally is None:
            tally = self._tallies[key] = _Tally()
        tally.add(date.fromisoformat(day), delta)
        if latest is not None:
            tally.see(latest, self.min_age_days)
        self.dirty.add(key)

    def snapshot(self, partition: int, segment: str) -> dict[str, Any] | None:
        """What to publish for (segment, partition); None once it holds nothing."""
        tally = self._tallies.get((partition, segment))
        if tally is None:
            return None
        return {"segment": segment, "partition": partition, "stats": tally.stats(segment).to_dict()}

    def keys(self) -> list[tuple[int, str]]:
        return list(self._tallies)

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        for key in [k for k in self._tallies if k[0] in gone]:
            del self._tallies[key]
        self.dirty = {k for k in self.dirty if k[0] not in gone}

    def clear(self) -> None:
        self._tallies.clear()
        self.dirty.clear()


class SegmentBoard:
    """Every partition's published tally, merged per segment with the
    segments file's seed into live ``SegmentStats`` (``live``: what the scorer
    reads). The verdict of a segment keeps its hysteresis here, from the
    segments file's verdict on."""

    def __init__(self, policy: ScoringPolicy, table: SegmentTable | None, live: dict[str, SegmentStats]) -> None:
        self.policy = policy
        self.table = table
        self.prior = table.prior if table is not None else Prior()
        self.live = live
        self._partials: dict[str, dict[int, SegmentStats]] = {}
        self._verdicts: dict[str, bool | None] = {}

    def row(self, stats: SegmentStats) -> dict[str, Any]:
        """A live segment for people: its evidence and verdict."""
        view = stats.view(self.prior, self.policy)
        return {
            "segment": stats.segment,
            "mature_leads": view.mature_leads,
            "young_leads": stats.young_leads,
            "value_per_lead": view.value_per_lead,
            "profit_per_lead": view.profit_per_lead,
            "profitable": view.profitable,
        }

    def seed(self, segment: str) -> SegmentStats:
        return self.table.stats(segment) if self.table is not None else SegmentStats(segment)

    def apply(self, value: Mapping[str, Any]) -> None:
        """One published tally (``PartitionTally.snapshot``)."""
        segment, partition = str(value["segment"]), int(value["partition"])
        self._partials.setdefault(segment, {})[partition] = SegmentStats.from_dict(value["stats"])
        self.live[segment] = self._merge(segment)

    def _merge(self, segment: str) -> SegmentStats:
        seed = self.seed(segment)
        merged = SegmentStats(segment, mature=seed.mature, since=seed.since)
        for part in self._partials[segment].values():
            merged.mature = merged.mature + part.mature
            for day, counts in part.cohorts.items():
                merged.cohorts[day] = merged.cohorts.get(day, SegmentCounts()) + counts
            if part.watermark is not None and (merged.watermark is None or part.watermark > merged.watermark):
                merged.watermark = part.watermark
        merged.verdict = self._verdicts.get(segment, seed.verdict)
        merged.reassess(self.prior, self.policy)
        self._verdicts[segment] = merged.verdict
        return merged
