"""The rep roster: every worker reads the whole compacted ``reps`` topic
into its CalendarBook, since a lead on any partition may be owned by any
rep. Bad records are skipped here (the ``reps`` agent dead-letters them once
for the group)."""

from __future__ import annotations

import logging

from schemas.reps import RepRecord
from stream.adapters.compacted import CompactedTopicReader
from stream.adapters.topics import REPS
from stream.service.ingest import decode

log = logging.getLogger(__name__)


def install(ctx) -> None:
    calendars = ctx.calendars

    def apply(key: bytes | None, value: bytes | None) -> None:
        if value is None:
            if key:
                calendars.forget_rep(key.decode("utf-8", "replace"))
            return
        model = decode(REPS, key, value)
        if not isinstance(model, RepRecord):
            return
        try:
            calendars.update_rep(model)
        except ValueError as exc:
            log.warning("rep %s ignored: %s", model.rep_id, exc)
            return
        ctx.metrics.start_reps([model.rep_id])

    reader = CompactedTopicReader(ctx.settings, ctx.settings.topic(REPS), apply)
    ctx.state["roster"] = reader

    @ctx.app.task
    async def read_roster() -> None:
        await reader.run()
