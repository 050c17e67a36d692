"""Writing a lead's outcome back: the stored lead and the in-memory views,
its outputs (lead-scored, breaches) and its metrics. Shared by the agents
and the sweeper, so a change is settled the same way whoever made it.

Outputs go straight to the producer (``app.producer.send``): Faust flushes
the producer before it commits offsets, so this stays at-least-once without
waiting for every send, and skips the per-message bookkeeping of
``Topic.send_soon``.
"""

from __future__ import annotations

import asyncio
import logging

import orjson

from schemas.types import format_timestamp
from stream.adapters.logs import Throttle
from stream.adapters.tables import LeadStore, StoredLead
from stream.domain.response_clock import to_datetime
from stream.service.ingest import key_text, payload_text
from stream.service.leads import Outcome
from stream.service.live_segments import contribution as segment_contribution

log = logging.getLogger(__name__)

OUTPUTS = ("lead-scored", "sla-breaches", "dead-letter")


class LeadUpdates:
    """Outcomes are *staged*: their outputs sent and their new state held
    in memory (the views see it at once); ``commit`` waits for those outputs
    to be acknowledged, then writes the states. The stored state is thus
    never ahead of the outputs: an input read again after a crash finds its
    effects missing and produces them again (same ids), instead of passing
    for a duplicate whose breach events were lost."""

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
        self._sent: list = []  # output futures of the staged outcomes
        self._tickets: list[tuple[bytes, int]] = []
        self._dead_letter_log = Throttle(log)

    async def send(self, topic: str, key: bytes | None, value: dict):
        return await self.app.producer.send(self.topics[topic], key, orjson.dumps(value), None, None, None)

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
        self._dead_letter_log.warning("dead-letter %s[%s]@%s: %s", message.topic, message.partition, message.offset, error)
        await self.send("dead-letter", message.key, value)

    async def settle(
        self,
        partition: int,
        lead_id: str,
        key: bytes,
        outcome: Outcome,
        old: StoredLead | None,
        new: StoredLead | None = None,
    ) -> None:
        """Send what the outcome produced and stage its state (see ``commit``);
        ``new``: the stored lead already built from it (``build``)."""
        if new is None and outcome.state is not None:
            new = self.build(partition, outcome)
        for topic, out_key, value in outcome.outputs:
            self._sent.append(await self.send(topic, out_key.encode(), value))
        self.stage(partition, lead_id, key, outcome, old, new)
        self.observe(outcome)

    async def resend(self, key: bytes, breach: dict) -> None:
        """A breach event that may have been lost, sent again under its id."""
        self._sent.append(await self.send("sla-breaches", key, breach))

    async def commit(self) -> None:
        """Once every output sent so far is acknowledged, write the states
        staged with them."""
        sent, self._sent = self._sent, []
        tickets, self._tickets = self._tickets, []
        if sent:
            await asyncio.gather(*sent)
        # A staged state may record stages the sweeper is still emitting
        # (folded in from ``pending``): it is written only once their breach
        # events are acknowledged too, or a crash in between loses them.
        sweeper = self.ctx.state.get("sweeper")
        if sweeper is not None:
            await sweeper.breaches_acknowledged()
        await self.store.write_staged(tickets)

    def build(self, partition: int, outcome: Outcome) -> StoredLead | None:
        """The stored lead of an outcome with a new state (None without one)."""
        state = outcome.state
        if state is None:
            return None
        part = self.rep_table.contribution(state, self.ctx.clock(), outcome.derived)
        return StoredLead(
            partition=partition,
            wakeup=outcome.next_wakeup,
            open_clock=list(outcome.open_clock) if outcome.open_clock else None,
            upcoming=outcome.upcoming,
            rep_day=part.to_dict() if part else None,
            detections=self.rep_table.detections(state),
            segment=segment_contribution(state, self.scoring, self.segments_since),
            state=state,
        )

    def stage(
        self, partition: int, lead_id: str, key: bytes, outcome: Outcome, old: StoredLead | None, new: StoredLead | None
    ) -> None:
        if new is None:  # nothing to write: only the wakeup may move
            if old is not None:
                self.views.index.schedule(partition, lead_id, outcome.next_wakeup)
            return
        self.views.replace(lead_id, old, new)
        self._tickets.append(self.store.stage(partition, key, new.encode()))

    def observe(self, outcome: Outcome) -> None:
        metrics = self.metrics
        for rep, workable in outcome.scored:
            metrics.scored(rep, workable)
        for rep, seconds in outcome.response_seconds:
            metrics.responded(rep, seconds)
        for b in outcome.breaches:
            metrics.breached(b.rep, b.breach_type, b.stage, b.lag_seconds)
