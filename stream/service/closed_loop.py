"""The closed-loop analysis (SPEC §1 step 1): the profitability of each lead
segment over a recorded history.

Pure: the result depends only on the events and the policy, never on the wall
clock (lead age is measured against the latest ``occurred_at`` in the history)
nor on the order of the lines (sums are exact, leads are visited in id order).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from schemas.events import CallAttempted, CallOutcome, ContentDownloaded, LeadCreated, OpportunityCreated
from schemas.types import format_timestamp
from stream.domain.scoring import score_lead
from stream.domain.segments import (
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
from stream.service.history import Event, deduplicate


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
    value_per_lead: float  # smoothed towards the overall value per lead
    cost_per_lead: float | None
    profit_per_lead: float | None
    profit_per_lead_low: float | None
    profit_per_lead_high: float | None
    profitable: bool | None
    verdict: str  # why, in words
    as_of: datetime  # the latest occurred_at of the history, UTC

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


@dataclass(slots=True)
class _Lead:
    created: LeadCreated | None = None
    attempts: int = 0
    connected: bool = False
    amounts: list[float] = field(default_factory=list)
    downloads: list[tuple[datetime, str, str]] = field(default_factory=list)  # (at, event_id, type)


@dataclass(slots=True)
class _Segment:
    leads: int = 0
    all_costs: list[float] = field(default_factory=list)  # every lead's cost so far
    mature: list[tuple[int, bool, bool, float, float]] = field(default_factory=list)
    # (attempts, opportunity, connected, value, acquisition cost) per mature lead


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2) + 0.0  # + 0.0: no "-0.0"


def _sum(values: Iterable[float]) -> float:
    return round(math.fsum(values), 6) + 0.0


def _collect(events: Iterable[Event]) -> dict[str, _Lead]:
    leads: dict[str, _Lead] = {}
    for _, event in events:
        lead = leads.setdefault(event.lead_id, _Lead())
        if isinstance(event, LeadCreated):
            # A lead created twice (different event ids): the earliest wins.
            if lead.created is None or (event.occurred_at, event.event_id) < (
                lead.created.occurred_at,
                lead.created.event_id,
            ):
                lead.created = event
        elif isinstance(event, CallAttempted):
            lead.attempts += 1
            lead.connected = lead.connected or event.outcome == CallOutcome.connected
        elif isinstance(event, OpportunityCreated):
            lead.amounts.append(event.amount)
        elif isinstance(event, ContentDownloaded):
            lead.downloads.append((event.occurred_at, event.event_id, event.content_type))
    return leads


def analyze(
    events: Iterable[Event],
    policy: Policy | ScoringPolicy,
    min_age_days: float | None = None,
) -> list[SegmentReport]:
    """Per segment economics over ``events`` (any mix of input topics, duplicates
    allowed), sorted by segment.

    ``min_age_days`` (default ``scoring.min_age_days``): leads younger than this
    at the history's latest ``occurred_at`` are counted in ``leads`` but left out
    of every rate. Events of leads without a ``lead-created`` are ignored (no
    segment). Smoothing and verdict: ``stream.domain.segments.estimate``/``decide``.
    """
    scoring = policy.scoring if isinstance(policy, Policy) else policy
    min_age = scoring.min_age_days if min_age_days is None else min_age_days
    if min_age < 0:
        raise ValueError("min_age_days must be >= 0")
    unique, _ = deduplicate(events)
    if not unique:
        return []
    as_of = max(event.occurred_at for _, event in unique).astimezone(timezone.utc)
    maturity = timedelta(days=min_age)
    leads = _collect(unique)

    segments: dict[str, _Segment] = {}
    keys: dict[str, str] = {}
    for lead_id in sorted(leads):
        lead = leads[lead_id]
        if lead.created is None:
            continue
        key = keys[lead_id] = segment_key(lead.created, scoring.segment_by)
        seg = segments.setdefault(key, _Segment())
        cost = acquisition_cost(lead.created.source, scoring)
        seg.leads += 1
        seg.all_costs.append(cost + lead.attempts * scoring.cost_per_attempt)
        if as_of - lead.created.occurred_at >= maturity:
            value = math.fsum(lead.amounts)
            seg.mature.append((lead.attempts, bool(lead.amounts), lead.connected, value, cost))

    counts = {key: _counts(seg) for key, seg in segments.items()}
    prior = Prior.from_counts(counts[key] for key in sorted(counts))
    reports = []
    for key in sorted(segments):
        c = counts[key]
        est = estimate(c, prior, scoring)
        verdict = decide(est, scoring)
        cost_per_lead = est.cost_per_lead
        if cost_per_lead is None:
            # No mature lead yet: the money is spent up front, so measure it on the young ones.
            cost_per_lead = math.fsum(segments[key].all_costs) / segments[key].leads
        reports.append(
            SegmentReport(
                segment=key,
                leads=segments[key].leads,
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
            )
        )

    # Workable now: score every lead the way the worker will, with this very
    # analysis (read back from its own JSON form) as the segments file.
    table = SegmentTable.from_rows(report.to_dict() for report in reports)
    workable = dict.fromkeys(segments, 0)
    for lead_id, key in keys.items():
        lead = leads[lead_id]
        types = [content_type for _, _, content_type in sorted(lead.downloads)]
        if score_lead(lead.created, types, scoring, table).workable:
            workable[key] += 1
    return [replace(report, workable=workable[report.segment]) for report in reports]


def _counts(seg: _Segment) -> SegmentCounts:
    mature = seg.mature
    return SegmentCounts(
        leads=len(mature),
        contacted=sum(1 for attempts, *_ in mature if attempts > 0),
        connected=sum(1 for m in mature if m[2]),
        opportunities=sum(1 for m in mature if m[1]),
        attempts=sum(m[0] for m in mature),
        value=_sum(m[3] for m in mature),
        value_sq=_sum(m[3] * m[3] for m in mature),
        acquisition_cost=_sum(m[4] for m in mature),
    )


def overall(reports: Iterable[SegmentReport]) -> Prior:
    """The overall value per mature lead the segments were smoothed towards."""
    reports = sorted(reports, key=lambda r: r.segment)
    return Prior.from_counts(report.counts() for report in reports)


def encode_reports(reports: Iterable[SegmentReport]) -> bytes:
    """The analysis as the segments file: a JSON list sorted by segment, keys
    sorted, 2-space indent; the same reports always give the same bytes."""
    rows = [report.to_dict() for report in sorted(reports, key=lambda r: r.segment)]
    return orjson.dumps(rows, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
