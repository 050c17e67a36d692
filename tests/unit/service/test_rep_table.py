from datetime import date

from stream.domain.rep_stats import RepDay
from stream.policy import Policy
from stream.service.calendars import CalendarBook
from stream.service.leads import LeadProcessor
from stream.service.rep_table import RepTable
from stream.service.scorer import build_scorer


def table() -> RepTable:
    policy = Policy()
    calendars = CalendarBook(policy)
    return RepTable(policy, LeadProcessor(policy, calendars.calendar_for, build_scorer(policy)), calendars)


def day(rep: str, d: int, attempts: int) -> RepDay:
    return RepDay(rep=rep, day=date(2026, 11, d), workable_leads=1, attempts=attempts)


def test_replacing_a_contribution_moves_it_between_buckets():
    t = table()
    t.replace(0, None, day("r-1", 2, 1))
    t.replace(1, None, day("r-1", 2, 2))
    assert [(b.rep, b.workable_leads, b.attempts) for b in t.local_buckets()] == [("r-1", 2, 3)]
    # lead on partition 0 gets another attempt, then moves to r-2
    t.replace(0, day("r-1", 2, 1).to_dict(), day("r-1", 2, 2))
    t.replace(0, day("r-1", 2, 2).to_dict(), day("r-2", 2, 2))
    assert [(b.rep, b.workable_leads, b.attempts) for b in t.local_buckets()] == [("r-1", 1, 2), ("r-2", 1, 2)]
    t.replace(1, day("r-1", 2, 2).to_dict(), None)
    assert [b.rep for b in t.local_buckets()] == ["r-2"]
    t.clear()
    assert t.local_buckets() == []


def test_window_counts_sum_the_days_of_each_window_over_partitions():
    t = table()

    def lead(partition: int, d: date, attempts: int) -> None:
        t.replace(partition, None, RepDay(rep="r-1", day=d, workable_leads=1, attempts=attempts))

    lead(0, date(2026, 12, 3), 1)  # today
    lead(1, date(2026, 12, 1), 2)  # this month
    lead(2, date(2026, 11, 27), 4)  # 7th day back: 7d, 30d, not this month
    lead(3, date(2026, 11, 26), 8)  # 8th day back: 30d only
    lead(0, date(2026, 11, 4), 16)  # 30th day back: 30d only
    lead(1, date(2026, 11, 3), 32)  # 31st day back: none
    lead(2, date(2026, 12, 4), 64)  # after today: none
    counts = t.window_counts("r-1", date(2026, 12, 3))
    assert {w: c[1] for w, c in counts.items()} == {"7d": 7, "30d": 31, "mtd": 3}
    assert {w: c[0] for w, c in counts.items()} == {"7d": 3, "30d": 5, "mtd": 2}
    assert t.window_counts("nobody", date(2026, 12, 3))["30d"] == [0] * 6


def test_dropping_a_partition_removes_its_share_of_every_window():
    t = table()
    t.replace(0, None, day("r-1", 30, 1))
    t.replace(1, None, day("r-1", 30, 2))
    t.drop_partitions([1])
    assert t.window_counts("r-1", date(2026, 11, 30))["7d"][:2] == [1, 1]
    assert [(b.rep, b.attempts) for b in t.local_buckets()] == [("r-1", 1)]
    t.drop_partitions([0])
    assert t.reps() == [] and t.local_buckets() == []


def test_standing_breach_events_count_on_the_day_they_were_detected_in_the_reps_zone():
    from stream.domain.lead import LeadState

    t = table()  # the default calendar: America/New_York
    state = LeadState(lead_id="L")

    def sent(event_id: str, detected_at: str, stage: str, rep: str | None = "r-1", retracted: bool = False):
        value = {"event_id": event_id, "breach_type": "first_response", "stage": stage, "rep_id": rep,
                 "detected_at": detected_at}
        state.emitted[event_id] = {"value": value, "retracted": retracted}

    sent("w", "2026-12-02T03:00:00Z", "warning")  # Dec 1, 22:00 in New York
    sent("b", "2026-12-02T14:00:00Z", "breach")
    sent("x", "2026-12-02T15:00:00Z", "escalation", retracted=True)
    sent("u", "2026-12-02T14:00:00Z", "breach", rep=None)
    detections = t.detections(state)
    assert detections == [
        ["r-1", "2026-12-01", "first_response", "warning"],
        ["r-1", "2026-12-02", "first_response", "breach"],
        ["unassigned", "2026-12-02", "first_response", "breach"],
    ]
    t.replace_detections(0, None, detections)
    t.replace_detections(1, None, detections[1:2])
    assert t.detected_since(date(2026, 12, 2)) == [
        ["r-1", "2026-12-02", "first_response", "breach", 2],
        ["unassigned", "2026-12-02", "first_response", "breach", 1],
    ]
    t.replace_detections(0, detections, detections[:1])  # the breach got retracted
    t.drop_partitions([1])
    assert t.detected_since(date(2026, 12, 1)) == [["r-1", "2026-12-01", "first_response", "warning", 1]]
