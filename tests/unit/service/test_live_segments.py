"""Live segment evidence derived from lead states: per-partition tallies,
merged by every worker with the segments file's seed."""

from datetime import datetime, timedelta, timezone

from stream.domain.lead import LeadState
from stream.policy import ScoringPolicy
from stream.service.live_segments import PartitionTally, SegmentBoard, contribution

POLICY = ScoringPolicy(segment_by=["source"], cost_per_lead=10, min_age_days=30, min_mature_leads=2, smoothing_leads=0)
T0 = datetime(2026, 9, 1, 12, tzinfo=timezone.utc).timestamp()


def lead(lead_id: str, created: float, calls: int = 0, amount: float | None = None, source: str = "web") -> LeadState:
    state = LeadState(lead_id=lead_id, created_at=created, attributes={"source": source})
    for i in range(calls):
        state.add_call(created + 60 * (i + 1), "r-1", "connected" if i == calls - 1 else "no_answer", f"{lead_id}-c{i}")
    if amount is not None:
        state.add_opportunity(created + 3600, amount, f"{lead_id}-o")
    return state


def test_a_lead_contributes_one_lead_its_cost_and_its_outcome_to_its_creation_day():
    segment, day, counts, latest = contribution(lead("L", T0, calls=2, amount=500.0), POLICY, since=None)
    assert (segment, day) == ("web", "2026-09-01")
    assert counts["leads"] == 1 and counts["acquisition_cost"] == 10 and counts["attempts"] == 2
    assert counts["connected"] == 1 and counts["opportunities"] == 1 and counts["value"] == 500.0
    assert latest == T0 + 3600
    assert contribution(LeadState(lead_id="X"), POLICY, since=None) is None  # creation unknown
    seeded_until = datetime.fromtimestamp(T0, tz=timezone.utc)
    assert contribution(lead("L", T0), POLICY, since=seeded_until) is None  # already in the segments file


def test_tallies_follow_each_leads_changes_and_fold_old_cohorts_into_mature():
    tally = PartitionTally(POLICY)
    first = contribution(lead("A", T0), POLICY, None)
    tally.replace(0, None, first)
    tally.replace(0, first, contribution(lead("A", T0, calls=1), POLICY, None))
    tally.replace(1, None, contribution(lead("B", T0), POLICY, None))
    stats = tally.snapshot(0, "web")["stats"]
    assert stats["cohorts"]["2026-09-01"]["leads"] == 1 and stats["cohorts"]["2026-09-01"]["attempts"] == 1
    # A lead 40 days later moves the partition's event time on: September 1st matures.
    later = T0 + 40 * 86_400
    tally.replace(0, None, contribution(lead("C", later), POLICY, None))
    stats = tally.snapshot(0, "web")["stats"]
    assert stats["mature"]["leads"] == 1 and stats["mature"]["attempts"] == 1
    # Taking a matured lead away takes it out of mature.
    tally.replace(0, contribution(lead("A", T0, calls=1), POLICY, None), None)
    assert tally.snapshot(0, "web")["stats"]["mature"]["leads"] == 0
    assert tally.dirty == {(0, "web"), (1, "web")}
    tally.drop_partitions([0])
    assert tally.keys() == [(1, "web")] and tally.dirty == {(1, "web")}


def test_the_board_merges_partitions_and_judges_the_segment():
    live = {}
    board = SegmentBoard(POLICY, None, live)
    later = T0 + 40 * 86_400
    for partition in (0, 1):
        tally = PartitionTally(POLICY)
        for i in range(3):
            tally.replace(partition, None, contribution(lead(f"L{partition}{i}", T0, calls=1, amount=1000.0), POLICY, None))
        tally.replace(partition, None, contribution(lead(f"N{partition}", later), POLICY, None))
        board.apply(tally.snapshot(partition, "web"))
    stats = live["web"]
    assert stats.mature.leads == 6 and stats.young_leads == 2
    assert stats.verdict is True  # 1000 per lead against a cost of 10
    row = board.row(stats)
    assert row["segment"] == "web" and row["mature_leads"] == 6 and row["profitable"] is True
    # A newer snapshot of one partition replaces its older one.
    empty = PartitionTally(POLICY)
    empty.replace(1, None, contribution(lead("N1", later), POLICY, None))
    board.apply(empty.snapshot(1, "web"))
    assert live["web"].mature.leads == 3
