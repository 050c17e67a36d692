"""The deadline index keeps open clocks by owner and counts the overdue ones."""

from stream.service.deadlines import DeadlineIndex


def test_a_clock_counts_as_overdue_once_its_overdue_instant_has_passed():
    index = DeadlineIndex()
    index.set_open(0, "a", (100.0, "r-1", 400.0))
    index.set_open(1, "b", (100.0, "r-1", 900.0))
    index.set_open(1, "c", (100.0, None, 300.0))
    assert index.overdue_by_rep(399.0) == {None: 1}
    assert index.overdue_by_rep(400.0) == {None: 1, "r-1": 1}
    assert index.overdue_by_rep(10_000.0) == {None: 1, "r-1": 2}


def test_a_call_or_a_new_owner_takes_the_clock_out_of_its_old_owners_count():
    index = DeadlineIndex()
    index.set_open(0, "a", (100.0, "r-1", 400.0))
    index.set_open(0, "b", (100.0, "r-1", 400.0))
    assert index.overdue_by_rep(500.0) == {"r-1": 2}
    index.set_open(0, "a", None)  # called
    index.set_open(0, "b", (100.0, "r-2", 450.0))  # reassigned: remaining time on r-2's calendar
    assert index.overdue_by_rep(500.0) == {"r-2": 1}
    assert sorted(rep for rep, _, _ in index.open_by_rep()) == ["r-2"]


def test_a_clock_waiting_for_business_hours_is_open_but_not_overdue():
    index = DeadlineIndex()
    friday_evening, monday_morning = 1_000.0, 1_000.0 + 2.5 * 86_400
    index.set_open(0, "weekend", (friday_evening, "r-1", monday_morning))
    assert index.open_clocks == 1
    assert index.overdue_by_rep(friday_evening + 86_400) == {}


def test_clocks_stored_without_an_overdue_instant_are_never_overdue():
    index = DeadlineIndex()
    index.set_open(0, "old", [100.0, "r-1"])  # a value written before overdue_at was kept
    assert index.open_clocks == 1 and index.overdue_by_rep(1e12) == {}


def test_dropping_partitions_forgets_their_clocks_and_keeps_the_others():
    index = DeadlineIndex()
    index.set_open(0, "a", (100.0, "r-1", 200.0))
    index.set_open(1, "b", (100.0, "r-1", 200.0))
    index.schedule(0, "a", 150.0)
    index.schedule(1, "b", 150.0)
    assert index.overdue_by_rep(300.0) == {"r-1": 2}
    index.drop_partitions([1])
    assert index.open_clocks == 1 and index.overdue_by_rep(300.0) == {"r-1": 1}
    assert index.partitions() == [0] and index.pop_due(1, 1e9) == []
    index.drop_partitions([0])
    assert index.open_clocks == 0 and index.partitions() == []


def test_stale_entries_of_closed_clocks_are_compacted():
    index = DeadlineIndex()
    for i in range(10_000):
        index.set_open(0, "a", (float(i), "r-1", 1e9 + i))  # each change leaves an entry behind
    assert len(index._not_overdue) < 10_000
    index.set_open(0, "a", None)
    assert index.overdue_by_rep(2e9) == {}


def test_the_oldest_open_clocks_come_first():
    index = DeadlineIndex()
    index.set_open(0, "b", (200.0, "r-1", 500.0))
    index.set_open(1, "a", (100.0, None, 400.0))
    index.set_open(1, "c", (300.0, "r-2", 600.0))
    index.set_open(0, "d", (50.0, "r-2", 350.0))
    index.set_open(0, "d", None)  # called
    assert [(lead, p) for lead, p, _ in index.oldest_open(2)] == [("a", 1), ("b", 0)]
    assert index.oldest_open(10)[-1] == ("c", 1, (300.0, "r-2", 600.0))


def test_the_oldest_open_clocks_of_some_owners():
    index = DeadlineIndex()
    index.set_open(0, "a", (100.0, "east-1", 400.0))
    index.set_open(0, "b", (50.0, "west-1", 350.0))
    index.set_open(1, "c", (200.0, None, 500.0))
    east = index.oldest_open(10, owners=lambda owner: owner is not None and owner.startswith("east"))
    assert [lead for lead, _, _ in east] == ["a"]


def test_loading_many_leads_at_once_is_the_same_as_adding_them_one_by_one():
    import random

    rng = random.Random(3)
    leads = []
    for i in range(500):
        wakeup = rng.choice([None, 100.0 + rng.random() * 50])
        clock = rng.choice([None, (rng.random() * 100, rng.choice(["r-1", "r-2", None]), 120.0 + rng.random() * 20)])
        leads.append((i % 4, f"L{i % 450}", wakeup, clock))  # some leads twice: the last wins
    one_by_one, loaded = DeadlineIndex(), DeadlineIndex()
    for partition, lead, wakeup, clock in leads:
        one_by_one.schedule(partition, lead, wakeup)
        one_by_one.set_open(partition, lead, clock)
    loaded.load(leads)
    assert loaded.open_clocks == one_by_one.open_clocks
    assert sorted(loaded.open_by_rep(), key=str) == sorted(one_by_one.open_by_rep(), key=str)
    assert loaded.overdue_by_rep(130.0) == one_by_one.overdue_by_rep(130.0)
    assert loaded.oldest_open(10) == one_by_one.oldest_open(10)
    for p in range(4):
        assert loaded.pop_due(p, 125.0) == one_by_one.pop_due(p, 125.0)
        assert loaded.next_wakeup(p) == one_by_one.next_wakeup(p)
        assert sorted(loaded.pop_due(p, 1e9)) == sorted(one_by_one.pop_due(p, 1e9))
