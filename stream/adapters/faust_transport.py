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
"""

from __future__ import annotations

from collections.abc import Mapping

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as driver


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
            else:
                client.seek(tp, offset)
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
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(driver.Transport):
    Consumer = Consumer


def install(app) -> None:
    """Make ``app`` consume through this transport (before it starts)."""
    app.transport = Transport(app.conf.broker_consumer, app)
