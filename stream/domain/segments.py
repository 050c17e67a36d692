"""Lead segments and their closed-loop economics (SPEC §1 step 1, §5 "Workable").

A segment is the values of ``scoring.segment_by`` joined with ``|`` in that
order, e.g. ``web|51-200|vp``. Its worth is estimated from *mature* leads
only (leads old enough to have converted) as conversion rate × deal size,
each smoothed towards the overall figures (a median deal size, so that a few
huge deals elsewhere do not lift every segment), and judged profitable,
unprofitable or undecided by confidence bounds on profit per lead. The rules are stated once here and used
by ``analyze`` (offline) and by the worker (live, through ``SegmentStats``);
``docs/scoring.md`` is the user-facing description.

Money is in the opportunity amounts' currency (one currency assumed). Instants
are timezone-aware datetimes; cohort days are UTC dates. Nothing here reads the
clock: time only moves with the event times passed in.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from stream.policy import ScoringPolicy

UNKNOWN = "unknown"
SEPARATOR = "|"

# (inclusive upper bound in employees, band); above the last bound: "1001+".
_SIZE_BANDS: tuple[tuple[int, str], ...] = (
    (10, "1-10"),
    (50, "11-50"),
    (200, "51-200"),
    (1000, "201-1000"),
)


class SegmentTableError(ValueError):
    """A segments file is not valid; the message names the row and field."""


def company_size_band(company_size: int | None) -> str:
    """The band of a company size in employees: ``1-10``, ``11-50``, ``51-200``,
    ``201-1000``, ``1001+``; ``unknown`` when missing. A size of 0 counts as ``1-10``."""
    if company_size is None or isinstance(company_size, bool):
        return UNKNOWN
    for upper, band in _SIZE_BANDS:
        if company_size <= upper:
            return band
    return "1001+"


def _attribute(attributes: Mapping[str, Any] | object, name: str) -> Any:
    if isinstance(attributes, Mapping):
        return attributes.get(name)
    return getattr(attributes, name, None)


def segment_key(attributes: Mapping[str, Any] | object, segment_by: Sequence[str]) -> str:
    """The segment of a lead: its ``segment_by`` values joined with ``|``.

    ``attributes`` is a mapping (e.g. the lead-created fields) or any object with
    those attributes (e.g. a ``LeadCreated`` model). ``company_size_band`` is
    derived from ``company_size``. A missing or empty value shows as ``unknown``;
    a ``|`` inside a value is replaced by ``/`` so that the key splits cleanly.
    """
    parts = []
    for name in segment_by:
        if name == "company_size_band":
            value = _attribute(attributes, "company_size_band")
            if value is None:
                value = company_size_band(_attribute(attributes, "company_size"))
        else:
            value = _attribute(attributes, name)
        text = UNKNOWN if value is None or value == "" else str(value)
        parts.append(text.replace(SEPARATOR, "/"))
    return SEPARATOR.join(parts)


def acquisition_cost(source: str | None, policy: ScoringPolicy) -> float:
    """What one lead from ``source`` costs: ``scoring.source_costs[source]``,
    else ``scoring.cost_per_lead``."""
    if source is not None and source in policy.source_costs:
        return float(policy.source_costs[source])
    return float(policy.cost_per_lead)


# -- counts -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentCounts:
    """Additive evidence about a set of leads.

    ``contacted``, ``connected`` and ``opportunities`` count leads (with at least
    one call attempt, one ``connected`` attempt, one opportunity); ``value`` is
    the sum of every opportunity amount of those leads, ``value_sq`` the sum of
    each lead's total value squared (for the variance), ``acquisition_cost`` the
    sum of the leads' acquisition costs.
    """

    leads: int = 0
    contacted: int = 0
    connected: int = 0
    opportunities: int = 0
    attempts: int = 0
    value: float = 0.0
    value_sq: float = 0.0
    acquisition_cost: float = 0.0

    def __add__(self, other: SegmentCounts) -> SegmentCounts:
        return SegmentCounts(
            self.leads + other.leads,
            self.contacted + other.contacted,
            self.connected + other.connected,
            self.opportunities + other.opportunities,
            self.attempts + other.attempts,
            self.value + other.value,
            self.value_sq + other.value_sq,
            self.acquisition_cost + other.acquisition_cost,
        )

    def cost(self, cost_per_attempt: float) -> float:
        """Total cost: acquisition plus ``attempts × cost_per_attempt``."""
        return self.acquisition_cost + self.attempts * cost_per_attempt

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentCounts:
        return cls(
            leads=int(data.get("leads", 0)),
            contacted=int(data.get("contacted", 0)),
            connected=int(data.get("connected", 0)),
            opportunities=int(data.get("opportunities", 0)),
            attempts=int(data.get("attempts", 0)),
            value=float(data.get("value", 0.0)),
            value_sq=float(data.get("value_sq", 0.0)),
            acquisition_cost=float(data.get("acquisition_cost", 0.0)),
        )


@dataclass(frozen=True, slots=True)
class LeadOutcome:
    """What has happened to one lead so far: the worker keeps it per lead and
    hands ``SegmentStats`` the before and after of every change."""

    attempts: int = 0
    connected: bool = False
    opportunity: bool = False
    value: float = 0.0

    def counts(self) -> SegmentCounts:
        return SegmentCounts(
            leads=0,
            contacted=int(self.attempts > 0),
            connected=int(self.connected),
            opportunities=int(self.opportunity),
            attempts=self.attempts,
            value=self.value,
            value_sq=self.value * self.value,
        )


def _minus(a: SegmentCounts, b: SegmentCounts) -> SegmentCounts:
    return SegmentCounts(
        a.leads - b.leads,
        a.contacted - b.contacted,
        a.connected - b.connected,
        a.opportunities - b.opportunities,
        a.attempts - b.attempts,
        a.value - b.value,
        a.value_sq - b.value_sq,
        a.acquisition_cost - b.acquisition_cost,
    )


# -- smoothing and verdict --------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prior:
    """The overall evidence every segment is smoothed towards.

    ``value_per_lead`` and ``value_sq_per_lead`` are the pooled mean and mean
    squared value per mature lead over all segments (what a lead's fit is
    measured against). ``opportunities`` counts the mature leads with an
    opportunity, so ``conversion`` is the overall share that converts.
    ``typical_deal_size`` is the median pipeline of a converted lead (written
    by ``analyze``); without it the mean is used. Smoothing pulls a segment
    towards ``conversion × deal_size``: a median is not dragged up by a few
    very large deals elsewhere, as a pooled mean is.
    """

    mature_leads: int = 0
    value_per_lead: float = 0.0
    value_sq_per_lead: float = 0.0
    opportunities: int = 0
    typical_deal_size: float | None = None

    @classmethod
    def from_counts(cls, counts: Iterable[SegmentCounts], typical_deal_size: float | None = None) -> Prior:
        """The prior of a set of segments (order does not matter: sums are exact)."""
        counts = list(counts)
        n = sum(c.leads for c in counts)
        if n == 0:
            return cls(typical_deal_size=typical_deal_size)
        return cls(
            mature_leads=n,
            value_per_lead=math.fsum(c.value for c in counts) / n,
            value_sq_per_lead=math.fsum(c.value_sq for c in counts) / n,
            opportunities=sum(c.opportunities for c in counts),
            typical_deal_size=typical_deal_size,
        )

    @property
    def converted(self) -> float:
        """Mature leads that carry value: with opportunity counts, those; a
        hand-written file with value but no opportunity counts: every lead."""
        if self.opportunities or not self.value_per_lead:
            return float(self.opportunities)
        return float(self.mature_leads)

    @property
    def conversion(self) -> float:
        """Overall share of mature leads that converted."""
        return self.converted / self.mature_leads if self.mature_leads else 0.0

    @property
    def deal_size(self) -> float:
        """The deal size pseudo-evidence is worth: the typical one, else the mean."""
        if self.typical_deal_size is not None:
            return self.typical_deal_size
        converted = self.converted
        return self.value_per_lead * self.mature_leads / converted if converted else 0.0


@dataclass(frozen=True, slots=True)
class Estimate:
    """A segment's smoothed economics per mature lead (docs/scoring.md).

    Value per lead is conversion × deal size, each smoothed: ``k =
    scoring.smoothing_leads`` pseudo-leads convert at the prior's overall
    rate, and their deals are worth the prior's typical deal size. So
    ``value_per_lead = (value + k × conversion₀ × deal₀) / (mature leads + k)``.
    The profit bounds are one-sided at ``scoring.verdict_confidence``: the
    conversion rate's Wilson score bounds over ``mature leads + k`` trials and
    the deal size's standard error, combined as independent margins. Profit
    and bounds are None without a mature lead (the cost is then unknown).
    """

    mature_leads: int
    value_per_lead: float
    raw_value_per_lead: float | None
    cost_per_lead: float | None
    profit_per_lead: float | None
    profit_low: float | None
    profit_high: float | None
    conversion: float | None = None  # smoothed share of leads that convert
    deal_size: float | None = None  # smoothed pipeline of a converted lead


def wilson_bounds(rate: float, trials: float, z: float) -> tuple[float, float]:
    """One-sided Wilson score bounds of a proportion ``rate`` seen over
    ``trials`` (fractional pseudo-trials allowed) at normal quantile ``z``.
    Unlike rate ± z × standard error they stay inside 0..1 and do not shrink
    to nothing when no lead converted."""
    if trials <= 0:
        return 0.0, 1.0
    rate = min(1.0, max(0.0, rate))
    z2 = z * z
    scale = 1.0 + z2 / trials
    centre = (rate + z2 / (2 * trials)) / scale
    half = z * math.sqrt(rate * (1 - rate) / trials + z2 / (4 * trials * trials)) / scale
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate(counts: SegmentCounts, prior: Prior, policy: ScoringPolicy) -> Estimate:
    """Smoothed value, cost and profit per mature lead of ``counts`` (mature leads only)."""
    n = counts.leads
    k = float(policy.smoothing_leads) if prior.mature_leads > 0 else 0.0
    if n + k <= 0:
        return Estimate(0, prior.value_per_lead, None, None, None, None, None)
    pseudo_converted = k * prior.conversion
    pseudo_value = pseudo_converted * prior.deal_size
    mean = (counts.value + pseudo_value) / (n + k)
    if n == 0:
        return Estimate(0, mean, None, None, None, None, None)
    # Leads with value: the opportunities; a hand-written row that gives value
    # but no opportunity count spreads it over every lead.
    converted = counts.opportunities if counts.opportunities or not counts.value else n
    value_sq = counts.value_sq if counts.value_sq or not counts.value else counts.value**2 / converted
    deals = converted + pseudo_converted
    rate = deals / (n + k)
    size = (counts.value + pseudo_value) / deals if deals > 0 else 0.0
    z = NormalDist().inv_cdf(policy.verdict_confidence)
    rate_low, rate_high = wilson_bounds(rate, n + k, z)
    if deals > 0:
        spread = max(0.0, (value_sq + pseudo_converted * prior.deal_size**2) / deals - size * size)
        size_margin = z * rate * math.sqrt(spread / deals)
    else:
        size_margin = 0.0
    up = math.hypot(size * (rate_high - rate), size_margin)
    down = math.hypot(size * (rate - rate_low), size_margin)
    cost = counts.cost(policy.cost_per_attempt) / n
    profit = mean - cost
    return Estimate(
        mature_leads=n,
        value_per_lead=mean,
        raw_value_per_lead=counts.value / n,
        cost_per_lead=cost,
        profit_per_lead=profit,
        profit_low=profit - down,
        profit_high=profit + up,
        conversion=rate,
        deal_size=size,
    )


def decide(est: Estimate, policy: ScoringPolicy, previous: bool | None = None) -> bool | None:
    """The verdict on a segment: True (profitable), False (unprofitable) or None (undecided).

    With fewer than ``scoring.min_mature_leads`` mature leads nothing changes
    (``previous`` stands; offline it is None). Otherwise the segment becomes
    profitable when ``profit_low > 0``, unprofitable when ``profit_high < 0``,
    and keeps ``previous`` while the bounds straddle 0: a verdict only flips when
    the evidence against it is as strong as the evidence that made it.
    """
    if est.mature_leads < policy.min_mature_leads or est.profit_low is None or est.profit_high is None:
        return previous
    if est.profit_low > 0:
        return True
    if est.profit_high < 0:
        return False
    return previous


def describe_verdict(verdict: bool | None, est: Estimate, policy: ScoringPolicy) -> str:
    """Why ``verdict`` was reached, in words."""
    if est.mature_leads < policy.min_mature_leads:
        text = f"{est.mature_leads} mature leads < {policy.min_mature_leads}"
        return text if verdict is None else f"kept {_word(verdict)}: {text}"
    assert est.profit_low is not None and est.profit_high is not None
    bounds = f"profit per lead {est.profit_low:.2f}..{est.profit_high:.2f}"
    if est.profit_low > 0:
        return f"{bounds}, all above 0"
    if est.profit_high < 0:
        return f"{bounds}, all below 0"
    return f"{bounds} straddles 0" if verdict is None else f"kept {_word(verdict)}: {bounds} straddles 0"


def _word(verdict: bool | None) -> str:
    return {True: "profitable", False: "unprofitable", None: "undecided"}[verdict]


# -- a segment as the scorer sees it ----------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentView:
    """A segment's current worth: from a segments file row or live ``SegmentStats``."""

    segment: str
    mature_leads: int
    value_per_lead: float
    profit_per_lead: float | None
    profitable: bool | None


# -- live evidence ----------------------------------------------------------


def _day(at: datetime) -> date:
    return at.astimezone(timezone.utc).date()


def _mature_through(as_of: datetime, min_age_days: float) -> date:
    """The last UTC creation day whose every lead is at least ``min_age_days`` old at ``as_of``."""
    # A day's youngest lead is created just before the next midnight.
    cutoff = as_of.astimezone(timezone.utc) - timedelta(days=min_age_days)
    return cutoff.date() - timedelta(days=1)


def _parse_instant(value: Any) -> datetime | None:
    if value is None:
        return None
    at = datetime.fromisoformat(str(value))
    if at.tzinfo is None:
        raise ValueError(f"instant {value!r} has no offset")
    return at


@dataclass(slots=True)
class SegmentStats:
    """Live evidence about one segment, updated by the worker as events arrive.

    ``mature`` holds the evidence of leads old enough to count (seeded from the
    segments file, then grown as live cohorts mature); ``cohorts`` holds the
    leads created live that are still young, by UTC creation day. Leads created
    at or before ``since`` (the history the segments file was made from) are not
    counted again. ``watermark`` is the latest event time seen; cohorts mature
    against it, never against the wall clock. ``verdict`` moves by ``decide``.

    Methods mutate the object: store it back after each update. ``to_dict`` and
    ``from_dict`` round-trip through JSON types for a changelog-backed table.
    """

    segment: str
    mature: SegmentCounts = field(default_factory=SegmentCounts)
    cohorts: dict[str, SegmentCounts] = field(default_factory=dict)
    matured_through: date | None = None
    since: datetime | None = None
    watermark: datetime | None = None
    verdict: bool | None = None

    # -- updates ------------------------------------------------------------
    def lead_created(self, created_at: datetime, acquisition_cost: float) -> bool:
        """Count a new lead created at ``created_at`` (event time). False when it
        predates ``since`` and is already in the seed."""
        self._see(created_at)
        if self.since is not None and created_at <= self.since:
            return False
        self._add(created_at, SegmentCounts(leads=1, acquisition_cost=acquisition_cost))
        return True

    def outcome_changed(
        self, created_at: datetime, before: LeadOutcome, after: LeadOutcome, occurred_at: datetime
    ) -> bool:
        """Apply the change of one lead's outcome (an attempt, a connect, an
        opportunity) observed at event time ``occurred_at``. ``created_at`` is the
        lead's creation time. False when the lead predates ``since``."""
        self._see(occurred_at)
        if self.since is not None and created_at <= self.since:
            return False
        self._add(created_at, _minus(after.counts(), before.counts()))
        return True

    def advance(self, as_of: datetime, min_age_days: float) -> None:
        """Fold every cohort that is at least ``min_age_days`` old at ``as_of`` into ``mature``."""
        self._see(as_of)
        through = _mature_through(self.watermark or as_of, min_age_days)
        if self.matured_through is not None and through <= self.matured_through:
            return
        for day in sorted(self.cohorts):
            if date.fromisoformat(day) <= through:
                self.mature = self.mature + self.cohorts.pop(day)
        self.matured_through = through

    def reassess(self, prior: Prior, policy: ScoringPolicy, as_of: datetime | None = None) -> bool | None:
        """Mature the cohorts up to ``as_of`` (default: the watermark) and update
        the verdict by ``decide`` with the current verdict as ``previous``."""
        at = as_of or self.watermark
        if at is not None:
            self.advance(at, policy.min_age_days)
        self.verdict = decide(self.estimate(prior, policy), policy, self.verdict)
        return self.verdict

    # -- reads --------------------------------------------------------------
    def estimate(self, prior: Prior, policy: ScoringPolicy) -> Estimate:
        return estimate(self.mature, prior, policy)

    def view(self, prior: Prior, policy: ScoringPolicy) -> SegmentView:
        """The segment as the scorer sees it, with the stored verdict."""
        est = self.estimate(prior, policy)
        return SegmentView(self.segment, est.mature_leads, est.value_per_lead, est.profit_per_lead, self.verdict)

    @property
    def young_leads(self) -> int:
        return sum(c.leads for c in self.cohorts.values())

    # -- serialization ------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "mature": self.mature.to_dict(),
            "cohorts": {day: self.cohorts[day].to_dict() for day in sorted(self.cohorts)},
            "matured_through": self.matured_through.isoformat() if self.matured_through else None,
            "since": self.since.isoformat() if self.since else None,
            "watermark": self.watermark.isoformat() if self.watermark else None,
            "verdict": self.verdict,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SegmentStats:
        through = data.get("matured_through")
        return cls(
            segment=str(data["segment"]),
            mature=SegmentCounts.from_dict(data.get("mature") or {}),
            cohorts={str(d): SegmentCounts.from_dict(c) for d, c in (data.get("cohorts") or {}).items()},
            matured_through=date.fromisoformat(through) if through else None,
            since=_parse_instant(data.get("since")),
            watermark=_parse_instant(data.get("watermark")),
            verdict=data.get("verdict"),
        )

    # -- internals ----------------------------------------------------------
    def _see(self, at: datetime) -> None:
        if self.watermark is None or at > self.watermark:
            self.watermark = at

    def _add(self, created_at: datetime, delta: SegmentCounts) -> None:
        day = _day(created_at)
        if self.matured_through is not None and day <= self.matured_through:
            self.mature = self.mature + delta
        else:
            key = day.isoformat()
            self.cohorts[key] = self.cohorts.get(key, SegmentCounts()) + delta


# -- the segments file ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentRow:
    view: SegmentView
    counts: SegmentCounts  # mature leads' evidence, to seed SegmentStats


# row field -> (SegmentCounts field, whole number)
_COUNT_FIELDS = {
    "mature_leads": ("leads", True),
    "contacted": ("contacted", True),
    "connected": ("connected", True),
    "opportunities": ("opportunities", True),
    "attempts": ("attempts", True),
    "opportunity_value": ("value", False),
    "opportunity_value_sq": ("value_sq", False),
    "acquisition_cost": ("acquisition_cost", False),
}


def _number(row: Mapping[str, Any], name: str, where: str, *, integer: bool = False) -> float | int | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SegmentTableError(f"{where}.{name}: must be a finite number, got {value!r}")
    if integer:
        if value != int(value) or value < 0:
            raise SegmentTableError(f"{where}.{name}: must be a whole number >= 0, got {value!r}")
        return int(value)
    return float(value)


def _row(data: Any, index: int) -> SegmentRow:
    where = f"[{index}]"
    if not isinstance(data, Mapping):
        raise SegmentTableError(f"{where}: each row must be an object")
    segment = data.get("segment")
    if not isinstance(segment, str) or not segment:
        raise SegmentTableError(f"{where}.segment: must be a non-empty string")
    profitable = data.get("profitable")
    if profitable is not None and not isinstance(profitable, bool):
        raise SegmentTableError(f"{where}.profitable: must be true, false or null")
    leads = _number(data, "leads", where, integer=True)
    counts: dict[str, Any] = {}
    for name, (attr, whole) in _COUNT_FIELDS.items():
        value = _number(data, name, where, integer=whole)
        if value is not None:
            counts[attr] = value
    counts.setdefault("leads", leads or 0)
    value_per_lead = _number(data, "value_per_lead", where)
    if "value" not in counts:
        # A hand-written row: take its value per lead as the evidence.
        counts["value"] = (value_per_lead or 0.0) * counts["leads"]
    if "value_sq" not in counts and counts.get("opportunities"):
        # Without the squares, assume equal deals.
        counts["value_sq"] = counts["value"] ** 2 / counts["opportunities"]
    seg_counts = SegmentCounts(**counts)
    if value_per_lead is None:
        value_per_lead = seg_counts.value / seg_counts.leads if seg_counts.leads else 0.0
    view = SegmentView(
        segment=segment,
        mature_leads=seg_counts.leads,
        value_per_lead=value_per_lead,
        profit_per_lead=_number(data, "profit_per_lead", where),
        profitable=profitable,
    )
    return SegmentRow(view, seg_counts)


class SegmentTable:
    """The segments file written by ``python -m stream analyze --output``:
    per segment its value per lead and verdict, plus the overall prior.

    Rows need ``segment``; ``profitable`` (true/false/null) and
    ``value_per_lead`` are read when present, so a hand-edited file can force a
    verdict. The prior is the overall evidence of all rows, with the
    ``typical_deal_size`` the rows carry (``analyze`` writes the same in each).
    """

    def __init__(
        self, rows: Iterable[SegmentRow], as_of: datetime | None = None, typical_deal_size: float | None = None
    ) -> None:
        self._rows: dict[str, SegmentRow] = {}
        for row in rows:
            if row.view.segment in self._rows:
                raise SegmentTableError(f"segment {row.view.segment!r} appears twice")
            self._rows[row.view.segment] = row
        self.as_of = as_of
        self.prior = Prior.from_counts((self._rows[s].counts for s in sorted(self._rows)), typical_deal_size)

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]]) -> SegmentTable:
        rows = list(rows)
        parsed = [_row(row, i) for i, row in enumerate(rows)]
        as_of = typical = None
        for i, row in enumerate(rows):
            size = _number(row, "typical_deal_size", f"[{i}]")
            if size is not None and typical is None:
                typical = size
            if row.get("as_of") is not None:
                try:
                    at = _parse_instant(row["as_of"])
                except ValueError as exc:
                    raise SegmentTableError(f"[{i}].as_of: {exc}") from None
                if at is not None and (as_of is None or at > as_of):
                    as_of = at
        return cls(parsed, as_of, typical)

    @classmethod
    def from_json(cls, data: bytes | str) -> SegmentTable:
        try:
            rows = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise SegmentTableError(f"not valid JSON: {exc}") from None
        if not isinstance(rows, list):
            raise SegmentTableError("must be a JSON list of segment rows")
        return cls.from_rows(rows)

    @classmethod
    def load(cls, path: str | Path) -> SegmentTable:
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SegmentTableError(f"{path}: {exc.strerror or exc}") from None
        try:
            return cls.from_json(data)
        except SegmentTableError as exc:
            raise SegmentTableError(f"{path}: {exc}") from None

    def get(self, segment: str) -> SegmentView | None:
        row = self._rows.get(segment)
        return row.view if row else None

    def stats(self, segment: str) -> SegmentStats:
        """Fresh live stats for ``segment``, seeded with this table's evidence and
        verdict (an empty, undecided segment when the table does not know it)."""
        row = self._rows.get(segment)
        if row is None:
            return SegmentStats(segment, since=self.as_of)
        return SegmentStats(segment, mature=row.counts, since=self.as_of, verdict=row.view.profitable)

    def __contains__(self, segment: object) -> bool:
        return segment in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._rows))

    def __len__(self) -> int:
        return len(self._rows)
