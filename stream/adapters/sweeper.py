"""The sweeper: emits the SLA stages that fall due, on wall-clock time.

Every worker sweeps its own active partitions (never standby copies) ten
times a second, and pauses while a rebalance is under way. For each lead the
deadline index says is due, the stage to emit was prepared with the lead's
last change (``StoredLead.upcoming``), so the sweeper emits it without
re-deriving the lead: a "Monday morning" of a hundred thousand stages due
in one second costs a table read and two sends each.

What was emitted becomes part of the lead's state through the internal
``sla-emitted`` topic, on the lead's own partition, written *before* the
breach events themselves: the ``sla-emitted`` agent then records it inside
stream processing (so through the changelog). Until then the worker keeps
it in memory (``pending``), and the lead agent folds it into any event of
that lead first. A record from another run (the emitting worker died or
lost the partition) has its breach events sent again under the same ids.

After a rebalance the index is rebuilt from the table, and a partition is
swept only once the worker has caught up with the input that was waiting for
it at that moment: a call delivered while the worker was down must be read
before the breach it prevents could fire.
"""

from __future__ import annotations

import asyncio
import logging

import orjson

from schemas.types import format_timestamp
from stream.adapters.agents import expected_partition
from stream.adapters.tables import StoredLead
from stream.adapters.topics import EMITTED, LEAD_INPUTS
from stream.domain.response_clock import to_datetime

log = logging.getLogger(__name__)

# Leads per sla-emitted record (about 600 bytes each): well under Kafka's
# default 1 MB message limit.
LEADS_PER_RECORD = 500


class Sweeper:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.app = ctx.app
        self.index = ctx.index
        self.views = ctx.views
        self.pending = ctx.pending_emissions
        self.ready = False
        self.active: set[int] = set()
        # partition -> {input tp: end offset seen when the partition was assigned}
        self.targets: dict[int, dict] = {}
        self.caught_up: set[int] = set()
        self.emitted_topic = ctx.settings.topic(EMITTED)
        self.breaches_topic = ctx.settings.topic("sla-breaches")

    def _input_topics(self) -> list[str]:
        return [self.ctx.settings.topic(name) for name in LEAD_INPUTS]

    def on_rebalance_start(self, revoked=()) -> None:
        """Stop sweeping, and forget what this worker may no longer own: its
        metrics must not count partitions another worker now holds."""
        self.ready = False
        inputs = set(self._input_topics())
        lost = {tp.partition for tp in revoked if tp.topic in inputs}
        self.views.drop_partitions(lost)
        self.ctx.state["lead_store"].forget(lost)
        self.active -= lost
        n = self.ctx.settings.partitions
        for lead_id in [k for k in self.pending if expected_partition(k.encode(), n) in lost]:
            del self.pending[lead_id]

    async def on_recovered(self) -> None:
        """Rebuild the in-memory views for the partitions this worker now owns."""
        inputs = set(self._input_topics())
        actives = {tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic in inputs}
        rebuilt = self.views.rebuild(self.ctx.state["lead_store"].items(actives), actives)
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

    def _due(self, partition: int, now: float, detected_at: str) -> list[tuple[str, dict]]:
        """(lead, emitted stage) of every lead of ``partition`` due at ``now``."""
        store = self.ctx.state["lead_store"]
        out = []
        for lead_id in self.index.pop_due(partition, now):
            stored = StoredLead.decode(store.get(partition, lead_id.encode()), with_state=False)
            upcoming = stored.upcoming if stored is not None else None
            if upcoming is None:
                continue
            mine = self.pending.get(lead_id, ())
            if any(e["obligation"] == upcoming["obligation"] and e["generation"] == upcoming["generation"]
                   for e in mine):
                continue  # emitted already; its record is on its way
            stage = {**upcoming, "value": {**upcoming["value"], "detected_at": detected_at}}
            self.pending.setdefault(lead_id, []).append(stage)
            out.append((lead_id, stage))
        return out

    async def sweep(self) -> int:
        if not self.ready or self.app.rebalancing:
            return 0
        now = self.ctx.clock()
        detected_at = format_timestamp(to_datetime(now))
        due: dict[int, list[tuple[str, dict]]] = {}
        for partition in sorted(self.active):
            if await self._is_caught_up(partition):
                found = self._due(partition, now, detected_at)
                if found:
                    due[partition] = found
        if not due:
            return 0
        producer = self.app.producer
        # First the record of what is emitted, acknowledged, then the breach
        # events: a breach event out there is always known to the lead's next owner.
        sent = []
        for partition, items in due.items():
            for i in range(0, len(items), LEADS_PER_RECORD):
                chunk = items[i : i + LEADS_PER_RECORD]
                leads = [{"lead_id": lead, "emitted": [stage]} for lead, stage in chunk]
                record = {"run": self.ctx.run_id, "leads": leads}
                sent.append(await producer.send(self.emitted_topic, None, orjson.dumps(record), partition, None, None))
        await asyncio.gather(*sent)
        count = 0
        metrics = self.ctx.metrics
        for items in due.values():
            for lead_id, stage in items:
                value = stage["value"]
                await producer.send(self.breaches_topic, lead_id.encode(), orjson.dumps(value), None, None, None)
                metrics.breached(value["rep_id"], value["breach_type"], value["stage"], now - stage["due"])
                count += 1
        return count


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

    @app.timer(interval=1.0, name="lead-offsets")
    async def persist_offsets() -> None:
        if sweeper.ready:
            ctx.state["lead_store"].persist_offsets(sweeper.active)
