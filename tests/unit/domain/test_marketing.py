"""The Marketing SLA's daily pacing check and month-end check, on each rep's
own calendar."""

from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import pytest

from stream.domain.calendar import BusinessCalendar
from stream.domain.marketing import Check, RepChecks, after, checks_due, judge, month_key, shortfall_event_id

NEW_YORK = BusinessCalendar.build(
    timezone="America/New_York", working_hours="09:00-17:00",
    working_days=["mon", "tue", "wed", "thu", "fri"], holidays_country="US",
)
BERLIN = BusinessCalendar.build(
    timezone="Europe/Berlin", working_hours="09:00-17:00",
    working_days=["mon", "tue", "wed", "thu", "fri"], holidays_country="DE",
)
TEN = time(10, 0)


def at(text: str, zone: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


@pytest.mark.parametrize(
    "now, calendar, zone, done, expected",
    [
        # Tuesday 1 December, 09:59 in New York: not yet.
        ("2026-12-01T09:59", NEW_YORK, "America/New_York", RepChecks(), []),
        # 10:00: the day's check.
        ("2026-12-01T10:00", NEW_YORK, "America/New_York", RepChecks(), [("daily", date(2026, 12, 1))]),
        # Checked already today: nothing more.
        ("2026-12-01T16:00", NEW_YORK, "America/New_York", RepChecks(date(2026, 12, 1), "2026-12"), []),
        # A worker that starts at 15:00 checks at once.
        ("2026-12-02T15:00", NEW_YORK, "America/New_York", RepChecks(date(2026, 12, 1), "2026-12"), [("daily", date(2026, 12, 2))]),
        # Saturday: no business day, no check.
        ("2026-12-05T11:00", NEW_YORK, "America/New_York", RepChecks(), []),
        # Christmas is a holiday in both; Boxing Day only in Germany.
        ("2026-12-25T11:00", NEW_YORK, "America/New_York", RepChecks(), []),
        ("2026-12-28T11:00", NEW_YORK, "America/New_York", RepChecks(), [("daily", date(2026, 12, 28))]),
        ("2026-12-26T11:00", BERLIN, "Europe/Berlin", RepChecks(), []),
        # 04:30 in New York on 1 December is already 10:30 in Berlin.
        ("2026-12-01T10:30", BERLIN, "Europe/Berlin", RepChecks(), [("daily", date(2026, 12, 1))]),
        # The month watched has ended: its month-end check, then the day's.
        ("2027-01-04T10:05", NEW_YORK, "America/New_York", RepChecks(date(2026, 12, 31), "2026-12"),
         [("month_end", date(2026, 12, 31)), ("daily", date(2027, 1, 4))]),
        # A month nobody watched (a first deployment) is not judged.
        ("2027-01-04T08:00", NEW_YORK, "America/New_York", RepChecks(), []),
        # Judged already.
        ("2027-01-04T08:00", NEW_YORK, "America/New_York", RepChecks(date(2026, 12, 31), "2026-12", "2026-12"), []),
    ],
)
def test_which_checks_are_due(now, calendar, zone, done, expected):
    due = checks_due(at(now, zone), calendar, TEN, done)
    assert [(c.kind, c.day) for c in due] == expected


def test_month_end_falls_due_at_local_midnight_across_dst():
    # 1 April 2026 00:00 in Berlin is summer time (UTC+2).
    done = RepChecks(date(2026, 3, 31), "2026-03")
    (check,) = checks_due(at("2026-04-01T00:30", "Europe/Berlin"), BERLIN, TEN, done)
    assert check.kind == "month_end" and check.due == datetime(2026, 3, 31, 22, 0, tzinfo=timezone.utc).timestamp()


def test_after_a_check_the_day_and_month_are_done():
    done = after(RepChecks(), Check("daily", date(2026, 12, 1), 0.0))
    assert done == RepChecks(date(2026, 12, 1), "2026-12", None)
    done = after(done, Check("month_end", date(2026, 12, 31), 0.0))
    assert done.month_end == "2026-12" and RepChecks.from_dict(done.to_dict()) == done


def test_pacing_below_the_ratio_warns_and_a_month_below_target_breaches():
    # December 2026 in New York: 22 business days; the 3rd is the 3rd of them.
    daily = Check("daily", date(2026, 12, 3), 0.0)
    behind = judge(daily, workable_leads=10, target=220, calendar=NEW_YORK, pacing_warning_ratio=0.8)
    assert behind.expected_to_date == pytest.approx(30) and behind.pacing_ratio == pytest.approx(1 / 3)
    assert behind.stage == "warning"
    assert judge(daily, 24, 220, NEW_YORK, 0.8).stage is None  # 0.8 exactly is on pace
    month_end = Check("month_end", date(2026, 12, 31), 0.0)
    assert judge(month_end, 219, 220, NEW_YORK, 0.8).stage == "breach"
    assert judge(month_end, 220, 220, NEW_YORK, 0.8).stage is None
    assert judge(month_end, 0, 0, NEW_YORK, 0.8).stage is None  # no target, no shortfall


def test_shortfall_ids_are_deterministic_per_rep_and_day_or_month():
    a = shortfall_event_id("r-1", Check("daily", date(2026, 12, 1), 1.0))
    assert a == shortfall_event_id("r-1", Check("daily", date(2026, 12, 1), 2.0))
    assert a != shortfall_event_id("r-1", Check("daily", date(2026, 12, 2), 1.0))
    assert a != shortfall_event_id("r-2", Check("daily", date(2026, 12, 1), 1.0))
    assert month_key(date(2026, 12, 31)) == "2026-12"
