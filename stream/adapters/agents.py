"""Faust agents: decode -> handler -> table write / emit -> metrics.

Business rules live in ``stream.service``; an agent body only moves bytes.
Values are validated inside the agent (not in a Faust codec, whose errors are
swallowed: faust-streaming #175), so every bad record reaches ``dead-letter``
with a reason and the worker keeps going.
"""

from __future__ import annotations

import logging
import time

import faust
import orjson
from aiokafka.partitioner import murmur2

from schemas.types import format_timestamp
from stream.adapters.tables import decode as decode_lead
from stream.adapters.tables import encode as encode_lead
from stream.adapters.tables import lead_table
from stream.adapters.topics import LEAD_INPUTS, OUTPUTS, REPS, SEGMENT_EVIDENCE, TICKS
from stream.domain.response_clock import to_datetime
from stream.service.ingest import Rejected, decode, key_text, payload_text
from stream.service.leads import Outcome

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
    contract = {settings.topic(name): name for name in (*LEAD_INPUTS, REPS, TICKS)}
    inputs = raw_topic(app, *(settings.topic(name) for name in LEAD_INPUTS), partitions=n)
    reps = raw_topic(app, settings.topic(REPS), partitions=n)
    ticks = raw_topic(app, settings.topic(TICKS), partitions=n, internal=True)
    outputs = {name: raw_topic(app, settings.topic(name), partitions=n) for name in OUTPUTS}
    outputs[SEGMENT_EVIDENCE] = raw_topic(app, settings.topic(SEGMENT_EVIDENCE), partitions=n, internal=True)
    leads = lead_table(app, settings)
    rep_table = ctx.rep_table
    processor, index, metrics = ctx.processor, ctx.index, ctx.metrics
    rep_label = metrics.rep_label
    processed: dict = ctx.state.setdefault("processed", {})
    ctx.state.update(leads=leads, ticks=ticks, inputs=inputs, outputs=outputs, contract=contract)

    def dead_letter(message, topic: str, error: str) -> None:
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
        outputs["dead-letter"].send_soon(key=message.key, value=orjson.dumps(value))

    def publish(outcome: Outcome) -> None:
        # Buffered: Faust flushes the producer before it commits offsets, so
        # this stays at-least-once without awaiting every send.
        for topic, key, value in outcome.outputs:
            outputs[topic].send_soon(key=key.encode(), value=orjson.dumps(value))

    def store(partition: int, lead_id: str, outcome: Outcome, envelope: dict) -> None:
        if outcome.state is not None:
            part = rep_table.contribution(outcome.state, ctx.clock())
            rep_table.replace(partition, envelope.get("r"), part)
            detections = rep_table.detections(outcome.state)
            rep_table.replace_detections(partition, envelope.get("e"), detections)
            leads[lead_id.encode()] = encode_lead(
                partition,
                outcome.state,
                outcome.next_wakeup,
                outcome.open_clock,
                part.to_dict() if part else None,
                detections,
            )
        index.schedule(partition, lead_id, outcome.next_wakeup)
        index.set_open(partition, lead_id, outcome.open_clock)

    def observe(outcome: Outcome) -> None:
        for rep, workable in outcome.scored:
            metrics.leads_scored.labels(rep=rep_label(rep), workable=str(workable).lower()).inc()
        for rep, seconds in outcome.response_seconds:
            metrics.first_response.labels(rep=rep_label(rep)).observe(seconds)
        for b in outcome.breaches:
            metrics.breaches.labels(rep=rep_label(b.rep), breach_type=b.breach_type, stage=b.stage).inc()
            if b.lag_seconds is not None:
                metrics.timer_lag.labels(breach_type=b.breach_type).observe(max(0.0, b.lag_seconds))

    def settle(partition: int, lead_id: str, outcome: Outcome, envelope: dict) -> None:
        store(partition, lead_id, outcome, envelope)
        publish(outcome)
        observe(outcome)

    @app.agent(inputs, name="lead-events")
    async def lead_events(stream):
        async for event in stream.events():
            message = event.message
            topic = contract[message.topic]
            processed[(message.topic, message.partition)] = message.offset
            model = decode(topic, message.key, message.value)
            if isinstance(model, Rejected):
                dead_letter(message, topic, model.error)
                continue
            if message.partition != expected_partition(message.key, n):
                dead_letter(
                    message,
                    topic,
                    f"key {model.lead_id!r} is on partition {message.partition}, expected "
                    f"{expected_partition(message.key, n)}: producers of lead topics must use "
                    "the murmur2 partitioner (librdkafka: partitioner=murmur2_random)",
                )
                continue
            envelope, state = decode_lead(leads.get(message.key))
            outcome = ctx.processor.apply(state, model, ctx.clock())
            metrics.events.labels(topic=topic, result=outcome.result).inc()
            if outcome.result == "duplicate":
                continue
            settle(message.partition, model.lead_id, outcome, envelope)

    @app.agent(ticks, name="sla-ticks")
    async def sla_ticks(stream):
        async for event in stream.events():
            message = event.message
            if not message.key:
                continue
            lead_id = message.key.decode("utf-8", "replace")
            envelope, state = decode_lead(leads.get(message.key))
            outcome = processor.tick(state, ctx.clock())
            settle(message.partition, lead_id, outcome, envelope)

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
                dead_letter(message, REPS, model.error)
                continue
            try:
                ctx.calendars.check(model)
            except ValueError as exc:
                dead_letter(message, REPS, str(exc))
                continue
            metrics.events.labels(topic=REPS, result="ok").inc()

    ctx.state["agents"] = (lead_events, sla_ticks, rep_records)
    ctx.state["started_at"] = time.monotonic()
