"""Faust's aiokafka transport, with input never skipped after a rebalance.

During a rebalance Faust may fetch records of a newly assigned partition
and drop them (the partition is not yet active, or flow is suspended) while
the consumer's position moves past them; after recovery it seeks every
partition back to its committed offset to read them again. aiokafka 0.14's
``seek_to_committed`` seeks only when the committed offset is above 0, so a
partition the group never committed, or committed at 0, stayed past the
dropped records: they were never processed, and the next commit passed
them. Two workers starting together on waiting records lost a fetch batch,
or a whole partition, about one start in three.

Here every assigned partition is sought: to its committed offset, or, when
the group never committed it, where ``consumer_auto_offset_reset`` says.

A partition left to aiokafka's reset has no position until the reset is
done, and Faust's livelock detector reads the position of every assigned
partition whose highwater it knows: it failed on an assertion there and
stopped the worker (a topic nobody has written to yet is never committed,
so this could happen at any rebalance; a worker taking over its dead
peer's partitions crashed so in about one run in ten). The detector here
skips a partition without a position.

Records can still be skipped after a rebalance, rarely (1 start in 10 in
``tests/integration/test_rebalance_input.py``, where 528 records of one
partition were never delivered to the agent; cause not found). The
commit never passes them: Faust commits only up to the first offset not
acknowledged, and the agents acknowledge in order. So a partition whose
acknowledged offsets start above its committed offset, and stay so over two
checks, has skipped records: it is sought back to the committed offset and
read again (inputs are idempotent: what was processed comes out as a
duplicate).

That check could not see a skip that Faust covers itself: when the record
delivered is more than one offset past the last one read, Faust takes the
offsets between for holes (compaction, transaction markers) and
acknowledges them. A long chaos run lost leads so: a worker that had just
taken two partitions read a few records of each from the committed offset,
then was delivered the newest ones, and the commit passed about 13 and 21
records between, which no worker ever processed. On the lead topics and
``sla-emitted`` (never compacted) such a gap is not acknowledged the first
time: the commit waits, the check above (or the partition's next owner)
reads the partition again from the commit, and only a gap found again at
the same place is taken for offsets without records. A gap of one offset
(a transaction marker) is acknowledged at once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as driver
from mode import Service

log = logging.getLogger(__name__)

# Seconds between two looks for skipped records.
SKIPPED_CHECK_SECONDS = 5.0


class ConsumerThread(driver.AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[TopicPartition, int | None]:
        return await self.call_thread(self._seek_every_partition)

    async def _seek_every_partition(self) -> Mapping[TopicPartition, int | None]:
        client = self._ensure_consumer()
        committed: dict[TopicPartition, int | None] = {}
        never = []
        for tp in client.assignment():
            offset = await client.committed(tp)
            committed[tp] = offset
            if offset is None or offset < 0:
                never.append(tp)
            elif tp in client.assignment():
                # A rebalance may have taken it meanwhile: seeking it would
                # raise, and leave the partitions after it where they are.
                client.seek(tp, offset)
        # No await between this filter and the seek's own assignment check: it cannot raise.
        never = [tp for tp in never if tp in client.assignment()]
        if never:
            if self.app.conf.consumer_auto_offset_reset == "latest":
                await client.seek_to_end(*never)
            else:
                await client.seek_to_beginning(*never)
        return committed

    def verify_event_path(self, now: float, tp) -> None:
        if not self._has_position(tp):
            return None  # awaiting a reset: no path to verify yet
        return super().verify_event_path(now, tp)

    def _has_position(self, tp) -> bool:
        subscription = self._ensure_consumer()._fetcher._subscriptions.subscription
        assignment = subscription.assignment if subscription is not None else None
        state = assignment.state_value(TopicPartition(tp.topic, tp.partition)) if assignment is not None else None
        return state is not None and state.has_valid_position


class Consumer(driver.Consumer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # tp -> the offset delivered after the last gap held back on it
        self._withheld_gaps: dict = {}

    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _add_gap(self, tp, offset_from: int, offset_to: int) -> None:
        """Faust's hook for offsets ``offset_from .. offset_to - 1`` that were
        not delivered before ``offset_to`` was."""
        if tp.topic in self.transport.checked_topics and offset_to - offset_from > 1:
            if self._withheld_gaps.get(tp) != offset_to:
                self._withheld_gaps[tp] = offset_to
                log.warning(
                    "records %s[%s]@%d..%d were not delivered: not acknowledged, so they are read again",
                    tp.topic, tp.partition, offset_from, offset_to - 1,
                )
                return
            log.warning(
                "offsets %s[%s]@%d..%d were not delivered again: taken for offsets without records",
                tp.topic, tp.partition, offset_from, offset_to - 1,
            )
        await super()._add_gap(tp, offset_from, offset_to)

    def skipped(self) -> dict:
        """{tp: (committed offset, first acknowledged offset)} of every
        assigned partition whose acknowledged offsets start above its
        committed one: the records in between were never acknowledged."""
        assigned = self.assignment()
        out = {}
        for tp, acked in list(self._acked.items()):
            committed = self._committed_offset.get(tp)
            if acked and committed is not None and tp in assigned:
                first = min(acked)
                gaps = self._gap.get(tp)  # offsets Faust knows hold no record (compaction)
                if gaps:
                    first = min(first, min(gap.begin for gap in gaps))
                if first > committed:
                    out[tp] = (committed, first)
        return out

    @Service.task
    async def _reread_skipped(self) -> None:
        seen: dict = {}
        async for _ in self.itertimer(SKIPPED_CHECK_SECONDS, name="reread-skipped"):
            if self.app.rebalancing or not self.flow_active:
                seen = {}
                continue
            seen = await self.reread_skipped(seen)

    async def reread_skipped(self, seen: dict) -> dict:
        """Seek back every partition skipped now as it was at the last look
        (``seen``, what this returned then): one look may fall between an
        acknowledgement and the commit that follows it."""
        now = self.skipped()
        for tp, (committed, first) in now.items():
            if seen.get(tp) == (committed, first):
                log.warning(
                    "records %s[%s]@%d..%d were skipped: reading them again from the committed offset",
                    tp.topic, tp.partition, committed, first - 1,
                )
                await self.seek(tp, committed)
        return now


class Transport(driver.Transport):
    Consumer = Consumer
    # Topics whose offsets all hold records (not compacted): a gap there is a skip.
    checked_topics: frozenset[str] = frozenset()


def install(app, checked_topics: Iterable[str] = ()) -> None:
    """Make ``app`` consume through this transport (before it starts)."""
    app.transport = Transport(app.conf.broker_consumer, app)
    app.transport.checked_topics = frozenset(checked_topics)
