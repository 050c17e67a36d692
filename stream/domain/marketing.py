"""The Marketing SLA's checks (SPEC §5 "Marketing SLA"), as pure functions.

Each rep is checked on its own calendar (time zone, working days, holidays):

* a **daily pacing check** on each business day at ``marketing.check_at``
  local time: pacing = workable leads of the month so far ÷ (target ×
  elapsed business days ÷ business days in the month); below
  ``marketing.pacing_warning_ratio`` it is a ``warning``. A check that was
  missed (no worker ran at that time) is made at the next look on the same
  local day; at most one per rep per business day.
* a **month-end check** once the rep's local month is over: fewer workable
  leads than the target is a ``breach``. Only a month the rep was watched in
  (a daily check was made that month) is judged, so a first deployment does
  not judge the month before it.

Instants are UTC epoch seconds; days and months are the rep's local ones.
Nothing here reads the wall clock.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from stream.domain.rep_stats import DayCalendar, business_days_progress, expected_to_date, is_business_day

SHORTFALL = "marketing_shortfall"


def parse_check_at(text: str) -> time:
    """``"10:00"`` -> 10:00 (the policy has validated the shape)."""
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True, slots=True)
class RepChecks:
    """What was checked for a rep so far (stored, so a restarted or new
    leader worker does not check again): the last local day of a daily check,
    the month it fell in, and the last month judged at its end."""

    last_day: date | None = None
    watched_month: str | None = None
    month_end: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "watched_month": self.watched_month,
            "month_end": self.month_end,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RepChecks:
        last = data.get("last_day")
        return cls(date.fromisoformat(last) if last else None, data.get("watched_month"), data.get("month_end"))


@dataclass(frozen=True, slots=True)
class Check:
    """A check due for a rep: ``daily`` on local ``day``, or ``month_end``
    of the month holding ``day``; ``due`` is the instant it fell due."""

    kind: str  # daily | month_end
    day: date
    due: float


def _local(day: date, at: time, calendar: DayCalendar) -> float:
    return datetime.combine(day, at, tzinfo=calendar.zone).timestamp()


def checks_due(now: float, calendar: DayCalendar, check_at: time, done: RepChecks) -> list[Check]:
    """The checks due for a rep at ``now`` given what was ``done``."""
    local = datetime.fromtimestamp(now, tz=timezone.utc).astimezone(calendar.zone)
    today = local.date()
    out = []
    first_of_month = today.replace(day=1)
    last_month_day = first_of_month - timedelta(days=1)
    if done.watched_month == month_key(last_month_day) and done.month_end != month_key(last_month_day):
        out.append(Check("month_end", last_month_day, _local(first_of_month, time(0), calendar)))
    if local.time() >= check_at and done.last_day != today and is_business_day(calendar, today):
        out.append(Check("daily", today, _local(today, check_at, calendar)))
    return out


def after(done: RepChecks, check: Check) -> RepChecks:
    """What is done once ``check`` is."""
    if check.kind == "daily":
        return RepChecks(check.day, month_key(check.day), done.month_end)
    return RepChecks(done.last_day, done.watched_month, month_key(check.day))


@dataclass(frozen=True, slots=True)
class Verdict:
    """A check's figures and whether they fall short."""

    stage: str | None  # warning | breach | None (on pace)
    workable_leads: int
    target: int
    expected_to_date: float | None
    pacing_ratio: float | None
    business_days_elapsed: int
    business_days_in_month: int


def judge(
    check: Check, workable_leads: int, target: int, calendar: DayCalendar, pacing_warning_ratio: float
) -> Verdict:
    """The daily check warns below the pacing ratio; the month-end check
    breaches below target. A month without a business day, or a target of 0,
    never falls short."""
    elapsed, in_month = business_days_progress(calendar, check.day)
    expected = expected_to_date(target, elapsed, in_month)
    pacing = workable_leads / expected if expected else None
    if check.kind == "daily":
        short = pacing is not None and pacing < pacing_warning_ratio
        stage = "warning" if short else None
    else:
        stage = "breach" if target > 0 and in_month > 0 and workable_leads < target else None
    return Verdict(stage, workable_leads, target, expected, pacing, elapsed, in_month)


def shortfall_event_id(rep_id: str, check: Check) -> str:
    """Deterministic: the same shortfall of the same rep on the same day
    (daily) or month (month end) always has the same id."""
    period = check.day.isoformat() if check.kind == "daily" else month_key(check.day)
    text = f"{SHORTFALL}|{rep_id}|{check.kind}|{period}"
    return "mk-" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def month_start(day: date, calendar: DayCalendar) -> float:
    """The instant the rep's local month holding ``day`` began."""
    return _local(day.replace(day=1), time(0), calendar)
