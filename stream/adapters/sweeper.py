"""The sweeper: turns due deadlines into ticks, on wall-clock time.

Every worker sweeps its own active partitions (never standby copies) a few
times a second, and pauses while a rebalance is under way. A due lead is not
handled here: a tick keyed by the lead goes to the internal tick topic on the
lead's own partition, and the tick agent re-evaluates the lead inside stream
processing, so every state change is written to the table's changelog.

After a rebalance the index is rebuilt from the table, and a partition is
swept only once the worker has caught up with the input that was waiting for
it at that moment: a call delivered while the worker was down must be read
before the breach it prevents could fire.
"""

from __future__ import annotations

import logging

import orjson

from stream.adapters.topics import LEAD_INPUTS
from stream.domain.rep_stats import RepDay
from stream.domain.response_clock import to_datetime
from schemas.types import format_timestamp

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.app = ctx.app
        self.index = ctx.index
        self.generation = 0
        self.ready = False
        self.active: set[int] = set()
        # partition -> {input tp: end offset seen when the partition was assigned}
        self.targets: dict[int, dict] = {}
        self.caught_up: set[int] = set()

    def _input_topics(self) -> list[str]:
        return [self.ctx.settings.topic(name) for name in LEAD_INPUTS]

    def on_rebalance_start(self, revoked=()) -> None:
        """Stop sweeping, and forget what this worker may no longer own: its
        metrics must not count partitions another worker now holds."""
        self.ready = False
        inputs = set(self._input_topics())
        lost = {tp.partition for tp in revoked if tp.topic in inputs}
        self.index.drop_partitions(lost)
        self.ctx.rep_table.drop_partitions(lost)
        self.active -= lost

    async def on_recovered(self) -> None:
        """Rebuild the index and the per-rep buckets for the partitions this worker now owns."""
        inputs = set(self._input_topics())
        actives = {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic in inputs}
        self.index.clear()
        self.ctx.rep_table.clear()
        leads = self.ctx.state["leads"]
        rebuilt = 0
        for key, raw in leads.items():
            env = orjson.loads(raw)
            partition = env.get("p")
            if partition not in actives:
                continue
            lead_id = key.decode("utf-8")
            self.index.schedule(partition, lead_id, env.get("w"))
            clock = env.get("o")
            self.index.set_open(partition, lead_id, tuple(clock) if clock else None)
            self.ctx.rep_table.replace(partition, None, RepDay.from_dict(env["r"]) if env.get("r") else None)
            self.ctx.rep_table.replace_detections(partition, None, env.get("e"))
            rebuilt += 1
        for p in actives:
            self.index.schedule(p, "", None)  # make every owned partition known
        self.active = actives
        self.caught_up = set()
        tps = [tp for tp in self.app.consumer.assignment() if tp.topic in inputs]
        ends = await self.app.consumer.highwaters(*tps) if tps else {}
        self.targets = {p: {} for p in actives}
        for tp, end in ends.items():
            if tp.partition in self.targets:
                self.targets[tp.partition][tp] = end
        self.ready = True
        log.info("deadline index rebuilt: %d leads on partitions %s", rebuilt, sorted(actives))

    async def _is_caught_up(self, partition: int) -> bool:
        if partition in self.caught_up:
            return True
        processed = self.ctx.state.get("processed", {})
        for tp, end in self.targets.get(partition, {}).items():
            if end is None or end <= 0:
                continue
            done = processed.get((tp.topic, tp.partition))
            if done is not None and done >= end - 1:
                continue
            position = await self.app.consumer.position(tp)
            if position is None or position < end:
                return False
        self.caught_up.add(partition)
        return True

    async def sweep(self) -> int:
        if not self.ready or self.app.rebalancing:
            return 0
        ticks = self.ctx.state["ticks"]
        now = self.ctx.clock()
        sent = 0
        for partition in sorted(self.active):
            if not await self._is_caught_up(partition):
                continue
            for lead_id in self.index.pop_due(partition, now):
                value = orjson.dumps({"lead_id": lead_id, "at": format_timestamp(to_datetime(now))})
                await ticks.send(key=lead_id.encode(), value=value, partition=partition)
                sent += 1
        return sent


def install(ctx) -> None:
    app = ctx.app
    sweeper = Sweeper(ctx)
    ctx.state["sweeper"] = sweeper
    leads = ctx.state["leads"]
    leads.on_recover(sweeper.on_recovered)

    @app.on_partitions_revoked.connect
    async def _paused(sender, revoked, **kwargs) -> None:  # noqa: ARG001
        ctx.metrics.rebalances.inc()
        sweeper.on_rebalance_start(revoked)

    @app.timer(interval=ctx.settings.sweep_interval_seconds, name="sla-sweeper")
    async def sweep() -> None:
        await sweeper.sweep()
