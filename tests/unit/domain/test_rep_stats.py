"""Per-rep SLA statistics: day buckets, windows, rates, quantiles and pacing."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from stream.domain.calendar import BusinessCalendar
from stream.domain.rep_stats import (
    UNASSIGNED,
    BreachFact,
    ClockOutcome,
    RepDay,
    WorkableLead,
    bucket_leads,
    business_days_in_month,
    is_business_day,
    lead_day,
    marketing_pacing,
    rep_report,
    standing_breaches,
    window_days,
    window_stats,
)
from stream.policy import parse_policy
from stream.service.backtest import active_reps, target_for

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
UTC = timezone.utc


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def weekdays(**extra) -> BusinessCalendar:
    return BusinessCalendar.build(
        timezone=extra.pop("timezone", "America/New_York"),
        working_hours="09:00-17:00",
        working_days=["mon", "tue", "wed", "thu", "fri"],
        **extra,
    )


def a_lead(lead_id: str = "L1", rep: str = "r1", workable_at: str = "2026-11-20T15:00:00+00:00", **kw) -> WorkableLead:
    return WorkableLead(lead_id=lead_id, rep=rep, workable_at=at(workable_at), **kw)


# -------------------------------------------------------------------- one lead's bucket


def test_a_lead_counts_what_happened_since_it_became_workable_up_to_as_of():
    start = at("2026-11-20T15:00:00+00:00")
    lead = a_lead(
        calls=(
            (start - 60, "connected"),
            (start + 100, "no_answer"),
            (start + 500, "connected"),
            (start + 9000, "busy"),
        ),
        opportunities=(start + 600,),
        clocks=(ClockOutcome(start, start + 300, start + 100, 100.0),),
        breaches=(BreachFact("attempt_cadence", "breach", start + 864_000),),
    )
    day = lead_day(lead, as_of=start + 1000, zone=UTC)
    assert day.rep == "r1" and day.day == date(2026, 11, 20)
    # the call before it became workable and the one after as_of are left out
    assert (day.workable_leads, day.attempts, day.connected_leads, day.pipeline_leads) == (1, 2, 1, 1)
    assert (day.clocks, day.clocks_within_sla, day.clocks_missed) == (1, 1, 0)
    assert day.response_seconds == (100.0,)
    assert day.breaches == ()  # the cadence breach is not due yet


def test_a_connect_before_it_became_workable_is_not_a_connect():
    start = at("2026-11-20T15:00:00+00:00")
    day = lead_day(a_lead(calls=((start - 1, "connected"),)), start + 10, UTC)
    assert (day.attempts, day.connected_leads) == (0, 0)


@pytest.mark.parametrize(
    ("stopped", "as_of", "within", "missed", "responses"),
    [
        (100.0, 1000.0, 1, 0, (100.0,)),  # in time
        (300.0, 1000.0, 1, 0, (300.0,)),  # exactly at the deadline is in time
        (400.0, 1000.0, 0, 1, (400.0,)),  # late, but still a response time
        (None, 1000.0, 0, 1, ()),  # never called, past due
        (None, 200.0, 0, 0, ()),  # running and not due yet: pending
        (400.0, 350.0, 0, 1, ()),  # stopped after as_of: open at as_of, and due
        (250.0, 200.0, 0, 0, ()),  # stopped after as_of, not due at as_of: pending
    ],
)
def test_a_clock_is_within_missed_or_pending(stopped, as_of, within, missed, responses):
    t0 = at("2026-11-20T15:00:00+00:00")
    clock = ClockOutcome(t0, t0 + 300, None if stopped is None else t0 + stopped, stopped)
    day = lead_day(a_lead(clocks=(clock,)), t0 + as_of, UTC)
    counts = (day.clocks, day.clocks_within_sla, day.clocks_missed, day.response_seconds)
    assert counts == (1, within, missed, responses)


def test_a_lead_workable_after_as_of_is_not_counted():
    lead = a_lead(workable_at="2026-11-20T15:00:00+00:00")
    assert lead_day(lead, at("2026-11-20T14:59:59+00:00"), UTC) is None


def test_the_day_is_the_reps_local_date():
    lead = a_lead(workable_at="2026-11-20T03:00:00+00:00")  # 22:00 on the 19th in New York
    assert lead_day(lead, at("2026-11-21T00:00:00+00:00"), NEW_YORK).day == date(2026, 11, 19)
    assert lead_day(lead, at("2026-11-21T00:00:00+00:00"), BERLIN).day == date(2026, 11, 20)


def test_breaches_count_once_due_and_retracted_ones_do_not_stand():
    values = [
        {"event_id": "b1", "breach_type": "first_response", "stage": "warning", "lead_id": "L1",
         "deadline": "2026-11-20T15:04:00Z"},
        {"event_id": "b2", "breach_type": "first_response", "stage": "breach", "lead_id": "L1",
         "deadline": "2026-11-20T15:05:00Z"},
        {"event_id": "r2", "breach_type": "first_response", "stage": "retracted", "retracts": "b2", "lead_id": "L1",
         "deadline": "2026-11-20T15:05:00Z"},
        {"event_id": "m1", "breach_type": "marketing_shortfall", "stage": "warning", "lead_id": None,
         "deadline": "2026-11-20T15:05:00Z"},
        {"event_id": "b1", "breach_type": "first_response", "stage": "warning", "lead_id": "L1",
         "deadline": "2026-11-20T15:04:00Z"},  # a repeat (at-least-once) counts once
    ]
    standing = standing_breaches(values)
    assert standing == {"L1": [BreachFact("first_response", "warning", at("2026-11-20T15:04:00+00:00"))]}
    day = lead_day(a_lead(breaches=tuple(standing["L1"])), at("2026-11-20T16:00:00+00:00"), UTC)
    assert day.breaches == (("first_response", "warning", 1),)


# -------------------------------------------------------------------- buckets


def test_buckets_add_and_subtract_and_survive_a_round_trip():
    t0 = at("2026-11-20T15:00:00+00:00")
    one = lead_day(
        a_lead("L1", calls=((t0 + 10, "connected"),), clocks=(ClockOutcome(t0, t0 + 300, t0 + 10, 10.0),),
               breaches=(BreachFact("first_response", "warning", t0 + 240),)),
        t0 + 1000, UTC,
    )
    two = lead_day(
        a_lead("L2", clocks=(ClockOutcome(t0, t0 + 300, t0 + 400, 400.0),),
               breaches=(BreachFact("first_response", "warning", t0 + 240),
                         BreachFact("first_response", "breach", t0 + 300))),
        t0 + 1000, UTC,
    )
    both = one.plus(two)
    assert (both.workable_leads, both.attempts, both.connected_leads, both.clocks) == (2, 1, 1, 2)
    assert both.response_seconds == (10.0, 400.0)
    assert both.breaches == (("first_response", "breach", 1), ("first_response", "warning", 2))
    assert both.minus(two) == one
    assert RepDay.from_dict(both.to_dict()) == both
    with pytest.raises(ValueError):
        one.minus(two)


def test_bucket_leads_sums_per_rep_and_local_day():
    leads = [
        a_lead("L1", "r1", "2026-11-20T15:00:00+00:00"),
        a_lead("L2", "r1", "2026-11-20T20:00:00+00:00"),
        a_lead("L3", "r1", "2026-11-21T04:00:00+00:00"),  # still the 20th in New York
        a_lead("L4", UNASSIGNED, "2026-11-21T04:00:00+00:00"),
    ]
    calendars = {"r1": weekdays(), None: weekdays(timezone="Europe/Berlin")}
    buckets = bucket_leads(leads, at("2026-11-22T00:00:00+00:00"), calendars.get)
    assert {k: v.workable_leads for k, v in buckets.items()} == {
        ("r1", date(2026, 11, 20)): 3,
        (UNASSIGNED, date(2026, 11, 21)): 1,
    }


# -------------------------------------------------------------------- windows


@pytest.mark.parametrize(
    ("window", "as_of", "zone", "first", "last"),
    [
        ("7d", "2026-11-20T12:00:00+00:00", UTC, date(2026, 11, 14), date(2026, 11, 20)),
        ("30d", "2026-11-20T12:00:00+00:00", UTC, date(2026, 10, 22), date(2026, 11, 20)),
        ("mtd", "2026-11-20T12:00:00+00:00", UTC, date(2026, 11, 1), date(2026, 11, 20)),
        ("all", "2026-11-20T12:00:00+00:00", UTC, None, date(2026, 11, 20)),
        # 03:00 UTC on December 1st is still November 30th in New York, but December in Berlin
        ("mtd", "2026-12-01T03:00:00+00:00", NEW_YORK, date(2026, 11, 1), date(2026, 11, 30)),
        ("mtd", "2026-12-01T03:00:00+00:00", BERLIN, date(2026, 12, 1), date(2026, 12, 1)),
        ("7d", "2026-12-01T03:00:00+00:00", NEW_YORK, date(2026, 11, 24), date(2026, 11, 30)),
    ],
)
def test_windows_are_whole_local_days_ending_on_the_day_of_as_of(window, as_of, zone, first, last):
    assert window_days(window, at(as_of), zone) == (first, last)


def test_an_unknown_window_is_refused():
    with pytest.raises(ValueError, match="unknown window"):
        window_days("1y", 0.0, UTC)


def test_window_stats_keep_the_days_inside_the_window():
    days = [
        RepDay("r1", date(2026, 11, 13), workable_leads=1),  # 8 days before: outside 7d
        RepDay("r1", date(2026, 11, 14), workable_leads=2),  # first day of 7d
        RepDay("r1", date(2026, 11, 20), workable_leads=4),
        RepDay("r1", date(2026, 10, 31), workable_leads=8),  # inside 30d, before mtd
        RepDay("r1", date(2026, 10, 21), workable_leads=16),  # outside 30d
        RepDay("r2", date(2026, 11, 20), workable_leads=32),  # another rep
    ]
    as_of = at("2026-11-20T23:00:00+00:00")
    counts = {w: window_stats(days, "r1", w, as_of, UTC).workable_leads for w in ("7d", "30d", "mtd", "all")}
    assert counts == {"7d": 6, "30d": 15, "mtd": 7, "all": 31}


def test_rates_are_per_workable_lead_and_none_without_leads():
    day = RepDay(
        "r1", date(2026, 11, 20), workable_leads=4, attempts=10, connected_leads=1, pipeline_leads=2,
        clocks=5, clocks_within_sla=3, clocks_missed=1,
    )
    s = window_stats([day], "r1", "7d", at("2026-11-20T23:00:00+00:00"), UTC)
    assert (s.attempts_per_workable_lead, s.connect_rate, s.pipeline_conversion_rate) == (2.5, 0.25, 0.5)
    assert s.first_response_within_sla_ratio == 0.75  # the pending clock is left out
    assert s.clocks_pending == 1
    empty = window_stats([], "r1", "7d", 0.0, UTC)
    assert (empty.workable_leads, empty.connect_rate, empty.first_response_within_sla_ratio) == (0, None, None)
    assert empty.response_seconds_median is None and empty.response_seconds_p95 is None


@pytest.mark.parametrize(
    ("values", "median", "p95"),
    [
        ((42.0,), 42.0, 42.0),
        ((10.0, 20.0), 15.0, 19.5),
        (tuple(float(v) for v in range(1, 21)), 10.5, 19.05),  # 1 + 0.95 × 19
        (tuple(float(v) for v in range(1, 102)), 51.0, 96.0),
    ],
)
def test_median_and_p95_interpolate_between_closest_ranks(values, median, p95):
    s = window_stats([RepDay("r1", date(2026, 11, 20), response_seconds=values)], "r1", "all", at("2026-11-21"), UTC)
    assert s.response_seconds_median == pytest.approx(median)
    assert s.response_seconds_p95 == pytest.approx(p95)


# -------------------------------------------------------------------- marketing SLA


def test_business_days_skip_weekends_public_holidays_and_closed_dates():
    # November 2026: 21 weekdays; US Veterans Day (11th) and Thanksgiving (26th)
    assert len(business_days_in_month(weekdays(), 2026, 11)) == 21
    us = weekdays(holidays_country="US")
    days = business_days_in_month(us, 2026, 11)
    assert len(days) == 19 and date(2026, 11, 11) not in days and date(2026, 11, 26) not in days
    assert not is_business_day(weekdays(holidays=["2026-11-20"]), date(2026, 11, 20))
    assert not is_business_day(weekdays(), date(2026, 11, 21))  # a Saturday


def test_a_day_wholly_out_of_office_is_not_a_business_day():
    away = [(datetime(2026, 11, 19, 17, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))]
    calendar = weekdays(out_of_office=away)
    assert is_business_day(calendar, date(2026, 11, 19))  # away from 12:00 local: the morning is open
    assert not is_business_day(calendar, date(2026, 11, 20))


def test_pacing_compares_the_month_so_far_with_the_share_of_business_days_elapsed():
    calendar = weekdays(holidays=["2026-11-11"])  # 20 business days in November 2026
    # As of Friday the 20th (local): 2-6, 9-13 without the 11th, 16-20 = 14 business days
    pacing = marketing_pacing("r1", 56, 100, calendar, at("2026-11-20T22:00:00+00:00"))
    assert (pacing.month, pacing.business_days_elapsed, pacing.business_days_in_month) == ("2026-11", 14, 20)
    assert pacing.expected_to_date == pytest.approx(70.0)
    assert pacing.pacing_ratio == pytest.approx(0.8)
    # 03:00 UTC on December 1st is still November 30th (a Monday) in New York
    end = marketing_pacing("r1", 100, 100, calendar, at("2026-12-01T03:00:00+00:00"))
    assert (end.month, end.business_days_elapsed, end.pacing_ratio) == ("2026-11", 20, 1.0)


def test_pacing_is_undefined_without_a_target_or_before_the_first_business_day():
    calendar = weekdays()
    assert marketing_pacing("r1", 5, None, calendar, at("2026-11-20T22:00:00+00:00")).pacing_ratio is None
    assert marketing_pacing("r1", 5, 0, calendar, at("2026-11-20T22:00:00+00:00")).pacing_ratio is None
    # Sunday November 1st: no business day has elapsed yet
    first = marketing_pacing("r1", 2, 100, calendar, at("2026-11-01T18:00:00+00:00"))
    assert first.business_days_elapsed == 0 and first.pacing_ratio is None


def test_the_target_comes_from_the_reps_own_entry_else_the_marketing_default():
    policy = parse_policy(
        {
            "marketing": {"workable_leads_per_rep_per_month": 100},
            "reps": [
                {"rep_id": "r-own", "monthly_workable_target": 40},
                {"rep_id": "r-default"},
                {"rep_id": "r-gone", "active": False, "monthly_workable_target": 10},
            ],
        }
    )
    target = target_for(policy)
    assert [target(r) for r in ("r-own", "r-default", "r-gone", "r-unknown")] == [40, 100, None, 100]
    assert active_reps(policy) == ["r-default", "r-own"]


# -------------------------------------------------------------------- the report


def test_the_report_lists_roster_reps_without_leads_and_gives_unassigned_no_target():
    calendar = weekdays(holidays=["2026-11-11"])
    as_of = at("2026-11-20T22:00:00+00:00")
    leads = [a_lead(f"L{i}", "r1", "2026-11-18T15:00:00+00:00") for i in range(7)]
    leads.append(a_lead("U1", UNASSIGNED, "2026-11-18T15:00:00+00:00"))
    buckets = bucket_leads(leads, as_of, lambda rep: calendar)
    report = rep_report(buckets.values(), as_of, lambda rep: calendar, {"r1": 10, "r2": 20}.get, reps=["r2"])
    assert [s.rep for s in report.windows["7d"]] == ["r1", "r2", UNASSIGNED]
    assert [s.workable_leads for s in report.windows["mtd"]] == [7, 0, 1]
    assert report.totals["mtd"].workable_leads == 8
    marketing = {m.rep: m for m in report.marketing}
    assert marketing["r1"].pacing_ratio == pytest.approx(7 / 7.0)  # 10 × 14/20 = 7 expected
    assert marketing["r2"].pacing_ratio == 0.0
    assert marketing[UNASSIGNED].target is None and marketing[UNASSIGNED].pacing_ratio is None
    assert report.marketing_total["target"] == 30
    data = report.to_dict()
    assert data["as_of"] == "2026-11-20T22:00:00Z"
    assert set(data["windows"]) == {"7d", "30d", "mtd", "all"}


# -------------------------------------------------------------------- routing / rep delay split


def test_the_delay_split_counts_once_assigned_and_once_called_by_as_of():
    start = at("2026-11-20T15:00:00+00:00")
    lead = a_lead(
        rep=UNASSIGNED,
        calls=((start + 1900, "no_answer"),),
        assigned_at=start + 1800,
        routing_seconds=1800.0,
        first_call_at=start + 1900,
        rep_delay_seconds=100.0,
    )
    assert lead_day(lead, start + 60, UTC).routing_seconds == ()  # not assigned yet
    halfway = lead_day(lead, start + 1850, UTC)
    assert (halfway.routing_seconds, halfway.rep_delay_seconds) == ((1800.0,), ())
    done = lead_day(lead, start + 4000, UTC)
    assert (done.routing_seconds, done.rep_delay_seconds) == ((1800.0,), (100.0,))


def test_summarize_lead_splits_in_sla_time():
    """Created unowned at 16:30 on a Friday (New York), assigned at 17:30,
    called Monday 09:10: routing took 30 business minutes, the rep 10."""
    from stream.domain.lead import LeadState
    from stream.domain.rep_stats import summarize_lead
    from stream.domain.response_clock import OwnedTime

    calendar = weekdays()
    created = at("2026-11-20T16:30:00-05:00")
    state = LeadState("L1", created_at=created, owners=[[at("2026-11-20T17:30:00-05:00"), "r1"]],
                      calls=[[at("2026-11-23T09:10:00-05:00"), "r1", "no_answer", "a1"]])

    class Rules:
        def workable_at(self, state):
            return created

        def clocks(self, state):
            return []

        def sla_time(self, state):
            return OwnedTime(((0.0, calendar), (state.owners[0][0], calendar)))

    lead = summarize_lead(state, Rules(), 300)
    assert lead.rep == UNASSIGNED and lead.assigned_at == at("2026-11-20T17:30:00-05:00")
    assert (lead.routing_seconds, lead.rep_delay_seconds) == (1800.0, 600.0)


def test_buckets_add_and_subtract_the_split_and_read_old_dicts():
    day = date(2026, 11, 20)
    a = RepDay("r1", day, workable_leads=1, routing_seconds=(0.0,), rep_delay_seconds=(60.0,))
    b = RepDay("r1", day, workable_leads=1, routing_seconds=(30.0,), rep_delay_seconds=(20.0,))
    both = a.plus(b)
    assert (both.routing_seconds, both.rep_delay_seconds) == ((0.0, 30.0), (20.0, 60.0))
    assert both.minus(b) == a
    assert RepDay.from_dict(both.to_dict()) == both
    stored_before = {k: v for k, v in a.to_dict().items() if k not in ("routing_seconds", "rep_delay_seconds")}
    assert RepDay.from_dict(stored_before) == RepDay("r1", day, workable_leads=1)
    with pytest.raises(ValueError, match="rep_delay_seconds"):
        a.minus(RepDay("r1", day, rep_delay_seconds=(5.0,)))
