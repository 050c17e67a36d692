from datetime import datetime, timedelta, timezone

import pytest

from stream.domain.obligations import Obligation, breach_event_id, reconcile, retraction_event_id
from stream.domain.response_clock import PLAIN_TIME, OwnedTime, ResponseClock, derive_clocks, stage_dues


def test_no_clock_before_the_lead_is_workable():
    assert derive_clocks(None, [], [5.0]) == []


def test_a_clock_stops_at_the_first_call_at_or_after_its_start():
    assert derive_clocks(100.0, [], [50.0, 100.0, 200.0]) == [ResponseClock(100.0, 100.0)]
    assert derive_clocks(100.0, [], [50.0, 99.9]) == [ResponseClock(100.0, None)]


def test_a_reengaging_download_after_contact_starts_a_new_clock():
    clocks = derive_clocks(100.0, [150.0, 400.0, 450.0], [200.0, 500.0])
    # 150 came while the first clock was open: it does not move it.
    assert clocks == [ResponseClock(100.0, 200.0), ResponseClock(400.0, 500.0)]


def test_a_reengaging_download_after_the_last_call_leaves_an_open_clock():
    assert derive_clocks(0.0, [10.0], [5.0]) == [ResponseClock(0.0, 5.0), ResponseClock(10.0, None)]


def test_stages_fall_due_at_multiples_of_the_deadline():
    time = OwnedTime(((0.0, PLAIN_TIME),))
    dues = stage_dues(1000.0, 300, [(0.8, "warning"), (1.0, "breach"), (3.0, "escalation")], time.add)
    assert [(d.stage, d.due) for d in dues] == [("warning", 1240.0), ("breach", 1300.0), ("escalation", 1900.0)]


class Hours:
    """A toy calendar open from 09:00 to 17:00 UTC every day."""

    def _open(self, t: datetime) -> tuple[datetime, datetime]:
        day = t.replace(hour=9, minute=0, second=0, microsecond=0)
        return day, day.replace(hour=17)

    def add(self, start: datetime, seconds: float) -> datetime:
        t = start
        while True:
            a, b = self._open(t)
            if t < a:
                t = a
            if t >= b:
                t = a + timedelta(days=1)
                continue
            if (b - t).total_seconds() >= seconds:
                return t + timedelta(seconds=seconds)
            seconds -= (b - t).total_seconds()
            t = a + timedelta(days=1)

    def diff(self, start: datetime, end: datetime) -> float:
        total, t = 0.0, start
        while t < end:
            a, b = self._open(t)
            lo, hi = max(t, a), min(end, b)
            if hi > lo:
                total += (hi - lo).total_seconds()
            t = a + timedelta(days=1)
        return total


def at(hh: int, mm: int = 0, day: int = 2) -> float:
    return datetime(2026, 11, day, hh, mm, tzinfo=timezone.utc).timestamp()


def test_reassignment_hands_the_remaining_time_to_the_new_owners_calendar():
    # Owner A works 09-17; at 16:58 the lead moves to a 24/7 owner with 3 of 5 minutes left.
    time = OwnedTime(((0.0, Hours()), (at(16, 58), PLAIN_TIME)))
    assert time.add(at(16, 56), 300) == at(17, 1)
    assert time.diff(at(16, 56), at(17, 1)) == pytest.approx(300)
    # Without the reassignment the deadline waits for the next morning.
    only_a = OwnedTime(((0.0, Hours()),))
    assert only_a.add(at(16, 56), 300) == at(9, 1, day=3)


def ob(event_id: str, due: float, breached: bool = True) -> Obligation:
    return Obligation(event_id, "first_response", "breach", 0.0, due, breached)


def test_a_breached_stage_fires_once_after_its_due_time_plus_lateness():
    r = reconcile([ob("a", 100.0)], {}, now=101.0, allowed_lateness_seconds=2)
    assert r.fire == () and r.next_wakeup == 102.0
    r = reconcile([ob("a", 100.0)], {}, now=102.0, allowed_lateness_seconds=2)
    assert [o.event_id for o in r.fire] == ["a"]
    r = reconcile([ob("a", 100.0)], {"a": {"retracted": False}}, now=500.0, allowed_lateness_seconds=2)
    assert r.fire == () and r.next_wakeup is None


def test_a_stage_met_by_a_late_call_is_retracted_once():
    r = reconcile([ob("a", 100.0, breached=False)], {"a": {"retracted": False}}, 500.0, 2)
    assert r.retract == ("a",)
    r = reconcile([ob("a", 100.0, breached=False)], {"a": {"retracted": True}}, 500.0, 2)
    assert r.retract == ()


def test_breach_ids_are_deterministic_and_distinct():
    a = breach_event_id("L1", "first_response", 1.5, "breach")
    assert a == breach_event_id("L1", "first_response", 1.5, "breach")
    assert a != breach_event_id("L1", "first_response", 1.5, "warning")
    assert a != breach_event_id("L2", "first_response", 1.5, "breach")
    assert retraction_event_id(a) != a


def test_a_retracted_stage_that_is_breached_after_all_fires_again_under_a_new_id():
    from stream.domain.obligations import refire_event_id

    r = reconcile([ob("a", 100.0)], {"a": {"retracted": True, "generation": 0}}, 500.0, 2)
    assert [o.event_id for o in r.fire] == ["a"]
    assert refire_event_id("a", 0) == "a"
    assert refire_event_id("a", 1) != "a" and refire_event_id("a", 1) == refire_event_id("a", 1)
