"""Writing a lead's outcome back: the stored lead and the in-memory views,
its outputs (lead-scored, breaches) and its metrics. Shared by the agents
and the sweeper, so a change is settled the same way whoever made it.

Outputs go straight to the producer (``app.producer.send``): Faust flushes
the producer before it commits offsets, so this stays at-least-once without
waiting for every send, and skips the per-message bookkeeping of
``Topic.send_soon``.
"""

from __future__ import annotations

import logging

import orjson

from schemas.types import format_timestamp
from stream.adapters.tables import LeadStore, StoredLead
from stream.domain.response_clock import to_datetime
from stream.service.ingest import key_text, payload_text
from stream.service.leads import Outcome
from stream.service.live_segments import contribution as segment_contribution

log = logging.getLogger(__name__)

OUTPUTS = ("lead-scored", "sla-breaches", "dead-letter")


class LeadUpdates:
    def __init__(self, ctx, store: LeadStore) -> None:
        self.ctx = ctx
        self.app = ctx.app
        self.store = store
        self.views = ctx.views
        self.rep_table = ctx.rep_table
        self.metrics = ctx.metrics
        self.scoring = ctx.policy.scoring
        self.segments_since = ctx.segments.as_of if ctx.segments is not None else None
        self.topics = {name: ctx.settings.topic(name) for name in OUTPUTS}

    async def send(self, topic: str, key: bytes | None, value: dict) -> None:
        await self.app.producer.send(self.topics[topic], key, orjson.dumps(value), None, None, None)

    async def dead_letter(self, message, topic: str, error: str) -> None:
        self.metrics.events.labels(topic=topic, result="invalid").inc()
        payload, encoding = payload_text(message.value)
        value = {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "key": key_text(message.key),
            "received_at": format_timestamp(to_datetime(self.ctx.clock())),
            "error": error,
            "payload": payload,
            "payload_encoding": encoding,
        }
        log.warning("dead-letter %s[%s]@%s: %s", message.topic, message.partition, message.offset, error)
        await self.send("dead-letter", message.key, value)

    async def settle(self, partition: int, lead_id: str, key: bytes, outcome: Outcome, old: StoredLead | None) -> None:
        """Store the outcome, then publish and count what it produced."""
        await self.write(partition, lead_id, key, outcome, old)
        for topic, out_key, value in outcome.outputs:
            await self.send(topic, out_key.encode(), value)
        self.observe(outcome)

    async def write(self, partition: int, lead_id: str, key: bytes, outcome: Outcome, old: StoredLead | None) -> None:
        state = outcome.state
        if state is None:  # nothing to write: only the wakeup may move
            if old is not None:
                self.views.index.schedule(partition, lead_id, outcome.next_wakeup)
            return
        now = self.ctx.clock()
        part = self.rep_table.contribution(state, now, outcome.derived)
        new = StoredLead(
            partition=partition,
            wakeup=outcome.next_wakeup,
            open_clock=list(outcome.open_clock) if outcome.open_clock else None,
            upcoming=outcome.upcoming,
            rep_day=part.to_dict() if part else None,
            detections=self.rep_table.detections(state),
            segment=segment_contribution(state, self.scoring, self.segments_since),
            state=state,
        )
        self.views.replace(lead_id, old, new)
        await self.store.put(partition, key, new.encode())

    def observe(self, outcome: Outcome) -> None:
        metrics = self.metrics
        for rep, workable in outcome.scored:
            metrics.scored(rep, workable)
        for rep, seconds in outcome.response_seconds:
            metrics.responded(rep, seconds)
        for b in outcome.breaches:
            metrics.breached(b.rep, b.breach_type, b.stage, b.lag_seconds)
