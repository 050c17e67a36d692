"""The closed-loop analysis (SPEC §1 step 1): the profitability of each lead
segment over a recorded history.

Pure: the result depends only on the events and the policy, never on the wall
clock (lead age is measured against the latest ``occurred_at`` in the history)
nor on the order of the lines (sums are exact, a lead's facts are sorted).

Three steps, each over a bounded amount of data at a time:

1. each event becomes a compact fact of its lead (:func:`_fact`); a file is
   split by lead id into partitions on disk (:func:`analyze_file`), a list
   is one partition in memory (:func:`analyze`);
2. per partition, a lead's facts are deduplicated by ``event_id`` (as the
   worker does, per lead) and folded into one summary row (:func:`_fold`);
3. the summaries are added up per segment (:class:`_Segment`), judged by
   ``stream.domain.segments.estimate``/``decide``, and every lead's latest
   scoring decision is counted as workable or not with that very table.
"""

from __future__ import annotations

import math
import statistics
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from schemas.events import CallAttempted, CallOutcome, ContentDownloaded, LeadCreated, OpportunityCreated
from schemas.reps import RepRecord
from schemas.types import format_timestamp
from stream.domain.scoring import score_lead
from stream.domain.segments import (
    SEPARATOR,
    Prior,
    SegmentCounts,
    SegmentTable,
    acquisition_cost,
    decide,
    describe_verdict,
    estimate,
    segment_key,
)
from stream.policy import Policy, ScoringPolicy
from stream.service.history import Event, OnInvalid, ScanCounts, Spill, scan_history

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)
# History bytes per on-disk partition: each is read back into memory whole.
PARTITION_BYTES = 64 << 20


@dataclass(frozen=True, slots=True)
class SegmentReport:
    """One segment of the analysis. Counts after ``mature_leads`` are over the
    mature leads (old enough to have converted); money per lead is rounded to
    cents, sums to 6 decimals."""

    segment: str
    leads: int  # every lead of the segment, young ones included
    mature_leads: int
    workable: int  # leads workable now (all their downloads, this analysis as the table)
    contacted: int
    connected: int
    opportunities: int  # mature leads with at least one opportunity
    attempts: int
    opportunity_value: float
    opportunity_value_sq: float  # Σ (a lead's opportunity value)², for the variance
    acquisition_cost: float
    raw_value_per_lead: float | None  # opportunity_value / mature_leads, unsmoothed
    value_per_lead: float  # smoothed: conversion × deal size
    cost_per_lead: float | None
    profit_per_lead: float | None
    profit_per_lead_low: float | None
    profit_per_lead_high: float | None
    profitable: bool | None
    verdict: str  # why, in words
    as_of: datetime  # the latest occurred_at of the history, UTC
    conversion_rate: float | None = None  # smoothed share of mature leads that convert
    deal_size: float | None = None  # smoothed pipeline of a converted lead
    typical_deal_size: float | None = None  # the whole history's median (the same on every row)

    def counts(self) -> SegmentCounts:
        """The mature leads' evidence (what ``SegmentStats`` is seeded with)."""
        return SegmentCounts(
            leads=self.mature_leads,
            contacted=self.contacted,
            connected=self.connected,
            opportunities=self.opportunities,
            attempts=self.attempts,
            value=self.opportunity_value,
            value_sq=self.opportunity_value_sq,
            acquisition_cost=self.acquisition_cost,
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["as_of"] = format_timestamp(self.as_of)
        return data


class AnalysisCounts:
    """What the analysis read: lines skipped, duplicates dropped, leads and events kept."""

    def __init__(self) -> None:
        self.invalid = 0
        self.duplicates = 0
        self.events = 0
        self.reps = 0


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2) + 0.0  # + 0.0: no "-0.0"


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // _ONE_US


class ExactSum:
    """A float sum with no rounding error until :attr:`value` (Shewchuk's
    partials, as ``math.fsum`` keeps them): the same total whatever the order
    of the terms, without holding the terms."""

    __slots__ = ("_partials",)

    def __init__(self) -> None:
        self._partials: list[float] = []

    def add(self, x: float) -> None:
        partials = self._partials
        i = 0
        for y in partials:
            if abs(x) < abs(y):
                x, y = y, x
            high = x + y
            low = y - (high - x)
            if low:
                partials[i] = low
                i += 1
            x = high
        partials[i:] = [x]

    @property
    def value(self) -> float:
        return math.fsum(self._partials)


# --------------------------------------------------------------------------- step 1: facts

# A fact is [lead_id, event_id, occurred_at in µs, kind, detail...] (JSON types):
#   "c" created:    segment key, acquisition cost
#   "d" download:   content type
#   "a" attempt:    connected (bool)
#   "o" opportunity: amount
#   "n" anything else (an assignment): counts only for dedupe and the history's end


def _fact(event, scoring: ScoringPolicy) -> list:
    head = [event.lead_id, event.event_id, _micros(event.occurred_at)]
    if isinstance(event, LeadCreated):
        return [*head, "c", segment_key(event, scoring.segment_by), acquisition_cost(event.source, scoring)]
    if isinstance(event, ContentDownloaded):
        return [*head, "d", event.content_type]
    if isinstance(event, CallAttempted):
        return [*head, "a", event.outcome == CallOutcome.connected]
    if isinstance(event, OpportunityCreated):
        return [*head, "o", event.amount]
    return [*head, "n"]


# --------------------------------------------------------------------------- step 2: one row per lead

# A lead's summary: [segment, cost, created µs, attempts, connected, opportunity, value, content types]


def _fold(facts: Iterable[list], counts: AnalysisCounts) -> tuple[list[list], int | None]:
    """Summaries of the leads of one partition (facts in file order), and the
    latest instant of a kept fact. Facts of a lead never created count only
    towards that instant."""
    by_lead: dict[str, list[list]] = {}
    for fact in facts:
        by_lead.setdefault(fact[0], []).append(fact)
    latest: int | None = None
    rows = []
    for lead_id in sorted(by_lead):
        seen: set[str] = set()
        created = None
        attempts = 0
        connected = False
        amounts: list[float] = []
        downloads: list[tuple[int, str, str]] = []
        for fact in by_lead[lead_id]:
            event_id = fact[1]
            if event_id in seen:
                counts.duplicates += 1
                continue
            seen.add(event_id)
            counts.events += 1
            at, kind = fact[2], fact[3]
            latest = at if latest is None or at > latest else latest
            if kind == "c":
                # A lead created twice (different event ids): the earliest wins.
                if created is None or (at, event_id) < (created[0], created[1]):
                    created = (at, event_id, fact[4], fact[5])
            elif kind == "a":
                attempts += 1
                connected = connected or fact[4]
            elif kind == "o":
                amounts.append(fact[4])
            elif kind == "d":
                downloads.append((at, event_id, fact[4]))
        if created is None:
            continue
        types = [content_type for _, _, content_type in sorted(downloads)]
        rows.append([created[2], created[3], created[0], attempts, connected, bool(amounts), math.fsum(amounts), types])
    return rows, latest


# --------------------------------------------------------------------------- step 3: segments


@dataclass(slots=True)
class _Segment:
    leads: int = 0
    all_costs: ExactSum = field(default_factory=ExactSum)  # every lead's cost so far
    mature: int = 0
    contacted: int = 0
    connected: int = 0
    opportunities: int = 0
    attempts: int = 0
    value: ExactSum = field(default_factory=ExactSum)
    value_sq: ExactSum = field(default_factory=ExactSum)
    acquisition_cost: ExactSum = field(default_factory=ExactSum)

    def counts(self) -> SegmentCounts:
        return SegmentCounts(
            leads=self.mature,
            contacted=self.contacted,
            connected=self.connected,
            opportunities=self.opportunities,
            attempts=self.attempts,
            value=_sum(self.value),
            value_sq=_sum(self.value_sq),
            acquisition_cost=_sum(self.acquisition_cost),
        )


def _sum(total: ExactSum) -> float:
    return round(total.value, 6) + 0.0


class _Tally:
    """Step 3: lead summaries in, segment reports out."""

    def __init__(self, scoring: ScoringPolicy, as_of_us: int, maturity_us: int) -> None:
        self.scoring = scoring
        self.as_of_us = as_of_us
        self.maturity_us = maturity_us
        self.segments: dict[str, _Segment] = {}
        self.deals: list[float] = []  # each mature converted lead's pipeline, for the median
        # (segment, content types in event-time order) -> leads: the scoring inputs
        self.scoring_inputs: Counter[tuple[str, tuple[str, ...]]] = Counter()

    def add(self, row: list) -> None:
        key, cost, created_us, attempts, connected, opportunity, value, types = row
        seg = self.segments.get(key)
        if seg is None:
            seg = self.segments[key] = _Segment()
        seg.leads += 1
        seg.all_costs.add(cost + attempts * self.scoring.cost_per_attempt)
        self.scoring_inputs[(key, tuple(types))] += 1
        if self.as_of_us - created_us < self.maturity_us:
            return
        seg.mature += 1
        seg.contacted += attempts > 0
        seg.connected += bool(connected)
        seg.opportunities += bool(opportunity)
        seg.attempts += attempts
        seg.value.add(value)
        seg.value_sq.add(value * value)
        seg.acquisition_cost.add(cost)
        if opportunity:
            self.deals.append(value)

    def reports(self) -> list[SegmentReport]:
        scoring = self.scoring
        as_of = _EPOCH + timedelta(microseconds=self.as_of_us)
        typical = _money(statistics.median(self.deals)) if self.deals else None
        counts = {key: seg.counts() for key, seg in self.segments.items()}
        prior = Prior.from_counts((counts[key] for key in sorted(counts)), typical)
        reports = []
        for key in sorted(self.segments):
            seg, c = self.segments[key], counts[key]
            est = estimate(c, prior, scoring)
            verdict = decide(est, scoring)
            cost_per_lead = est.cost_per_lead
            if cost_per_lead is None:
                # No mature lead yet: the money is spent up front, so measure it on the young ones.
                cost_per_lead = seg.all_costs.value / seg.leads
            reports.append(
                SegmentReport(
                    segment=key,
                    leads=seg.leads,
                    mature_leads=c.leads,
                    workable=0,
                    contacted=c.contacted,
                    connected=c.connected,
                    opportunities=c.opportunities,
                    attempts=c.attempts,
                    opportunity_value=c.value,
                    opportunity_value_sq=c.value_sq,
                    acquisition_cost=c.acquisition_cost,
                    raw_value_per_lead=_money(est.raw_value_per_lead),
                    value_per_lead=round(est.value_per_lead, 2) + 0.0,
                    cost_per_lead=_money(cost_per_lead),
                    profit_per_lead=_money(est.profit_per_lead),
                    profit_per_lead_low=_money(est.profit_low),
                    profit_per_lead_high=_money(est.profit_high),
                    profitable=verdict,
                    verdict=describe_verdict(verdict, est, scoring),
                    as_of=as_of,
                    conversion_rate=None if est.conversion is None else round(est.conversion, 6) + 0.0,
                    deal_size=_money(est.deal_size),
                    typical_deal_size=typical,
                )
            )
        # Workable now: score every lead the way the worker will, with this very
        # analysis (read back from its own JSON form) as the segments file. A
        # score depends on the segment and the content types only, so each
        # distinct pair is scored once.
        table = SegmentTable.from_rows(report.to_dict() for report in reports)
        workable = dict.fromkeys(self.segments, 0)
        for (key, types), leads in self.scoring_inputs.items():
            if score_lead(_attributes(key, scoring), list(types), scoring, table).workable:
                workable[key] += leads
        return [replace(report, workable=workable[report.segment]) for report in reports]


def _attributes(key: str, scoring: ScoringPolicy) -> dict[str, str]:
    """Attributes that give back segment ``key`` (its parts by ``segment_by`` name)."""
    return dict(zip(scoring.segment_by, key.split(SEPARATOR)))


def _scoring(policy: Policy | ScoringPolicy) -> ScoringPolicy:
    return policy.scoring if isinstance(policy, Policy) else policy


def _maturity_us(scoring: ScoringPolicy, min_age_days: float | None) -> int:
    min_age = scoring.min_age_days if min_age_days is None else min_age_days
    if min_age < 0:
        raise ValueError("min_age_days must be >= 0")
    return timedelta(days=min_age) // _ONE_US


def _tally(
    rows: Iterable[list], latest: int | None, scoring: ScoringPolicy, maturity_us: int
) -> list[SegmentReport]:
    if latest is None:
        return []
    tally = _Tally(scoring, latest, maturity_us)
    for row in rows:
        tally.add(row)
    return tally.reports()


def analyze(
    events: Iterable[Event],
    policy: Policy | ScoringPolicy,
    min_age_days: float | None = None,
    counts: AnalysisCounts | None = None,
) -> list[SegmentReport]:
    """Per segment economics over ``events`` (any mix of input topics, duplicates
    allowed), sorted by segment; in memory (:func:`analyze_file` streams a file).

    ``min_age_days`` (default ``scoring.min_age_days``): leads younger than this
    at the history's latest ``occurred_at`` are counted in ``leads`` but left out
    of every rate. A repeated ``event_id`` on a lead counts once. Events of
    leads without a ``lead-created`` are ignored (no segment). Smoothing and
    verdict: ``stream.domain.segments.estimate``/``decide``.
    """
    scoring = _scoring(policy)
    maturity_us = _maturity_us(scoring, min_age_days)
    counts = counts if counts is not None else AnalysisCounts()
    rows, latest = _fold((_fact(event, scoring) for _, event in events), counts)
    return _tally(rows, latest, scoring, maturity_us)


def analyze_file(
    path: str | Path,
    policy: Policy | ScoringPolicy,
    min_age_days: float | None = None,
    *,
    counts: AnalysisCounts | None = None,
    on_invalid: OnInvalid | None = None,
    spill_dir: str | Path | None = None,
    partition_bytes: int = PARTITION_BYTES,
) -> list[SegmentReport]:
    """:func:`analyze` over the history file at ``path``, read as a stream.

    Lines that are neither a lead event nor a ``reps`` record are skipped,
    counted in ``counts.invalid`` and reported to ``on_invalid``. The facts
    are split by lead id into partitions of about ``partition_bytes`` of
    history each (temporary files under ``spill_dir``, removed afterwards),
    so memory holds one partition's leads at a time. Raises OSError when the
    file cannot be read.
    """
    scoring = _scoring(policy)
    maturity_us = _maturity_us(scoring, min_age_days)
    counts = counts if counts is not None else AnalysisCounts()
    partitions = max(1, Path(path).stat().st_size // max(1, partition_bytes) + 1)
    scanned = ScanCounts()
    with Spill(spill_dir, prefix="sla-analyze-") as spill:
        for line in scan_history(path, scanned, on_invalid):
            if isinstance(line.item, RepRecord):
                continue  # the roster says nothing about segments
            fact = _fact(line.item[1], scoring)
            spill.append(f"facts{zlib.crc32(fact[0].encode()) % partitions}", orjson.dumps(fact))
        latest: int | None = None
        for p in range(partitions):
            rows, last = _fold((orjson.loads(line) for line in spill.lines(f"facts{p}")), counts)
            spill.remove(f"facts{p}")
            for row in rows:
                spill.append("leads", orjson.dumps(row))
            if last is not None and (latest is None or last > latest):
                latest = last
        reports = _tally((orjson.loads(line) for line in spill.lines("leads")), latest, scoring, maturity_us)
    counts.invalid, counts.reps = scanned.invalid, scanned.reps
    return reports


def overall(reports: Iterable[SegmentReport]) -> Prior:
    """The overall evidence the segments were smoothed towards."""
    reports = sorted(reports, key=lambda r: r.segment)
    typical = next((r.typical_deal_size for r in reports if r.typical_deal_size is not None), None)
    return Prior.from_counts((report.counts() for report in reports), typical)


def encode_reports(reports: Iterable[SegmentReport]) -> bytes:
    """The analysis as the segments file: a JSON list sorted by segment, keys
    sorted, 2-space indent; the same reports always give the same bytes."""
    rows = [report.to_dict() for report in sorted(reports, key=lambda r: r.segment)]
    return orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
