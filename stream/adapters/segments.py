"""Live segment statistics on Kafka: each worker publishes its partitions'
segment tallies (``stream.service.live_segments``) to a compacted topic at
most once a second per segment and partition, and reads the whole topic to
score with every partition's evidence. After a rebalance the rebuilt tallies
are all published again: the previous owner's last word may be stale."""

from __future__ import annotations

import logging

import orjson

from stream.adapters.compacted import CompactedTopicReader
from stream.adapters.topics import SEGMENT_STATS

log = logging.getLogger(__name__)



def install(ctx) -> None:
    app, settings = ctx.app, ctx.settings
    tally = ctx.segment_tally
    board = ctx.segment_board
    topic = settings.topic(SEGMENT_STATS)

    @app.timer(interval=1.0, name="segment-stats-publisher")
    async def publish_tallies() -> None:
        sweeper = ctx.state.get("sweeper")
        if sweeper is None or not sweeper.ready or not tally.dirty:
            return
        dirty, tally.dirty = tally.dirty, set()
        for partition, segment in sorted(dirty):
            if partition not in sweeper.active:
                continue
            snapshot = tally.snapshot(partition, segment)
            if snapshot is None:
                continue
            key = f"{segment}@{partition}".encode()
            await app.producer.send(topic, key, orjson.dumps(snapshot), None, None, None)

    def apply(key: bytes | None, value: bytes | None) -> None:
        if key is None or value is None:
            return
        record = orjson.loads(value)
        if not isinstance(record, dict) or "partition" not in record:
            return  # written by a version that kept one record per segment
        board.apply(record)

    reader = CompactedTopicReader(settings, topic, apply)
    ctx.state["segment_stats"] = reader

    @app.task
    async def read_segment_stats() -> None:
        await reader.run()
