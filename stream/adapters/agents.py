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

import logging
import time

import faust
import orjson
from aiokafka.partitioner import murmur2

from schemas.types import format_timestamp
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
    processor, views, metrics = ctx.processor, ctx.views, ctx.metrics
    rep_table = ctx.rep_table
    scoring = ctx.policy.scoring
    segments_since = ctx.segments.as_of if ctx.segments is not None else None
    processed: dict = ctx.state.setdefault("processed", {})
    pending = ctx.pending_emissions
    output_names = {name: settings.topic(name) for name in ("lead-scored", "sla-breaches", "dead-letter")}
    ctx.state.update(leads=leads, lead_store=lead_store, inputs=inputs, emitted=emitted, contract=contract)

    async def send(topic: str, key: bytes | None, value: dict) -> None:
        await app.producer.send(output_names[topic], key, orjson.dumps(value), None, None, None)

    async def dead_letter(message, topic: str, error: str) -> None:
        metrics.events.labels(topic=topic, result="invalid").inc()
        payload, encoding = payload_text(message.value)
        value = {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": key_text(message.key),
            "received_at": format_timestamp(to_datetime(ctx.clock())),
            "error": error,
            "payload": payload,
            "payload_encoding": encoding,
        }
        log.warning("dead-letter %s[%s]@%s: %s", message.topic, message.partition, message.offset, error)
        await send("dead-letter", message.key, value)

    async def store(partition: int, lead_id: str, key: bytes, outcome: Outcome, old: StoredLead | None) -> None:
        state = outcome.state
        if state is None:  # nothing to write: only the wakeup may move
            if old is not None:
                views.index.schedule(partition, lead_id, outcome.next_wakeup)
            return
        now = ctx.clock()
        part = rep_table.contribution(state, now, outcome.derived)
        new = StoredLead(
            partition=partition,
            wakeup=outcome.next_wakeup,
            open_clock=list(outcome.open_clock) if outcome.open_clock else None,
            upcoming=outcome.upcoming,
            rep_day=part.to_dict() if part else None,
            detections=rep_table.detections(state),
            segment=segment_contribution(state, scoring, segments_since),
            state=state,
        )
        views.replace(lead_id, old, new)
        await lead_store.put(partition, key, new.encode())

    async def publish(outcome: Outcome) -> None:
        for topic, key, value in outcome.outputs:
            await send(topic, key.encode(), value)

    def observe(outcome: Outcome) -> None:
        for rep, workable in outcome.scored:
            metrics.scored(rep, workable)
        for rep, seconds in outcome.response_seconds:
            metrics.responded(rep, seconds)
        for b in outcome.breaches:
            metrics.breached(b.rep, b.breach_type, b.stage, b.lag_seconds)

    @app.agent(inputs, name="lead-events")
    async def lead_events(stream):
        async for event in stream.events():
            message = event.message
            topic = contract[message.topic]
            processed[(message.topic, message.partition)] = message.offset
            model = decode(topic, message.key, message.value)
            if isinstance(model, Rejected):
                await dead_letter(message, topic, model.error)
                continue
            if message.partition != expected_partition(message.key, n):
                await dead_letter(
                    message,
                    topic,
                    f"key {model.lead_id!r} is on partition {message.partition}, expected "
                    f"{expected_partition(message.key, n)}: producers of lead topics must use "
                    "the murmur2 partitioner (librdkafka: partitioner=murmur2_random)",
                )
                continue
            old = StoredLead.decode(lead_store.get(message.partition, message.key))
            state = old.state if old is not None else None
            swept = pending.get(model.lead_id)
            if state is not None and swept:
                # Stages the sweeper emitted that the stored state does not know yet.
                processor.record_emitted(state, swept)
            outcome = processor.apply(state, model, ctx.clock())
            metrics.events.labels(topic=topic, result=outcome.result).inc()
            if outcome.result == "duplicate":
                continue
            await store(message.partition, model.lead_id, message.key, outcome, old)
            if swept and state is not None:
                pending.pop(model.lead_id, None)
            await publish(outcome)
            observe(outcome)

    @app.agent(emitted, name="sla-emitted")
    async def emitted_stages(stream):
        # Records of stages the sweeper emitted on its own, one per partition
        # and sweep: they become part of each lead's state here, inside
        # stream processing, so that every change goes through the changelog.
        async for event in stream.events():
            record = orjson.loads(event.message.value)
            ours = record.get("run") == ctx.run_id
            for item in record["leads"]:
                lead_id = item["lead_id"]
                key = lead_id.encode()
                old = StoredLead.decode(lead_store.get(event.message.partition, key))
                if old is None:
                    continue
                stages = item["emitted"]
                if not ours:
                    # The worker that emitted them may have died before its
                    # breach events went out: send those the lead does not
                    # know yet again, under the same ids.
                    for entry in stages:
                        known = old.state.emitted.get(entry["obligation"])
                        if known is None or known.get("generation", 0) < entry["generation"]:
                            await send("sla-breaches", key, entry["value"])
                stages = stages + pending.pop(lead_id, [])
                outcome = processor.tick(old.state, ctx.clock(), emitted=stages)
                await store(event.message.partition, lead_id, key, outcome, old)
                await publish(outcome)
                observe(outcome)

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
