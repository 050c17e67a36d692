"""The weekly report's figures from day buckets: ISO weeks, the marketing
SLA's expected count for a week, teams, totals and week-over-week change."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from stream.domain.calendar import BusinessCalendar
from stream.domain.rep_stats import UNASSIGNED, RepDay
from stream.report.markdown import render_markdown
from stream.report.weekly import NO_TEAM, Week, build_weekly, last_complete_week, response_histogram, week_expected

WEEKDAYS = BusinessCalendar.build(timezone="UTC", working_hours="09:00-17:00",
                                  working_days=["mon", "tue", "wed", "thu", "fri"])


def test_weeks_are_iso_weeks():
    week = Week.parse("2026-W10")
    assert (week.first, week.last, str(week)) == (date(2026, 3, 2), date(2026, 3, 8), "2026-W10")
    assert str(week.previous()) == "2026-W09" and str(Week.parse("2026-W01").previous()) == "2025-W52"
    assert Week.of(date(2026, 1, 1)) == Week(2026, 1)
    for bad in ("2026-10", "2026-W54", "W10"):
        with pytest.raises(ValueError, match="week"):
            Week.parse(bad)


def test_the_last_complete_week_is_the_one_before_as_of():
    sunday_night = datetime(2026, 3, 8, 23, 0, tzinfo=timezone.utc).timestamp()
    monday = datetime(2026, 3, 9, 1, 0, tzinfo=timezone.utc).timestamp()
    assert str(last_complete_week(sunday_night, timezone.utc)) == "2026-W09"
    assert str(last_complete_week(monday, timezone.utc)) == "2026-W10"


def test_the_week_expects_the_target_of_its_business_days_in_their_month():
    # March 2026 has 22 weekdays; W10 holds 5 of them
    assert week_expected(WEEKDAYS, 22, Week.parse("2026-W10")) == pytest.approx(5)
    # W14 (Mon 30 March .. Sun 5 April): 2 days of March (22) and 3 of April (22)
    assert week_expected(WEEKDAYS, 44, Week.parse("2026-W14")) == pytest.approx(2 * 44 / 22 + 3 * 44 / 22)
    assert week_expected(WEEKDAYS, None, Week.parse("2026-W14")) is None


def test_reps_teams_and_the_total():
    week = Week.parse("2026-W10")
    buckets = [
        RepDay("r1", date(2026, 3, 2), workable_leads=2, attempts=3, connected_leads=1, clocks=2,
               clocks_within_sla=1, clocks_missed=1, response_seconds=(60.0, 600.0)),
        RepDay("r1", date(2026, 2, 25), workable_leads=1, clocks=1, clocks_within_sla=1, response_seconds=(30.0,)),
        RepDay("r2", date(2026, 3, 8), workable_leads=1, attempts=1, breaches=(("first_response", "breach", 1),)),
        RepDay(UNASSIGNED, date(2026, 3, 3), workable_leads=1, routing_seconds=(900.0,)),
        RepDay("r1", date(2026, 3, 9), workable_leads=5),  # the week after: left out
    ]
    teams = {"r1": "east", "r2": None}
    report = build_weekly(buckets, week, datetime(2026, 3, 9, tzinfo=timezone.utc).timestamp(),
                          calendar_for=lambda rep: WEEKDAYS, target_for=lambda rep: 22, team_for=teams.get,
                          reps=["r1", "r2", "r3"])
    assert [r.name for r in report.reps] == ["r1", "r2", "r3", UNASSIGNED]
    assert [r.name for r in report.teams] == ["east", NO_TEAM, UNASSIGNED]
    r1 = report.reps[0].figures()
    assert (r1["workable"], r1["expected"], r1["pacing"]) == (2, pytest.approx(5), pytest.approx(0.4))
    assert (r1["within_sla"], r1["response_median"], r1["connect_rate"]) == (0.5, 330.0, 0.5)
    assert report.reps[0].change("workable") == 1 and report.reps[0].change("within_sla") == -0.5
    assert report.teams[1].members == ("r2", "r3") and report.teams[1].expected == pytest.approx(10)
    total = report.total.figures()
    assert (total["workable"], total["expected"], total["breaches"]) == (4, pytest.approx(15),
                                                                         {"first_response": {"breach": 1}})
    assert total["routing_median"] == 900.0
    assert report.response_histogram[:3] == [("< 1 min", 0), ("1–5 min", 1), ("5–15 min", 1)]
    assert report.response_histogram[3] == ("15–60 min", 0) and sum(n for _, n in report.response_histogram) == 2
    text = render_markdown(report)
    assert "**SMarketing weekly report 2026-W10**" in text and "| east | 2 | 5.0 | 0.40 |" in text
    assert "Segments: not available" in text


def test_the_histogram_bins_are_half_open():
    assert [n for _, n in response_histogram([0, 59.9, 60, 300, 86_400, 10**7])] == [2, 1, 1, 0, 0, 0, 2]
