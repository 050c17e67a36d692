"""After a rebalance every assigned partition is sought, and a partition
still awaiting aiokafka's reset (it has no position yet) is skipped by
Faust's livelock detector, which failed on an assertion there and stopped
the worker."""

import asyncio
from types import SimpleNamespace

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.subscription_state import SubscriptionState
from faust.transport.drivers import aiokafka as driver

from stream.adapters.faust_transport import ConsumerThread

COMMITTED = TopicPartition("lead-created", 0)
NEVER = TopicPartition("call-attempt", 0)  # a topic nobody wrote to: never committed
EMPTY = TopicPartition("call-attempt", 1)


class Client:
    """The part of AIOKafkaConsumer the seek uses, over aiokafka's own
    subscription state."""

    def __init__(self, committed: dict, beginning: dict, end: dict) -> None:
        self._subscriptions = SubscriptionState()
        self._subscriptions.assign_from_user(set(committed))
        self._fetcher = SimpleNamespace(_subscriptions=self._subscriptions)
        self._committed, self._beginning, self._end = committed, beginning, end

    def state(self, tp):
        return self._subscriptions.subscription.assignment.state_value(tp)

    def assignment(self):
        return self._subscriptions.assigned_partitions()

    async def committed(self, tp):
        return self._committed[tp]

    def seek(self, tp, offset):
        self.state(tp).seek(offset)

    async def seek_to_beginning(self, *tps):
        for tp in tps:  # as aiokafka does: the position comes with a later fetch
            self.state(tp).await_reset(0)

    async def seek_to_end(self, *tps):
        for tp in tps:
            self.state(tp).await_reset(1)

    async def beginning_offsets(self, tps):
        return {tp: self._beginning[tp] for tp in tps}

    async def end_offsets(self, tps):
        return {tp: self._end[tp] for tp in tps}


def thread_over(client: Client, reset: str = "earliest") -> ConsumerThread:
    thread = object.__new__(ConsumerThread)
    thread._consumer = client
    thread.app = SimpleNamespace(conf=SimpleNamespace(consumer_auto_offset_reset=reset))
    return thread


def client() -> Client:
    c = Client({COMMITTED: 7, NEVER: None, EMPTY: -1}, {NEVER: 3, EMPTY: 0}, {NEVER: 9, EMPTY: 0})
    for tp in (NEVER, EMPTY):
        c.state(tp).highwater = 9  # fetched before, as during the rebalance
    return c


@pytest.mark.parametrize(("reset", "strategy"), [("earliest", 0), ("latest", 1)])
def test_every_assigned_partition_is_sought(reset, strategy):
    async def seek():
        c = client()  # aiokafka's subscription state wants a running loop
        return c, await thread_over(c, reset)._seek_every_partition()

    c, committed = asyncio.run(seek())
    assert committed == {COMMITTED: 7, NEVER: None, EMPTY: -1}
    assert c.state(COMMITTED).position == 7
    # The group never committed these: they go where the reset policy says.
    assert [c.state(tp).reset_strategy for tp in (NEVER, EMPTY)] == [strategy, strategy]


def test_the_livelock_check_skips_a_partition_awaiting_a_reset(monkeypatch):
    checked = []
    monkeypatch.setattr(driver.AIOKafkaConsumerThread, "verify_event_path", lambda self, now, tp: checked.append(tp))

    async def verify():
        c = client()
        c.seek(COMMITTED, 7)
        c.state(NEVER).await_reset(0)  # what aiokafka's seek_to_beginning leaves until its next fetch
        thread = thread_over(c)
        for tp in (COMMITTED, NEVER):
            thread.verify_event_path(0.0, tp)
        return c

    c = asyncio.run(verify())
    assert checked == [COMMITTED]
    # Faust's own check would have read the missing position.
    with pytest.raises(AssertionError):
        _ = c.state(NEVER).position


def consumer_with(acked: dict, committed: dict, gaps: dict | None = None, assigned=None):
    from collections import defaultdict

    from intervaltree import IntervalTree

    from stream.adapters.faust_transport import Consumer

    consumer = object.__new__(Consumer)
    consumer._acked = defaultdict(list, acked)
    consumer._committed_offset = defaultdict(lambda: None, committed)
    consumer._gap = defaultdict(IntervalTree, {tp: IntervalTree.from_tuples(g) for tp, g in (gaps or {}).items()})
    consumer._acked_index = defaultdict(set)
    consumer._withheld_gaps = {}
    consumer.assignment = lambda: set(assigned if assigned is not None else acked)
    return consumer


def test_skipped_records_are_those_below_the_first_acknowledged_offset():
    a, b, c, d = (TopicPartition("lead-created", p) for p in range(4))
    consumer = consumer_with(
        acked={a: [33, 34], b: [561, 562, 600], c: [], d: [12]},
        committed={a: 33, b: 33, c: 5, d: None},
    )
    # a: acknowledged from its committed offset on; c: nothing acknowledged;
    # d: never committed (nothing to compare with).
    assert consumer.skipped() == {b: (33, 561)}


def test_offsets_without_records_and_lost_partitions_are_not_skipped():
    a, b = TopicPartition("reps", 0), TopicPartition("lead-created", 1)
    consumer = consumer_with(
        acked={a: [51], b: [90]}, committed={a: 10, b: 40}, gaps={a: [(10, 51)]}, assigned={a}
    )
    assert consumer.skipped() == {}


def test_a_partition_skipped_at_two_looks_is_read_again_from_its_committed_offset():
    a, b = TopicPartition("lead-created", 0), TopicPartition("lead-created", 1)
    consumer = consumer_with(acked={a: [561, 562], b: [70]}, committed={a: 33, b: 60})
    sought = []

    async def seek(tp, offset):
        sought.append((tp, offset))

    consumer.seek = seek
    seen = asyncio.run(consumer.reread_skipped({}))
    assert sought == []  # once is not enough: a commit may be on its way
    consumer._committed_offset[b] = 71  # b's commit came
    consumer._acked[b] = []
    asyncio.run(consumer.reread_skipped(seen))
    assert sought == [(a, 33)]


def test_a_partition_taken_by_a_rebalance_during_the_seek_leaves_the_others_sought():
    from aiokafka.errors import IllegalStateError

    taken, kept = TopicPartition("lead-created", 1), TopicPartition("lead-created", 2)

    class Rebalancing(Client):
        gone: set = set()

        def assignment(self):
            return super().assignment() - self.gone

        async def committed(self, tp):
            if tp == taken:  # the rebalance takes it while its offset is looked up
                self.gone = {taken}
            return await super().committed(tp)

        def seek(self, tp, offset):
            if tp not in self.assignment():
                raise IllegalStateError(f"No current assignment for partition {tp}")  # as aiokafka
            super().seek(tp, offset)

    async def seek():
        c = Rebalancing({taken: 7, kept: 5, NEVER: None}, {NEVER: 3}, {NEVER: 9})
        return c, await thread_over(c)._seek_every_partition()

    c, _ = asyncio.run(seek())
    assert c.assignment() == {kept, NEVER}
    assert c.state(kept).position == 5
    assert c.state(NEVER).reset_strategy == 0


def test_a_gap_on_a_lead_topic_is_read_again_before_it_is_taken_for_missing_offsets():
    from types import SimpleNamespace

    lead, reps = TopicPartition("lead-created", 3), TopicPartition("reps", 3)
    # 420 and 421 read and committed, then 443 delivered.
    consumer = consumer_with(acked={lead: [443], reps: []}, committed={lead: 422, reps: 40})
    consumer.transport = SimpleNamespace(checked_topics=frozenset({"lead-created"}))

    # Delivered 443 right after 421: Faust would acknowledge 422..442.
    asyncio.run(consumer._add_gap(lead, 422, 443))
    assert not consumer._gap[lead]
    assert consumer._new_offset(lead) is None  # the commit waits
    assert consumer.skipped() == {lead: (422, 443)}  # and the watchdog reads them again

    # Read again, and the same offsets are absent again: holes, acknowledged.
    asyncio.run(consumer._add_gap(lead, 422, 443))
    assert consumer._new_offset(lead) == 444

    # A compacted topic's holes, and a single offset (a transaction marker), at once.
    asyncio.run(consumer._add_gap(reps, 41, 90))
    assert consumer._gap[reps]
    other = TopicPartition("lead-created", 0)
    asyncio.run(consumer._add_gap(other, 7, 8))
    assert consumer._gap[other]
