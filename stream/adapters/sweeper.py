"""The sweeper: emits the SLA stages that fall due, on wall-clock time.

Every worker sweeps its own active partitions (never standby copies) ten
times a second, and pauses while a rebalance is under way. For each lead the
deadline index says is due, the stage to emit was prepared with the lead's
last change (``StoredLead.upcoming``), so the sweeper emits it without
re-deriving the lead: a "Monday morning" of a hundred thousand stages due
in one second costs a table read and two sends each.

The emission is written ahead to the internal ``sla-emitted`` topic, on the
lead's own partition, in records of up to 500 leads, each acknowledged
before its breach events go out; once those are acknowledged too, the
sweeper records the stages in the leads' states (through the changelog)
and prepares their next stages. Until then the worker keeps them in
memory (``pending``), and the lead agent folds them into any event of that
lead first. A record whose stages a state does not know after a crash or a
rebalance has its breach events sent again by the partition's owner, under
the same ids.

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
# Due leads one sweep takes on, over all its partitions: a Monday morning of
# 100,000 goes out in one sweep; more waits for the next (memory stays bounded).
DUE_PER_SWEEP = 200_000
# Leads whose states are updated between two looks at the event loop.
LEADS_PER_YIELD = 200


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
        self.in_flight: set[asyncio.Future] = set()
        self.emitting = False
        # Clear while an emission's breach events are not all acknowledged.
        self._acknowledged = asyncio.Event()
        self._acknowledged.set()
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
        try:
            await self._recovered()
        except Exception as exc:
            # Faust would swallow it and leave the worker never ready.
            log.exception("rebuilding after the rebalance failed; stopping the worker")
            await self.app.crash(exc)

    async def _recovered(self) -> None:
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
        """True once the agent has *processed* every input record that was
        waiting for the partition at assignment (fetched is not enough: a
        call in the stream's buffer must stop its clock before the sweep)."""
        if partition in self.caught_up:
            return True
        processed = self.ctx.state.get("processed", {})
        for tp, end in self.targets.get(partition, {}).items():
            if end is None or end <= 0:
                continue
            done = processed.get((tp.topic, tp.partition))
            if done is not None and done >= end - 1:
                continue
            # Faust's record of the group's committed offset (set by its seek
            # after the assignment, then by every commit).
            committed = getattr(self.app.consumer, "_committed_offset", {}).get(tp)
            if committed is not None and committed >= end:
                continue  # nothing was waiting, or it is processed and committed
            return False
        self.caught_up.add(partition)
        return True

    def _due(self, partition: int, now: float, detected_at: str) -> list[tuple[str, dict | None]]:
        """(lead, stage to emit) of every lead of ``partition`` due at ``now``;
        the stage is None when the lead is only due for a fresh look (a fact
        whose time has come, a clock past its deadline)."""
        store = self.ctx.state["lead_store"]
        out = []
        limit = max(10_000, DUE_PER_SWEEP // max(1, len(self.active)))
        for lead_id in self.index.pop_due(partition, now, limit):
            stored = StoredLead.decode(store.get(partition, lead_id.encode()), with_state=False)
            if stored is None:
                continue
            upcoming = stored.upcoming
            if upcoming is None or upcoming.get("at", upcoming["due"]) > now:
                out.append((lead_id, None))
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
        """Emit what is due. The work after the first send runs to its end
        even when the worker stops meanwhile (``finish`` waits for it), so a
        clean stop leaves no emitted stage unrecorded."""
        if self.emitting or not self.ready or self.app.rebalancing:
            return 0
        now = self.ctx.clock()
        detected_at = format_timestamp(to_datetime(now))
        due: dict[int, list[tuple[str, dict]]] = {}
        refresh: dict[int, list[str]] = {}
        for partition in sorted(self.active):
            if await self._is_caught_up(partition):
                for lead_id, stage in self._due(partition, now, detected_at):
                    if stage is None:
                        refresh.setdefault(partition, []).append(lead_id)
                    else:
                        due.setdefault(partition, []).append((lead_id, stage))
        if refresh:
            await self._refresh(refresh)
        if not due:
            return 0
        # The next sweep may start once the breach events are out; recording
        # them in the states (step 3) goes on meanwhile.
        self.emitting = True
        emitted = asyncio.Event()
        task = asyncio.ensure_future(self._emit(due, now, emitted))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        task.add_done_callback(self._failed)
        task.add_done_callback(lambda _: emitted.set())
        try:
            await asyncio.shield(emitted.wait())
        finally:
            self.emitting = False
        return sum(len(items) for items in due.values())

    def _failed(self, task: asyncio.Future) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # Emitted stages may not be recorded: stop, and let the restart (or
        # the partitions' next owner) read the sla-emitted records.
        log.error("sweeper: emitting due stages failed: %r; stopping the worker", task.exception())
        asyncio.ensure_future(self.app.crash(task.exception()))

    async def breaches_acknowledged(self) -> None:
        """Wait until the breach events of the emission under way, if any,
        are acknowledged (a state may record its stages only then)."""
        await self._acknowledged.wait()

    async def _emit(self, due: dict[int, list[tuple[str, dict]]], now: float, emitted: asyncio.Event) -> None:
        self._acknowledged.clear()  # set again only once step 2 is acknowledged; a failure stops the worker
        producer = self.app.producer
        metrics = self.ctx.metrics

        async def breach_events(recorded, items: list[tuple[str, dict]]) -> None:
            # 2. The breach events, once their record is acknowledged.
            await recorded
            sent = []
            for lead_id, stage in items:
                value = stage["value"]
                sent.append(await producer.send(self.breaches_topic, lead_id.encode(), orjson.dumps(value), None, None, None))
                metrics.breached(value["rep_id"], value["breach_type"], value["stage"], now - stage["due"])
            await asyncio.gather(*sent)

        # 1. The record of what is emitted, acknowledged: a breach event out
        #    there is always known to the lead's next owner. Each record's
        #    breach events go as soon as it is acknowledged, not after all.
        chunks = []
        for partition, items in due.items():
            for i in range(0, len(items), LEADS_PER_RECORD):
                part = items[i : i + LEADS_PER_RECORD]
                leads = [{"lead_id": lead, "emitted": [stage]} for lead, stage in part]
                record = {"run": self.ctx.run_id, "leads": leads}
                recorded = await producer.send(self.emitted_topic, None, orjson.dumps(record), partition, None, None)
                chunks.append(asyncio.ensure_future(breach_events(recorded, part)))
        try:
            await asyncio.gather(*chunks)
        except BaseException:
            for chunk in chunks:
                chunk.cancel()
            raise
        self._acknowledged.set()
        emitted.set()
        # 3. The leads' states record them, and their next stage is prepared.
        updates, store, processor = self.ctx.state["lead_updates"], self.ctx.state["lead_store"], self.ctx.processor
        for partition, items in due.items():
            for n, (lead_id, _) in enumerate(items, 1):
                if partition not in self.active:
                    continue  # lost meanwhile: the new owner reads the record
                if n % LEADS_PER_YIELD == 0:
                    await asyncio.sleep(0)  # the agents and the next sweep go on meanwhile
                key = lead_id.encode()
                old = StoredLead.decode(store.get(partition, key))
                stages = self.pending.pop(lead_id, [])
                if old is None or not stages:
                    continue  # an input event of the lead recorded them first
                outcome = processor.tick(old.state, self.ctx.clock(), emitted=stages)
                await updates.settle(partition, lead_id, key, outcome, old)
            await updates.commit()
            await asyncio.sleep(0)  # let the agents in between partitions

    async def _refresh(self, leads: dict[int, list[str]]) -> None:
        """Evaluate leads again at wall-clock now: their per-rep figures, and
        when to look next."""
        updates, store, processor = self.ctx.state["lead_updates"], self.ctx.state["lead_store"], self.ctx.processor
        for partition, lead_ids in leads.items():
            for lead_id in lead_ids:
                key = lead_id.encode()
                old = StoredLead.decode(store.get(partition, key))
                if old is None:
                    continue
                outcome = processor.tick(old.state, self.ctx.clock(), emitted=self.pending.pop(lead_id, []))
                if outcome.state is None:
                    outcome.state = old.state  # the figures changed with time, not the facts
                await updates.settle(partition, lead_id, key, outcome, old)
        await updates.commit()

    async def finish(self) -> None:
        """Wait for the emissions under way, if any (at shutdown)."""
        if self.in_flight:
            await asyncio.gather(*self.in_flight, return_exceptions=True)


def install(ctx) -> None:
    app = ctx.app
    sweeper = Sweeper(ctx)
    ctx.state["sweeper"] = sweeper
    leads = ctx.state["leads"]
    leads.on_recover(sweeper.on_recovered)

    @app.on_partitions_revoked.connect
    async def _paused(sender, revoked, **kwargs) -> None:  # noqa: ARG001
        ctx.metrics.rebalances.inc()
        sweeper.ready = False
        # What was handled so far is written before the partitions go: its
        # inputs may be committed (the new owner then does not read them again).
        flush = ctx.state.get("flush_lead_events")
        if flush is not None:
            await flush()
        await sweeper.finish()
        sweeper.on_rebalance_start(revoked)

    @app.timer(interval=ctx.settings.sweep_interval_seconds, name="sla-sweeper")
    async def sweep() -> None:
        await sweeper.sweep()

    @app.on_before_shutdown.connect
    async def _finish(sender, **kwargs) -> None:  # noqa: ARG001
        await sweeper.finish()

    @app.timer(interval=1.0, name="lead-offsets")
    async def persist_offsets() -> None:
        if sweeper.ready:
            ctx.state["lead_store"].persist_offsets(sweeper.active)
