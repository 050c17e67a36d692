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
