"""Live segment statistics: the lead agent's evidence records are folded per
segment by the ``segment-evidence`` agent (a changelog-backed table keyed by
segment), which publishes each segment's statistics to a compacted topic
that every worker reads for scoring."""

from __future__ import annotations

import faust
import orjson

from stream.adapters.agents import raw_topic
from stream.adapters.compacted import CompactedTopicReader
from stream.adapters.topics import SEGMENT_EVIDENCE, SEGMENT_STATS, changelog_name
from stream.domain.segments import SegmentStats
from stream.service.segment_evidence import SegmentLearner


def install(ctx) -> None:
    app, settings = ctx.app, ctx.settings
    n = settings.partitions
    evidence = ctx.state["outputs"][SEGMENT_EVIDENCE]
    published = raw_topic(app, settings.topic(SEGMENT_STATS), partitions=n, internal=True)
    table = app.Table(
        "segments",
        key_type=bytes,
        value_type=bytes,
        partitions=n,
        changelog_topic=raw_topic(
            app,
            changelog_name(settings, "segments"),
            partitions=n,
            compacting=True,
            deleting=False,
            internal=True,
        ),
    )
    learner = SegmentLearner(ctx.policy.scoring, ctx.segments)
    # segment -> latest statistics not yet published. Publishing at most once
    # a second per segment keeps a busy segment from costing a message per
    # event; the table (and its changelog) has every update.
    pending: dict[bytes, bytes] = {}

    @app.agent(evidence, name="segment-evidence")
    async def fold(stream: faust.StreamT):
        async for event in stream.events():
            message = event.message
            try:
                record = orjson.loads(message.value)
            except orjson.JSONDecodeError:
                continue
            stored = table.get(message.key)
            new = learner.apply(orjson.loads(stored) if stored else None, record)
            if new is None:
                continue
            table[message.key] = orjson.dumps(new)
            pending[message.key] = orjson.dumps(new["stats"])

    @app.timer(interval=1.0, name="segment-stats-publisher")
    async def publish_pending() -> None:
        while pending:
            key, value = pending.popitem()
            published.send_soon(key=key, value=value)

    async def republish() -> None:
        # After a rebalance or a crash: what was pending may be lost, so
        # publish every segment this worker now owns.
        for key, raw in table.items():
            pending[key] = orjson.dumps(orjson.loads(raw)["stats"])

    table.on_recover(republish)

    live = ctx.live_segments

    def apply(key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        segment = key.decode("utf-8", "replace")
        if value is None:
            live.pop(segment, None)
        else:
            live[segment] = SegmentStats.from_dict(orjson.loads(value))

    reader = CompactedTopicReader(settings, settings.topic(SEGMENT_STATS), apply)
    ctx.state["segment_stats"] = reader

    @app.task
    async def read_segment_stats() -> None:
        await reader.run()
