"""Marketing shortfalls on wall-clock time: one worker of the group (the
owner of partition 0 of the lead topics) runs the daily pacing checks and the month-end checks of every roster rep
(``stream.service.marketing``) and emits ``marketing_shortfall`` events on
``sla-breaches``, keyed by rep, even when no lead arrives.

What was checked is kept on the compacted internal topic
``sla-marketing-checks`` (keyed by rep), which every worker reads: a new
owner, or a restarted one, does not check a rep twice on the same day. A
shortfall is sent (and acknowledged) before its check is recorded, so a
crash in between repeats it under the same id rather than losing it.
"""

from __future__ import annotations

import logging

import orjson

from stream.adapters.compacted import CompactedTopicReader
from stream.adapters.group import group_parts
from stream.adapters.topics import MARKETING_CHECKS
from stream.domain.marketing import SHORTFALL, RepChecks, after
from stream.domain.rep_stats import RepDay
from stream.service.marketing import MarketingShortfalls

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 15.0


def install(ctx) -> None:
    app, settings = ctx.app, ctx.settings
    shortfalls = MarketingShortfalls(ctx.policy, ctx.calendars)
    topic = settings.topic(MARKETING_CHECKS)
    done: dict[str, RepChecks] = {}

    def apply(key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        rep = key.decode("utf-8", "replace")
        if value is None:
            done.pop(rep, None)
        else:
            done[rep] = RepChecks.from_dict(orjson.loads(value))

    reader = CompactedTopicReader(settings, topic, apply)
    ctx.state["marketing_checks"] = reader

    @app.task
    async def read_checks() -> None:
        await reader.run()

    @app.timer(interval=CHECK_INTERVAL_SECONDS, name="marketing-checks")
    async def check() -> None:
        # One worker checks: the one that owns partition 0 of the lead topics.
        sweeper = ctx.state.get("sweeper")
        if sweeper is None or not sweeper.ready or 0 not in sweeper.active:
            return
        roster = ctx.state.get("roster")
        if not reader.loaded.is_set() or (roster is not None and not roster.loaded.is_set()):
            return
        now = ctx.clock()
        due = shortfalls.due(now, done)
        if not due:
            return
        parts, missing = await group_parts(ctx)
        if missing:
            # Counts without a worker's partitions would make false shortfalls.
            log.warning("marketing checks postponed: no answer from %s", ", ".join(missing))
            return
        buckets = [RepDay.from_dict(b) for part in parts for b in part["buckets"]]
        producer = app.producer
        for rep, due_check in due:
            verdict, event = shortfalls.evaluate(rep, due_check, buckets, now)
            key = rep.encode()
            if event is not None:
                sent = await producer.send(settings.topic("sla-breaches"), key, orjson.dumps(event), None, None, None)
                await sent
                ctx.metrics.breached(rep, SHORTFALL, event["stage"], now - due_check.due)
            done[rep] = after(done.get(rep, RepChecks()), due_check)
            await producer.send(topic, key, orjson.dumps(done[rep].to_dict()), None, None, None)
