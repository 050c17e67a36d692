"""Per-rep SLA statistics (SPEC §5 "Per-rep rolling tables"), as pure values.

Cohort semantics: a window holds the leads that *became workable* inside it,
with everything that happened to them since (calls, connects, opportunities,
response clocks, breaches), up to the report instant ``as_of``. A lead belongs
to the rep that owned it when it became workable (``unassigned`` when nobody
did), on that rep's *local* calendar day.

The unit of storage is a :class:`RepDay`: the counts of one rep's cohort of one
local day. Windows are whole local days in the rep's time zone, the day of
``as_of`` included:

* ``7d``  — ``as_of``'s local date and the 6 days before it,
* ``30d`` — ``as_of``'s local date and the 29 days before it,
* ``mtd`` — from the 1st of ``as_of``'s local month,
* ``all`` — every day up to ``as_of``.

A lead's contribution to its day (:func:`lead_day`) is a function of its facts
and ``as_of`` only, so a live table can keep day buckets and, when a lead
changes, subtract its old contribution and add its new one
(:meth:`RepDay.minus`, :meth:`RepDay.plus`); :func:`window_stats` then merges
the buckets of a window. ``backtest`` builds its report the same way.

Units: instants are UTC epoch seconds (floats); response times are SLA-clock
seconds (business seconds when ``response.business_hours`` is on); ratios are
0..1 or None when their denominator is 0. Nothing here reads the wall clock
or imports Kafka, Faust or Prometheus.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Any, Protocol

UNASSIGNED = "unassigned"
TOTAL = "total"
WINDOWS: tuple[str, ...] = ("7d", "30d", "mtd", "all")
_WINDOW_DAYS = {"7d": 7, "30d": 30}
RETRACTED = "retracted"


# --------------------------------------------------------------------------- facts per lead


@dataclass(frozen=True, slots=True)
class ClockOutcome:
    """One first-response clock of a lead.

    ``due_at`` is the instant the response fell due (start + deadline in SLA
    time); ``stopped_at`` the first call at or after the start (None while
    uncontacted); ``response_seconds`` the SLA-clock seconds from start to stop.
    """

    started_at: float
    due_at: float
    stopped_at: float | None = None
    response_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class BreachFact:
    """A breach event that stands (not retracted): its type, stage and due instant."""

    breach_type: str
    stage: str
    due_at: float


@dataclass(frozen=True, slots=True)
class WorkableLead:
    """What the per-rep tables need to know of one workable lead.

    ``rep`` is the owner when the lead became workable, or ``unassigned``.
    ``calls`` are (instant, outcome) and ``opportunities`` instants, every one
    known, sorted; :func:`lead_day` keeps those inside [``workable_at``, ``as_of``].
    The routing / rep delay split, in SLA-clock seconds: ``routing_seconds``
    from creation to the first owner, known from ``assigned_at``;
    ``rep_delay_seconds`` from that assignment to the first call at or after
    it, known from ``first_call_at`` (None: not assigned / not called).
    """

    lead_id: str
    rep: str
    workable_at: float
    calls: tuple[tuple[float, str], ...] = ()
    opportunities: tuple[float, ...] = ()
    clocks: tuple[ClockOutcome, ...] = ()
    breaches: tuple[BreachFact, ...] = ()
    assigned_at: float | None = None
    routing_seconds: float | None = None
    first_call_at: float | None = None
    rep_delay_seconds: float | None = None


class _Time(Protocol):
    def add(self, start: float, seconds: float) -> float: ...

    def diff(self, start: float, end: float) -> float: ...


class _Clock(Protocol):
    started_at: float
    stopped_at: float | None


class LeadRules(Protocol):
    """The clock derivation of ``stream.service.leads.LeadProcessor``."""

    def workable_at(self, state: Any) -> float | None: ...

    def clocks(self, state: Any) -> Sequence[_Clock]: ...

    def sla_time(self, state: Any) -> _Time: ...


def instant(value: Any) -> float:
    """Epoch seconds of a number or an RFC 3339 text."""
    if isinstance(value, (int, float)):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def standing_breaches(values: Iterable[Mapping[str, Any]]) -> dict[str, list[BreachFact]]:
    """Breach events (``sla-breaches`` values, in emission order) that were not
    retracted, per ``lead_id``. Events without a lead (marketing shortfalls)
    are left out."""
    kept: dict[str, Mapping[str, Any]] = {}
    retracted: set[str] = set()
    for value in values:
        if value.get("stage") == RETRACTED:
            retracted.add(value.get("retracts"))
        elif value.get("lead_id") is not None:
            kept.setdefault(value["event_id"], value)
    out: dict[str, list[BreachFact]] = {}
    for event_id, value in kept.items():
        if event_id in retracted:
            continue
        out.setdefault(value["lead_id"], []).append(
            BreachFact(value["breach_type"], value["stage"], instant(value["deadline"]))
        )
    return out


def summarize_lead(
    state: Any, rules: LeadRules, deadline_seconds: float, breaches: Iterable[BreachFact] = ()
) -> WorkableLead | None:
    """The :class:`WorkableLead` of a ``LeadState`` (None when it never became
    workable). ``rules`` derives workable time and clocks exactly as the
    worker does; ``deadline_seconds`` is ``response.deadline_seconds``."""
    workable_at = rules.workable_at(state)
    if workable_at is None:
        return None
    sla = rules.sla_time(state)
    clocks = []
    for clock in rules.clocks(state):
        stopped = clock.stopped_at
        clocks.append(
            ClockOutcome(
                started_at=clock.started_at,
                due_at=sla.add(clock.started_at, deadline_seconds),
                stopped_at=stopped,
                response_seconds=None if stopped is None else sla.diff(clock.started_at, stopped),
            )
        )
    owner = state.owner_at(workable_at)
    assigned_at = routing = first_call = rep_delay = None
    if state.created_at is not None and state.owners:
        # An owner given before the creation (events out of order) counts from the creation.
        assigned_at = max(state.owners[0][0], state.created_at)
        # The live worker summarizes a lead at every change: spare the calendar
        # arithmetic where the answer is known (owned from creation; a first
        # clock started at the assignment already measured the first call).
        routing = 0.0 if assigned_at == state.created_at else sla.diff(state.created_at, assigned_at)
        first_call = next((c[0] for c in state.calls if c[0] >= assigned_at), None)
        if first_call is not None:
            first = clocks[0] if clocks else None
            if first is not None and first.started_at == assigned_at and first.stopped_at == first_call:
                rep_delay = first.response_seconds
            else:
                rep_delay = sla.diff(assigned_at, first_call)
    return WorkableLead(
        lead_id=state.lead_id,
        rep=owner if owner is not None else UNASSIGNED,
        workable_at=workable_at,
        calls=tuple((c[0], c[2]) for c in state.calls),
        opportunities=tuple(o[0] for o in state.opportunities),
        clocks=tuple(clocks),
        breaches=tuple(sorted(breaches, key=lambda b: (b.due_at, b.breach_type, b.stage))),
        assigned_at=assigned_at,
        routing_seconds=routing,
        first_call_at=first_call,
        rep_delay_seconds=rep_delay,
    )


# --------------------------------------------------------------------------- day buckets

BreachCounts = tuple[tuple[str, str, int], ...]  # sorted (breach_type, stage, count)


def _count_breaches(pairs: Iterable[tuple[str, str]]) -> BreachCounts:
    counts = Counter(pairs)
    return tuple(sorted((t, s, n) for (t, s), n in counts.items() if n))


def _merge_counts(a: BreachCounts, b: BreachCounts, sign: int = 1) -> BreachCounts:
    counts: Counter[tuple[str, str]] = Counter({(t, s): n for t, s, n in a})
    for t, s, n in b:
        counts[(t, s)] += sign * n
    return tuple(sorted((t, s, n) for (t, s), n in counts.items() if n))


@dataclass(frozen=True, slots=True)
class RepDay:
    """The counts of the leads that became workable for ``rep`` on local date ``day``.

    ``workable_leads``   leads in the cohort.
    ``attempts``         their call attempts (any outcome) since they became workable.
    ``connected_leads``  leads with at least one ``connected`` call since then.
    ``pipeline_leads``   leads with at least one ``opportunity-created`` since then.
    ``clocks``           first-response clocks started.
    ``clocks_within_sla`` clocks stopped at or before their due instant.
    ``clocks_missed``    clocks past their due instant without such a call
                         (stopped late, or still open once due).
    ``response_seconds`` SLA-clock seconds of every stopped clock, sorted
                         (late ones included: this is where median and p95 come from).
    ``breaches``         standing breach events, as sorted (type, stage, count).
    ``routing_seconds``  SLA-clock seconds from each lead's creation to its
                         first owner (0 when created with one), sorted.
    ``rep_delay_seconds`` SLA-clock seconds from each lead's first owner to
                         the first call at or after it, sorted. Together they
                         make up the SLA time from creation to first call.

    Clocks neither within nor missed are running and not yet due.
    """

    rep: str
    day: date
    workable_leads: int = 0
    attempts: int = 0
    connected_leads: int = 0
    pipeline_leads: int = 0
    clocks: int = 0
    clocks_within_sla: int = 0
    clocks_missed: int = 0
    response_seconds: tuple[float, ...] = ()
    breaches: BreachCounts = ()
    routing_seconds: tuple[float, ...] = ()
    rep_delay_seconds: tuple[float, ...] = ()

    def plus(self, other: RepDay) -> RepDay:
        """Both buckets' counts (kept under this bucket's rep and day)."""
        return RepDay(
            self.rep,
            self.day,
            self.workable_leads + other.workable_leads,
            self.attempts + other.attempts,
            self.connected_leads + other.connected_leads,
            self.pipeline_leads + other.pipeline_leads,
            self.clocks + other.clocks,
            self.clocks_within_sla + other.clocks_within_sla,
            self.clocks_missed + other.clocks_missed,
            tuple(sorted(self.response_seconds + other.response_seconds)),
            _merge_counts(self.breaches, other.breaches),
            tuple(sorted(self.routing_seconds + other.routing_seconds)),
            tuple(sorted(self.rep_delay_seconds + other.rep_delay_seconds)),
        )

    def minus(self, other: RepDay) -> RepDay:
        """This bucket without ``other``'s contribution (``other`` must be part of it)."""
        return RepDay(
            self.rep,
            self.day,
            self.workable_leads - other.workable_leads,
            self.attempts - other.attempts,
            self.connected_leads - other.connected_leads,
            self.pipeline_leads - other.pipeline_leads,
            self.clocks - other.clocks,
            self.clocks_within_sla - other.clocks_within_sla,
            self.clocks_missed - other.clocks_missed,
            _without(self.response_seconds, other.response_seconds, "response_seconds"),
            _merge_counts(self.breaches, other.breaches, -1),
            _without(self.routing_seconds, other.routing_seconds, "routing_seconds"),
            _without(self.rep_delay_seconds, other.rep_delay_seconds, "rep_delay_seconds"),
        )

    @property
    def empty(self) -> bool:
        return self.workable_leads == 0 and self.clocks == 0 and not self.breaches

    def to_dict(self) -> dict[str, Any]:
        """JSON types, for a changelog-backed table (inverse: :meth:`from_dict`)."""
        return {
            "rep": self.rep,
            "day": self.day.isoformat(),
            "workable_leads": self.workable_leads,
            "attempts": self.attempts,
            "connected_leads": self.connected_leads,
            "pipeline_leads": self.pipeline_leads,
            "clocks": self.clocks,
            "clocks_within_sla": self.clocks_within_sla,
            "clocks_missed": self.clocks_missed,
            "response_seconds": list(self.response_seconds),
            "breaches": [list(b) for b in self.breaches],
            "routing_seconds": list(self.routing_seconds),
            "rep_delay_seconds": list(self.rep_delay_seconds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RepDay:
        return cls(
            rep=data["rep"],
            day=date.fromisoformat(data["day"]),
            workable_leads=data["workable_leads"],
            attempts=data["attempts"],
            connected_leads=data["connected_leads"],
            pipeline_leads=data["pipeline_leads"],
            clocks=data["clocks"],
            clocks_within_sla=data["clocks_within_sla"],
            clocks_missed=data["clocks_missed"],
            response_seconds=tuple(data["response_seconds"]),
            breaches=tuple((t, s, n) for t, s, n in data["breaches"]),
            # absent from buckets stored before the routing / rep delay split
            routing_seconds=tuple(data.get("routing_seconds", ())),
            rep_delay_seconds=tuple(data.get("rep_delay_seconds", ())),
        )


def _without(values: tuple[float, ...], part: tuple[float, ...], name: str) -> tuple[float, ...]:
    """Sorted ``values`` less the multiset ``part`` (which must be in it)."""
    if not part:
        return values
    remaining = Counter(values)
    remaining.subtract(part)
    if any(n < 0 for n in remaining.values()):
        raise ValueError(f"minus: {name} not part of this bucket")
    return tuple(sorted(remaining.elements()))


def delay_split(lead: WorkableLead, as_of: float) -> tuple[float | None, float | None]:
    """(routing seconds, rep delay seconds) of ``lead`` as known at ``as_of``:
    None while it was not assigned / not called by then."""
    if lead.assigned_at is None or lead.assigned_at > as_of:
        return None, None
    called = lead.first_call_at is not None and lead.first_call_at <= as_of
    return lead.routing_seconds, lead.rep_delay_seconds if called else None


def local_day(at: float, zone: tzinfo) -> date:
    """The local calendar date of instant ``at`` in ``zone``."""
    return datetime.fromtimestamp(at, tz=timezone.utc).astimezone(zone).date()


def lead_day(lead: WorkableLead, as_of: float, zone: tzinfo) -> RepDay | None:
    """One lead's contribution to its rep's day bucket as of instant ``as_of``
    (None when it became workable after ``as_of``). ``zone`` is the rep's time
    zone; the bucket's day is the local date the lead became workable.

    Only facts at or before ``as_of`` count: calls and opportunities from
    ``workable_at`` on, clocks started by then, breaches due by then. A clock
    stopped after ``as_of`` counts as still open at ``as_of``.
    """
    if lead.workable_at > as_of:
        return None
    routing, rep_delay = delay_split(lead, as_of)
    since = lead.workable_at
    calls = [outcome for at, outcome in lead.calls if since <= at <= as_of]
    within = missed = clocks = 0
    responses = []
    for clock in lead.clocks:
        if clock.started_at > as_of:
            continue
        clocks += 1
        stopped = clock.stopped_at if clock.stopped_at is not None and clock.stopped_at <= as_of else None
        if stopped is not None:
            responses.append(clock.response_seconds if clock.response_seconds is not None else 0.0)
            if stopped <= clock.due_at:
                within += 1
            else:
                missed += 1
        elif clock.due_at <= as_of:
            missed += 1
    return RepDay(
        rep=lead.rep,
        day=local_day(since, zone),
        workable_leads=1,
        attempts=len(calls),
        connected_leads=int("connected" in calls),
        pipeline_leads=int(any(since <= at <= as_of for at in lead.opportunities)),
        clocks=clocks,
        clocks_within_sla=within,
        clocks_missed=missed,
        response_seconds=tuple(sorted(responses)),
        breaches=_count_breaches((b.breach_type, b.stage) for b in lead.breaches if b.due_at <= as_of),
        routing_seconds=() if routing is None else (routing,),
        rep_delay_seconds=() if rep_delay is None else (rep_delay,),
    )


def rep_calendar(calendar_for: Callable[[str | None], DayCalendar], rep: str) -> DayCalendar:
    """``rep``'s calendar; ``unassigned`` gets ``calendar_for(None)`` (the default)."""
    return calendar_for(None if rep == UNASSIGNED else rep)


def bucket_leads(
    leads: Iterable[WorkableLead], as_of: float, calendar_for: Callable[[str | None], DayCalendar]
) -> dict[tuple[str, date], RepDay]:
    """Every lead's contribution as of ``as_of``, summed per (rep, local day).
    ``calendar_for(rep)`` gives the rep's calendar, whose time zone draws the
    days (None for ``unassigned``: the default calendar)."""
    buckets: dict[tuple[str, date], RepDay] = {}
    for lead in leads:
        part = lead_day(lead, as_of, rep_calendar(calendar_for, lead.rep).zone)
        if part is None:
            continue
        key = (part.rep, part.day)
        buckets[key] = buckets[key].plus(part) if key in buckets else part
    return buckets


# --------------------------------------------------------------------------- windows


def window_days(window: str, as_of: float, zone: tzinfo) -> tuple[date | None, date]:
    """The first and last local dates of ``window`` ending at ``as_of`` in
    ``zone`` (first is None for ``all``). Both ends included."""
    last = local_day(as_of, zone)
    return window_first_day(window, last), last


def window_first_day(window: str, last: date) -> date | None:
    """The first local date of ``window`` whose last date is ``last`` (None for ``all``)."""
    if window == "all":
        return None
    if window == "mtd":
        return last.replace(day=1)
    if window in _WINDOW_DAYS:
        return last - timedelta(days=_WINDOW_DAYS[window] - 1)
    raise ValueError(f"unknown window {window!r} (use {', '.join(WINDOWS)})")


def quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (NumPy's default) of sorted
    ``values`` (q = 0.5 or a whole percent); None for no values."""
    return _quantile(values, q)


def _quantile(values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (NumPy's default) of sorted ``values``."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    if q == 0.5:
        return statistics.median(values)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(q * 100) - 1]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class WindowStats:
    """A rep's cohort statistics over one window (see the module docstring).

    Rates are per workable lead; ``first_response_within_sla_ratio`` is
    clocks within SLA ÷ clocks decided (within + missed) — a clock still
    running and not yet due is neither. Response seconds are SLA-clock seconds.
    """

    rep: str
    window: str
    first_day: date | None
    last_day: date
    totals: RepDay

    @property
    def workable_leads(self) -> int:
        return self.totals.workable_leads

    @property
    def attempts_per_workable_lead(self) -> float | None:
        return _ratio(self.totals.attempts, self.totals.workable_leads)

    @property
    def connect_rate(self) -> float | None:
        return _ratio(self.totals.connected_leads, self.totals.workable_leads)

    @property
    def pipeline_conversion_rate(self) -> float | None:
        return _ratio(self.totals.pipeline_leads, self.totals.workable_leads)

    @property
    def clocks_pending(self) -> int:
        t = self.totals
        return t.clocks - t.clocks_within_sla - t.clocks_missed

    @property
    def first_response_within_sla_ratio(self) -> float | None:
        t = self.totals
        return _ratio(t.clocks_within_sla, t.clocks_within_sla + t.clocks_missed)

    @property
    def response_seconds_median(self) -> float | None:
        return _quantile(self.totals.response_seconds, 0.5)

    @property
    def response_seconds_p95(self) -> float | None:
        return _quantile(self.totals.response_seconds, 0.95)

    # The routing / rep delay split (wall-clock seconds; not in to_dict, whose
    # fields are the backtest's and the live table's published JSON).
    @property
    def routing_seconds_median(self) -> float | None:
        return _quantile(self.totals.routing_seconds, 0.5)

    @property
    def routing_seconds_p95(self) -> float | None:
        return _quantile(self.totals.routing_seconds, 0.95)

    @property
    def rep_delay_seconds_median(self) -> float | None:
        return _quantile(self.totals.rep_delay_seconds, 0.5)

    @property
    def rep_delay_seconds_p95(self) -> float | None:
        return _quantile(self.totals.rep_delay_seconds, 0.95)

    def breaches(self) -> dict[str, dict[str, int]]:
        """Standing breach events by type, then stage."""
        out: dict[str, dict[str, int]] = {}
        for breach_type, stage, n in self.totals.breaches:
            out.setdefault(breach_type, {})[stage] = n
        return out

    def to_dict(self) -> dict[str, Any]:
        t = self.totals
        return {
            "rep": self.rep,
            "window": self.window,
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat(),
            "workable_leads": t.workable_leads,
            "attempts": t.attempts,
            "attempts_per_workable_lead": self.attempts_per_workable_lead,
            "connected_leads": t.connected_leads,
            "connect_rate": self.connect_rate,
            "pipeline_leads": t.pipeline_leads,
            "pipeline_conversion_rate": self.pipeline_conversion_rate,
            "clocks": t.clocks,
            "clocks_within_sla": t.clocks_within_sla,
            "clocks_missed": t.clocks_missed,
            "clocks_pending": self.clocks_pending,
            "first_response_within_sla_ratio": self.first_response_within_sla_ratio,
            "responses": len(t.response_seconds),
            "response_seconds_median": self.response_seconds_median,
            "response_seconds_p95": self.response_seconds_p95,
            "breaches": self.breaches(),
        }


def merge_days(days: Iterable[RepDay], rep: str, day: date) -> RepDay:
    """The sum of ``days``, labelled ``rep`` / ``day``."""
    total = RepDay(rep, day)
    for bucket in days:
        total = total.plus(bucket)
    return total


def window_stats(days: Iterable[RepDay], rep: str, window: str, as_of: float, zone: tzinfo) -> WindowStats:
    """``rep``'s statistics over ``window`` ending at ``as_of``, from its day
    buckets (buckets of other reps, and days outside the window, are skipped).
    ``zone`` is the rep's time zone: windows are its local days."""
    first, last = window_days(window, as_of, zone)
    chosen = [d for d in days if d.rep == rep and d.day <= last and (first is None or d.day >= first)]
    chosen.sort(key=lambda d: d.day)
    return WindowStats(rep, window, first, last, merge_days(chosen, rep, last))


def total_stats(stats: Iterable[WindowStats], window: str) -> WindowStats:
    """Every rep's window summed (each rep's window in its own time zone)."""
    stats = list(stats)
    last = max((s.last_day for s in stats), default=date.min)
    firsts = [s.first_day for s in stats if s.first_day is not None]
    first = min(firsts) if firsts and len(firsts) == len(stats) else None
    return WindowStats(TOTAL, window, first, last, merge_days((s.totals for s in stats), TOTAL, last))


# --------------------------------------------------------------------------- marketing SLA


class DayCalendar(Protocol):
    """What pacing needs of ``stream.domain.calendar.BusinessCalendar``."""

    @property
    def zone(self) -> tzinfo: ...

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]: ...


def is_business_day(calendar: DayCalendar, day: date) -> bool:
    """True when ``calendar`` has open time on local date ``day`` (working day,
    not a holiday, not wholly out of office)."""
    zone = calendar.zone
    start = datetime.combine(day, time(0), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return next(iter(calendar.open_intervals(start, end)), None) is not None


def business_days_in_month(calendar: DayCalendar, year: int, month: int) -> list[date]:
    """The business days of a calendar month, in order (local dates)."""
    day = date(year, month, 1)
    out = []
    while day.month == month:
        if is_business_day(calendar, day):
            out.append(day)
        day += timedelta(days=1)
    return out


@dataclass(frozen=True, slots=True)
class MarketingPacing:
    """The marketing SLA of one rep for the month holding ``as_of`` (rep's time zone).

    ``pacing_ratio = workable_leads ÷ (target × business_days_elapsed ÷
    business_days_in_month)``, where elapsed business days count the month's
    business days up to and including ``as_of``'s local date. None when there
    is no target, the target is 0, or no business day has elapsed yet.
    """

    rep: str
    month: str  # YYYY-MM
    workable_leads: int  # became workable this month while owned by the rep
    target: int | None
    business_days_elapsed: int
    business_days_in_month: int

    @property
    def expected_to_date(self) -> float | None:
        return expected_to_date(self.target or 0, self.business_days_elapsed, self.business_days_in_month)

    @property
    def pacing_ratio(self) -> float | None:
        expected = self.expected_to_date
        return self.workable_leads / expected if expected else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rep": self.rep,
            "month": self.month,
            "workable_leads": self.workable_leads,
            "target": self.target,
            "business_days_elapsed": self.business_days_elapsed,
            "business_days_in_month": self.business_days_in_month,
            "expected_to_date": self.expected_to_date,
            "pacing_ratio": self.pacing_ratio,
        }


def marketing_pacing(
    rep: str, workable_this_month: int, target: int | None, calendar: DayCalendar, as_of: float
) -> MarketingPacing:
    """``rep``'s pacing for the local month of ``as_of`` on its business ``calendar``."""
    today = local_day(as_of, calendar.zone)
    elapsed, in_month = business_days_progress(calendar, today)
    return MarketingPacing(
        rep=rep,
        month=f"{today.year:04d}-{today.month:02d}",
        workable_leads=workable_this_month,
        target=target,
        business_days_elapsed=elapsed,
        business_days_in_month=in_month,
    )


def business_days_progress(calendar: DayCalendar, today: date) -> tuple[int, int]:
    """(business days of ``today``'s month up to and including ``today``,
    business days in that month), on ``calendar``; ``today`` is a local date."""
    days = business_days_in_month(calendar, today.year, today.month)
    return sum(1 for d in days if d <= today), len(days)


def expected_to_date(target: int, elapsed: int, in_month: int) -> float | None:
    """The marketing SLA's workable leads expected by now: target × elapsed ÷ business days in the month."""
    if not target or not in_month:
        return None
    return target * elapsed / in_month


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True, slots=True)
class RepReport:
    """Every rep's statistics for every window, totals, and marketing pacing."""

    as_of: float
    windows: dict[str, list[WindowStats]]  # window -> one per rep, sorted by rep
    totals: dict[str, WindowStats]  # window -> all reps
    marketing: list[MarketingPacing] = field(default_factory=list)  # sorted by rep

    @property
    def marketing_total(self) -> dict[str, Any]:
        """Reps with a target: their workable leads, target and pacing summed."""
        with_target = [m for m in self.marketing if m.target]
        expected = sum(m.expected_to_date or 0.0 for m in with_target)
        actual = sum(m.workable_leads for m in with_target)
        return {
            "workable_leads": actual,
            "target": sum(m.target or 0 for m in with_target),
            "expected_to_date": expected,
            "pacing_ratio": actual / expected if expected else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": datetime.fromtimestamp(self.as_of, tz=timezone.utc).isoformat().replace("+00:00", "Z"),
            "windows": {
                w: {"reps": [s.to_dict() for s in self.windows[w]], "total": self.totals[w].to_dict()}
                for w in self.windows
            },
            "marketing": {"reps": [m.to_dict() for m in self.marketing], "total": self.marketing_total},
        }


def rep_report(
    buckets: Iterable[RepDay],
    as_of: float,
    calendar_for: Callable[[str | None], DayCalendar],
    target_for: Callable[[str], int | None],
    reps: Iterable[str] = (),
    windows: Sequence[str] = WINDOWS,
) -> RepReport:
    """The report as of ``as_of`` from day buckets.

    Reps listed are those with a bucket plus ``reps`` (e.g. the roster, so a
    rep with no lead shows zeros). ``calendar_for(rep)`` gives a rep's calendar
    (None for ``unassigned``): its time zone draws the windows, its business
    days the pacing. ``target_for(rep)`` is the monthly workable-lead target
    (None: no marketing SLA, as for ``unassigned``).
    """
    buckets = list(buckets)
    by_rep: dict[str, list[RepDay]] = {rep: [] for rep in reps}
    for bucket in buckets:
        by_rep.setdefault(bucket.rep, []).append(bucket)
    names = sorted(by_rep)
    per_window: dict[str, list[WindowStats]] = {}
    totals: dict[str, WindowStats] = {}
    marketing = []
    for window in windows:
        stats = []
        for rep in names:
            calendar = rep_calendar(calendar_for, rep)
            stats.append(window_stats(by_rep[rep], rep, window, as_of, calendar.zone))
        per_window[window] = stats
        totals[window] = total_stats(stats, window)
    for rep in names:
        calendar = rep_calendar(calendar_for, rep)
        month = window_stats(by_rep[rep], rep, "mtd", as_of, calendar.zone)
        target = None if rep == UNASSIGNED else target_for(rep)
        marketing.append(marketing_pacing(rep, month.workable_leads, target, calendar, as_of))
    return RepReport(as_of, per_window, totals, marketing)
