"""The weekly report's figures, from per-rep day buckets. Pure.

A week is an ISO week (Monday to Sunday). Like every per-rep table
(docs/backtest.md), it is a *cohort*: the leads that became workable on the
week's local days of their rep, with everything that happened to them up to
the report instant. Each rep, each team and the total get the week's
figures, the week before's (for the week-over-week change) and the workable
leads the marketing SLA expects in the week: the rep's monthly target spread
over the month's business days, summed over the week's business days (a
week across two months takes each day from its own month).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any

from stream.domain.rep_stats import (
    TOTAL,
    UNASSIGNED,
    DayCalendar,
    RepDay,
    WindowStats,
    business_days_in_month,
    is_business_day,
    local_day,
    merge_days,
    rep_calendar,
)

NO_TEAM = "no team"
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")

# First-response histogram: (upper bound in SLA seconds, label); the last is open.
RESPONSE_BINS: tuple[tuple[float, str], ...] = (
    (60, "< 1 min"),
    (300, "1–5 min"),
    (900, "5–15 min"),
    (3600, "15–60 min"),
    (4 * 3600, "1–4 h"),
    (24 * 3600, "4–24 h"),
    (float("inf"), "> 1 day"),
)


@dataclass(frozen=True, slots=True, order=True)
class Week:
    """An ISO week, e.g. ``2026-W05``."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """``YYYY-Www``; ValueError names what is wrong."""
        match = _WEEK.match(text.strip())
        if not match:
            raise ValueError(f"week {text!r}: expected YYYY-Www, e.g. 2026-W05")
        year, number = int(match[1]), int(match[2])
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ValueError(f"week {text!r}: {year} has no ISO week {number}") from None
        return cls(year, number)

    @classmethod
    def of(cls, day: date) -> Week:
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @property
    def first(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def last(self) -> date:
        return self.first + timedelta(days=6)

    def days(self) -> list[date]:
        first = self.first
        return [first + timedelta(days=i) for i in range(7)]

    def previous(self) -> Week:
        return Week.of(self.first - timedelta(days=7))

    def __str__(self) -> str:
        return f"{self.year:04d}-W{self.number:02d}"


def last_complete_week(as_of: float, zone: tzinfo) -> Week:
    """The week before the one holding ``as_of``'s local date in ``zone``."""
    return Week.of(local_day(as_of, zone)).previous()


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the report: a rep, a team or the total."""

    name: str
    kind: str  # "rep", "team" or "total"
    team: str | None  # a rep's team
    week: RepDay  # the week's cohort
    previous: RepDay  # the week before's
    expected: float | None  # workable leads the marketing SLA expects in the week
    members: tuple[str, ...] = ()  # a team's reps

    def stats(self, previous: bool = False) -> WindowStats:
        totals = self.previous if previous else self.week
        return WindowStats(self.name, "week", None, totals.day, totals)

    def figures(self, previous: bool = False) -> dict[str, Any]:
        """The numbers every renderer shows, by field name (None: no data)."""
        s = self.stats(previous)
        t = s.totals
        expected = None if previous else self.expected
        return {
            "workable": t.workable_leads,
            "expected": expected,
            "pacing": t.workable_leads / expected if expected else None,
            "attempts_per_lead": s.attempts_per_workable_lead,
            "connect_rate": s.connect_rate,
            "pipeline_rate": s.pipeline_conversion_rate,
            "response_median": s.response_seconds_median,
            "response_p95": s.response_seconds_p95,
            "within_sla": s.first_response_within_sla_ratio,
            "clocks_decided": t.clocks_within_sla + t.clocks_missed,
            "routing_median": s.routing_seconds_median,
            "routing_p95": s.routing_seconds_p95,
            "rep_delay_median": s.rep_delay_seconds_median,
            "rep_delay_p95": s.rep_delay_seconds_p95,
            "breaches": s.breaches(),
        }

    def change(self, name: str) -> float | None:
        """This week's figure ``name`` minus the week before's (None when either is missing)."""
        now, before = self.figures()[name], self.figures(previous=True)[name]
        if now is None or before is None:
            return None
        return now - before


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    week: Week
    as_of: float  # the instant the figures stand at
    source: str  # where the buckets came from, for people
    deadline_seconds: float
    business_hours: bool
    pacing_warning_ratio: float
    reps: list[Row]
    teams: list[Row]
    total: Row
    response_histogram: list[tuple[str, int]]  # the week's first responses by SLA time
    segments: list[dict[str, Any]] | None = None  # analyze's rows; None: not available
    segments_note: str = ""
    notes: list[str] = field(default_factory=list)  # caveats (e.g. a worker that did not answer)


def week_expected(calendar: DayCalendar, target: int | None, week: Week) -> float | None:
    """Workable leads expected in ``week`` of a monthly ``target`` on ``calendar``:
    target ÷ business days of the month, for each business day of the week."""
    if target is None:
        return None
    in_month: dict[tuple[int, int], int] = {}
    expected = 0.0
    for day in week.days():
        if not is_business_day(calendar, day):
            continue
        key = (day.year, day.month)
        if key not in in_month:
            in_month[key] = len(business_days_in_month(calendar, day.year, day.month))
        expected += target / in_month[key]
    return expected


def response_histogram(response_seconds: Sequence[float]) -> list[tuple[str, int]]:
    counts = [0] * len(RESPONSE_BINS)
    for seconds in response_seconds:
        for i, (upper, _) in enumerate(RESPONSE_BINS):
            if seconds < upper:
                counts[i] += 1
                break
    return [(label, n) for (_, label), n in zip(RESPONSE_BINS, counts)]


def _in_week(buckets: Iterable[RepDay], week: Week) -> dict[str, list[RepDay]]:
    first, last = week.first, week.last
    out: dict[str, list[RepDay]] = {}
    for bucket in buckets:
        if first <= bucket.day <= last:
            out.setdefault(bucket.rep, []).append(bucket)
    return out


def _sum(parts: Iterable[RepDay], name: str, day: date) -> RepDay:
    return merge_days(sorted(parts, key=lambda d: d.day), name, day)


def _sum_expected(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def build_weekly(
    buckets: Iterable[RepDay],
    week: Week,
    as_of: float,
    *,
    calendar_for: Callable[[str | None], DayCalendar],
    target_for: Callable[[str], int | None],
    team_for: Callable[[str], str | None],
    reps: Iterable[str] = (),
    source: str = "",
    deadline_seconds: float = 300,
    business_hours: bool = True,
    pacing_warning_ratio: float = 0.8,
    segments: list[Mapping[str, Any]] | None = None,
    segments_note: str = "",
    notes: Sequence[str] = (),
) -> WeeklyReport:
    """The report of ``week`` from day buckets (any weeks; others are ignored).

    Reps listed are those with a lead in either week plus ``reps`` (the active
    roster, so that a rep with nothing shows zeros). ``team_for(rep)`` gives a
    rep's team (None: ``no team``); ``unassigned`` is a team of its own.
    ``target_for(rep)`` is the monthly workable-lead target (None: none).
    """
    buckets = list(buckets)
    previous_week = week.previous()
    this, before = _in_week(buckets, week), _in_week(buckets, previous_week)
    names = sorted(set(this) | set(before) | set(reps))
    rep_rows = []
    for name in names:
        team = UNASSIGNED if name == UNASSIGNED else team_for(name)
        target = None if name == UNASSIGNED else target_for(name)
        calendar = rep_calendar(calendar_for, name)
        rep_rows.append(
            Row(
                name=name,
                kind="rep",
                team=team,
                week=_sum(this.get(name, ()), name, week.last),
                previous=_sum(before.get(name, ()), name, previous_week.last),
                expected=week_expected(calendar, target, week),
            )
        )
    by_team: dict[str, list[Row]] = {}
    for row in rep_rows:
        by_team.setdefault(row.team or NO_TEAM, []).append(row)
    team_rows = [_group(team, "team", members, week, previous_week) for team, members in sorted(by_team.items())]
    total = _group(TOTAL, "total", rep_rows, week, previous_week)
    return WeeklyReport(
        week=week,
        as_of=as_of,
        source=source,
        deadline_seconds=deadline_seconds,
        business_hours=business_hours,
        pacing_warning_ratio=pacing_warning_ratio,
        reps=rep_rows,
        teams=team_rows,
        total=total,
        response_histogram=response_histogram(total.week.response_seconds),
        segments=None if segments is None else [dict(row) for row in segments],
        segments_note=segments_note,
        notes=list(notes),
    )


def _group(name: str, kind: str, members: Sequence[Row], week: Week, previous_week: Week) -> Row:
    return Row(
        name=name,
        kind=kind,
        team=None,
        week=_sum((m.week for m in members), name, week.last),
        previous=_sum((m.previous for m in members), name, previous_week.last),
        expected=_sum_expected(m.expected for m in members),
        members=tuple(m.name for m in members),
    )
