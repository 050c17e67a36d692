"""Marketing shortfall events from the group's day buckets."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from schemas.outputs import SlaBreach
from schemas.reps import RepRecord
from stream.domain.marketing import RepChecks
from stream.domain.rep_stats import RepDay
from stream.policy import parse_policy
from stream.service.calendars import CalendarBook
from stream.service.marketing import MarketingShortfalls, workable_in_month

POLICY = parse_policy(
    {
        "marketing": {"workable_leads_per_rep_per_month": 220, "pacing_warning_ratio": 0.8, "check_at": "10:00"},
        "calendar": {"timezone": "America/New_York", "holidays_country": "US"},
        "reps": [{"rep_id": "r-1", "team": "east"}, {"rep_id": "r-2"}, {"rep_id": "r-off", "active": False}],
    }
)
NOW = datetime(2026, 12, 3, 10, 30, tzinfo=ZoneInfo("America/New_York")).timestamp()


def buckets(rep: str, per_day: dict[int, int]) -> list[RepDay]:
    return [RepDay(rep=rep, day=date(2026, 12, d), workable_leads=n) for d, n in per_day.items()]


def test_roster_reps_behind_pace_get_one_warning_keyed_by_rep():
    checks = MarketingShortfalls(POLICY, CalendarBook(POLICY))
    due = checks.due(NOW, {})
    assert sorted(rep for rep, _ in due) == ["r-1", "r-2"]  # not the inactive rep
    data = buckets("r-1", {1: 5, 2: 5}) + buckets("r-2", {1: 20, 2: 10}) + buckets("r-9", {1: 50})
    events = {}
    for rep, check in due:
        verdict, event = checks.evaluate(rep, check, data, NOW)
        events[rep] = (verdict, event)
    verdict, event = events["r-1"]
    assert verdict.workable_leads == 10 and verdict.pacing_ratio == 1 / 3 and event is not None
    verdict, event = events["r-2"]
    assert verdict.workable_leads == 30 and verdict.pacing_ratio == 1.0 and event is None
    _, event = checks.evaluate("r-1", due[0][1], buckets("r-1", {1: 5}), NOW)
    breach = SlaBreach.model_validate(event)
    assert breach.breach_type == "marketing_shortfall" and breach.stage == "warning"
    assert breach.lead_id is None and breach.rep_id == "r-1"
    assert event["policy"]["target"] == 220 and event["policy"]["expected_to_date"] == 30.0
    assert event["clock_started_at"] == "2026-12-01T05:00:00Z" and event["deadline"] == "2026-12-03T15:00:00Z"


def test_a_target_changed_mid_month_applies_from_the_next_check():
    calendars = CalendarBook(POLICY)
    checks = MarketingShortfalls(POLICY, calendars)
    (check,) = [c for rep, c in checks.due(NOW, {}) if rep == "r-1"]
    assert checks.evaluate("r-1", check, buckets("r-1", {1: 25}), NOW)[1] is None  # 25 of 30 expected
    calendars.update_rep(RepRecord(rep_id="r-1", monthly_workable_target=440))
    verdict, event = checks.evaluate("r-1", check, buckets("r-1", {1: 25}), NOW)
    assert verdict.target == 440 and event is not None


def test_nothing_is_due_twice_a_day():
    checks = MarketingShortfalls(POLICY, CalendarBook(POLICY))
    done = {"r-1": RepChecks(date(2026, 12, 3), "2026-12"), "r-2": RepChecks(date(2026, 12, 3), "2026-12")}
    assert checks.due(NOW, done) == []
    assert workable_in_month(buckets("r-1", {1: 1, 2: 2}), "r-1", date(2026, 12, 31)) == 3
