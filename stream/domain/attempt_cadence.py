"""The attempt cadence (Sales SLA): enough attempts, often enough.

From the start of a lead's first response clock, the lead must get
``required`` call attempts within ``window_days`` business days, unless it is
connected earlier; otherwise a breach falls due at the window's end. With
``max_gap_hours`` > 0, each attempt until the lead is connected (or has its
required attempts) must be followed by the next within that many business
hours. Instants are UTC epoch seconds; nothing here reads the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol

from schemas.types import format_timestamp
from stream.domain.obligations import Obligation, breach_event_id
from stream.domain.response_clock import to_datetime

ATTEMPT_CADENCE = "attempt_cadence"
DAY_SECONDS = 86_400


class DayCalendar(Protocol):
    @property
    def zone(self) -> Any: ...

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]: ...


def _business_days(calendar: DayCalendar, start: datetime, horizon: datetime) -> Iterator[tuple[date, datetime]]:
    """(local date, instant its open time ends) of each business day from
    ``start`` on: a business day is a local date with open time left."""
    zone = calendar.zone
    current: date | None = None
    current_end: datetime | None = None
    for a, b in calendar.open_intervals(start, horizon):
        while a < b:
            local = a.astimezone(zone)
            midnight = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=zone)
            piece_end = min(b, midnight)
            if local.date() != current:
                if current is not None:
                    yield current, current_end
                current = local.date()
            current_end = piece_end
            a = piece_end
    if current is not None:
        yield current, current_end


def window_end(started_at: float, window_days: int, calendar: DayCalendar | None) -> float:
    """When the attempt window closes: the end of the ``window_days``-th
    business day counted from the clock start (its own day included when
    open time is left on it), in the calendar's time zone. Plain time
    (``calendar`` None): ``window_days`` × 24 h."""
    if calendar is None:
        return started_at + window_days * DAY_SECONDS
    return _calendar_window_end(started_at, window_days, calendar)


# Every event re-derives a lead's cadence, and a lead's clock start never
# changes: the same question comes again and again (backtest replays 1M).
@lru_cache(maxsize=1 << 16)
def _calendar_window_end(started_at: float, window_days: int, calendar: DayCalendar) -> float:
    start = to_datetime(started_at)
    horizon = start + timedelta(days=window_days * 14 + 60)
    n = 0
    for _, end in _business_days(calendar, start, horizon):
        n += 1
        if n == window_days:
            return end.timestamp()
    raise ValueError(f"fewer than {window_days} business days within {horizon.date()}")


def obligations(
    lead_id: str,
    started_at: float | None,
    calls: Sequence[tuple[float, str]],
    *,
    required: int,
    window_days: int,
    max_gap_hours: float,
    calendar: DayCalendar | None,
    add_business_seconds,
    policy: dict[str, Any],
) -> list[Obligation]:
    """The cadence obligations of a lead. ``calls`` are (instant, outcome)
    sorted by instant; ``add_business_seconds(start, seconds)`` counts SLA time."""
    if started_at is None:
        return []
    end = window_end(started_at, window_days, calendar)
    in_window = [(at, outcome) for at, outcome in calls if started_at <= at <= end]
    connected = any(outcome == "connected" for _, outcome in in_window)
    met = connected or len(in_window) >= required
    out = [
        Obligation(
            event_id=breach_event_id(lead_id, ATTEMPT_CADENCE, started_at, "breach"),
            breach_type=ATTEMPT_CADENCE,
            stage="breach",
            started_at=started_at,
            due=end,
            breached=not met,
            policy={**policy, "attempts_in_window": len(in_window)},
        )
    ]
    if max_gap_hours > 0:
        for i, (at, outcome) in enumerate(in_window):
            if outcome == "connected" or i + 1 >= required:
                break
            due = add_business_seconds(at, max_gap_hours * 3600)
            if due > end:
                break  # the window's own breach covers it
            following = in_window[i + 1][0] if i + 1 < len(in_window) else None
            out.append(
                Obligation(
                    event_id=breach_event_id(lead_id, ATTEMPT_CADENCE, at, "gap"),
                    breach_type=ATTEMPT_CADENCE,
                    stage="breach",
                    started_at=started_at,
                    due=due,
                    breached=following is None or following > due,
                    policy={**policy, "gap_after_attempt_at": format_timestamp(to_datetime(at))},
                )
            )
    return out
