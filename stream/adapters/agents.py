"""Faust agents: decode -> handler -> table write / emit -> metrics.

Business rules live in ``stream.service``; an agent body only moves bytes.
Values are validated inside the agent (not in a Faust codec, whose errors are
swallowed: faust-streaming #175), so every bad record reaches ``dead-letter``
with a reason and the worker keeps going.

Outputs go straight to the producer (``app.producer.send``): Faust flushes
the producer before it commits offsets, so this stays at-least-once without
waiting for every send, and skips the per-message bookkeeping of
``Topic.send_soon``.
"""

from __future__ import annotations

import asyncio
import logging
import time

import faust
import orjson
from aiokafka.partitioner import murmur2

from schemas.types import format_timestamp
from stream.adapters.lead_updates import LeadUpdates
from stream.adapters.tables import LeadStore, StoredLead, lead_table
from stream.adapters.topics import EMITTED, LEAD_INPUTS, REPS
from stream.domain.response_clock import to_datetime
from stream.service.ingest import Rejected, decode, key_text, payload_text
from stream.service.leads import Outcome
from stream.service.live_segments import contribution as segment_contribution

log = logging.getLogger(__name__)


def raw_topic(app: faust.App, *names: str, **kwargs) -> faust.TopicT:
    return app.topic(
        *names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw", **kwargs
    )


# Input events handled per batch, and the longest wait to fill one.
BATCH_EVENTS = 1000
BATCH_SECONDS = 0.02


def expected_partition(key: bytes, partitions: int) -> int:
    """Kafka's default (murmur2) partition for a key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def install(ctx) -> None:
    app, settings = ctx.app, ctx.settings
    n = settings.partitions
    contract = {settings.topic(name): name for name in LEAD_INPUTS}
    inputs = raw_topic(app, *contract, partitions=n)
    reps = raw_topic(app, settings.topic(REPS), partitions=n)
    emitted = raw_topic(app, settings.topic(EMITTED), partitions=n, internal=True)
    leads = lead_table(app, settings)
    lead_store = LeadStore(app, leads)
    updates = LeadUpdates(ctx, lead_store)
    processor, metrics = ctx.processor, ctx.metrics
    processed: dict = ctx.state.setdefault("processed", {})
    pending = ctx.pending_emissions
    ctx.state.update(leads=leads, lead_store=lead_store, lead_updates=updates, inputs=inputs, contract=contract)
    dead_letter = updates.dead_letter

    async def handle(event) -> None:
        message = event.message
        topic = contract[message.topic]
        processed[(message.topic, message.partition)] = message.offset
        model = decode(topic, message.key, message.value)
        if isinstance(model, Rejected):
            await dead_letter(message, topic, model.error)
            return
        if message.partition != expected_partition(message.key, n):
            await dead_letter(
                message,
                topic,
                f"key {model.lead_id!r} is on partition {message.partition}, expected "
                f"{expected_partition(message.key, n)}: producers of lead topics must use "
                "the murmur2 partitioner (librdkafka: partitioner=murmur2_random)",
            )
            return
        old = StoredLead.decode(lead_store.get(message.partition, message.key))
        state = old.state if old is not None else None
        swept = pending.get(model.lead_id)
        if state is not None and swept:
            # Stages the sweeper emitted that the stored state does not know yet.
            processor.record_emitted(state, swept)
        try:
            outcome = processor.apply(state, model, ctx.clock())
            if outcome.result == "ok":
                stored = updates.build(message.partition, outcome)
        except Exception as exc:  # noqa: BLE001 - a record the rules cannot take must not stop the worker
            log.exception("lead %s: %s[%s]@%s not processed", model.lead_id, message.topic, message.partition, message.offset)
            await dead_letter(message, topic, f"processing failed: {type(exc).__name__}: {exc}")
            return
        if outcome.result == "rejected":
            await dead_letter(message, topic, outcome.reason)
            return
        metrics.events.labels(topic=topic, result=outcome.result).inc()
        if outcome.result == "duplicate":
            return
        await updates.settle(message.partition, model.lead_id, message.key, outcome, old, stored)
        if swept and state is not None:
            pending.pop(model.lead_id, None)

    # Events handled but not acked: Faust may commit an input's offset only
    # once its outputs are acknowledged and its state written
    # (LeadUpdates.commit), so the agent acks by hand, a batch at a time.
    unacked: list = []
    batch = {"since": 0.0, "stream": None}
    flushing = asyncio.Lock()

    async def flush() -> None:
        async with flushing:
            events = unacked[:]
            del unacked[:]
            await updates.commit()
            for event in events:
                await batch["stream"].ack(event)

    @app.agent(inputs, name="lead-events")
    async def lead_events(stream):
        stream.enable_acks = False
        batch["stream"] = stream
        async for event in stream.events():
            await handle(event)
            if not unacked:
                batch["since"] = time.monotonic()
            unacked.append(event)
            if len(unacked) >= BATCH_EVENTS or time.monotonic() - batch["since"] >= BATCH_SECONDS:
                await flush()

    @app.timer(interval=BATCH_SECONDS, name="lead-events-flush")
    async def flush_idle() -> None:
        # No further event may come to close a batch.
        if unacked and time.monotonic() - batch["since"] >= BATCH_SECONDS:
            await flush()

    ctx.state["flush_lead_events"] = flush

    @app.agent(emitted, name="sla-emitted")
    async def emitted_stages(stream):
        # The sweeper's record of what it emits, written before the breach
        # events. The sweeper records the stages in the leads' states itself
        # once the breach events are acknowledged; a stage a state does not
        # know yet is recorded here, and when the record comes from another
        # run (the emitter died, or lost the partition, in between) its
        # breach event is sent again under the same id.
        async for event in stream.events():
            partition = event.message.partition
            record = orjson.loads(event.message.value)
            ours = record.get("run") == ctx.run_id
            for item in record["leads"]:
                lead_id = item["lead_id"]
                key = lead_id.encode()
                old = StoredLead.decode(lead_store.get(partition, key))
                if old is None:
                    continue
                unknown = [e for e in item["emitted"] if not processor.knows_emitted(old.state, e)]
                if not unknown:
                    continue
                if not ours:
                    for entry in unknown:
                        await updates.resend(key, entry["value"])
                stages = unknown + pending.pop(lead_id, [])
                outcome = processor.tick(old.state, ctx.clock(), emitted=stages)
                await updates.settle(partition, lead_id, key, outcome, old)
            await updates.commit()

    @app.agent(reps, name="reps")
    async def rep_records(stream):
        # Validation and counting only; every worker reads the whole roster
        # itself (stream.adapters.roster) since any worker may need any rep.
        async for event in stream.events():
            message = event.message
            if message.value is None:  # compaction tombstone: a rep removed
                metrics.events.labels(topic=REPS, result="ok").inc()
                continue
            model = decode(REPS, message.key, message.value)
            if isinstance(model, Rejected):
                await dead_letter(message, REPS, model.error)
                continue
            try:
                ctx.calendars.check(model)
            except ValueError as exc:
                await dead_letter(message, REPS, str(exc))
                continue
            metrics.events.labels(topic=REPS, result="ok").inc()

    ctx.state["agents"] = (lead_events, emitted_stages, rep_records)
    ctx.state["started_at"] = time.monotonic()
