"""The worker's health: readiness, assigned partitions and consumer lag,
for ``/readyz`` and the ``sla_worker_*`` / ``sla_consumer_lag_records`` metrics."""

from __future__ import annotations

import logging

from stream.adapters.metrics import WorkerCollector
from stream.adapters.topics import LEAD_INPUTS

log = logging.getLogger(__name__)


def is_ready(ctx) -> tuple[bool, str]:
    app = ctx.app
    sweeper = ctx.state.get("sweeper")
    if app.rebalancing:
        return False, "rebalancing"
    if not app.tables.recovery.completed.is_set():
        return False, "recovering tables"
    if sweeper is None or not sweeper.ready:
        return False, "rebuilding the deadline index"
    for name, what in (
        ("roster", "the rep roster"),
        ("segment_stats", "the segment statistics"),
        ("marketing_checks", "the marketing checks"),
    ):
        reader = ctx.state.get(name)
        if reader is not None and not reader.loaded.is_set():
            return False, f"loading {what}"
    return True, "ready"


class ConsumerLag:
    """Records not processed yet on this worker's assigned input partitions.

    Read at scrape time without I/O: the consumer's highwater minus the next
    offset to process (one past the last processed, or the position when the
    partition was assigned if none was processed since).
    """

    def __init__(self, app, processed: dict, topics: dict[str, str]) -> None:
        self.app = app
        self.processed = processed  # (kafka topic, partition) -> last processed offset
        self.topics = topics  # kafka topic -> contract name
        self.assigned_at: dict[tuple[str, int], int] = {}

    async def on_recovered(self) -> None:
        consumer = self.app.consumer
        self.assigned_at = {}
        for tp in consumer.assignment():
            if tp.topic in self.topics:
                try:
                    position = await consumer.position(tp)
                except Exception as exc:  # noqa: BLE001 - a metric must not break recovery
                    log.debug("no position for %s: %s", tp, exc)
                    continue
                if position is not None:
                    self.assigned_at[(tp.topic, tp.partition)] = position

    def by_topic(self) -> dict[str, int]:
        lag = dict.fromkeys(self.topics.values(), 0)
        consumer = self.app.consumer
        try:
            assignment = consumer.assignment()
        except Exception:  # noqa: BLE001 - not started yet
            return lag
        for tp in assignment:
            name = self.topics.get(tp.topic)
            if name is None:
                continue
            highwater = consumer.highwater(tp)
            key = (tp.topic, tp.partition)
            done = self.processed.get(key)
            next_offset = done + 1 if done is not None else self.assigned_at.get(key)
            if highwater is None or next_offset is None:
                continue
            lag[name] += max(0, highwater - next_offset)
        return lag


def install(ctx) -> None:
    settings = ctx.settings
    topics = {settings.topic(name): name for name in LEAD_INPUTS}
    lag = ConsumerLag(ctx.app, ctx.state.setdefault("processed", {}), topics)
    ctx.state["leads"].on_recover(lag.on_recovered)

    def assigned() -> int:
        sweeper = ctx.state.get("sweeper")
        return len(sweeper.active) if sweeper is not None and sweeper.ready else 0

    ctx.metrics.watch(WorkerCollector(lambda: is_ready(ctx)[0], assigned, lag.by_topic))
