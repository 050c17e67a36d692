"""The rep roster reader: every worker reads the whole compacted ``reps``
topic into its CalendarBook, since a lead on any partition may be owned by
any rep. It reads with a plain consumer (no group) from the beginning and
keeps following; bad records are skipped here (the ``reps`` agent
dead-letters them once for the group).
"""

from __future__ import annotations

import asyncio
import logging

from schemas.reps import RepRecord
from stream.adapters.kafka import consumer
from stream.adapters.topics import REPS
from stream.service.ingest import decode

log = logging.getLogger(__name__)


class RosterReader:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.loaded = asyncio.Event()
        self.records = 0

    async def run(self) -> None:
        settings = self.ctx.settings
        topic = settings.topic(REPS)
        client = consumer(settings, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest")
        await client.start()
        try:
            # No group: every worker gets every partition, from the beginning.
            client.subscribe([topic])
            ends = None
            while True:
                batch = await client.getmany(timeout_ms=500, max_records=1000)
                for records in batch.values():
                    for record in records:
                        self._apply(record.key, record.value)
                if self.loaded.is_set():
                    continue
                tps = client.assignment()
                if not tps:
                    continue
                if ends is None:
                    ends = await client.end_offsets(list(tps))
                positions = {tp: await client.position(tp) for tp in tps}
                if all(positions[tp] >= ends.get(tp, 0) for tp in tps):
                    self.loaded.set()
                    log.info("roster loaded: %d records", self.records)
        finally:
            await client.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if value is None:
            if key:
                self.ctx.calendars.forget_rep(key.decode("utf-8", "replace"))
            return
        model = decode(REPS, key, value)
        if not isinstance(model, RepRecord):
            return
        try:
            self.ctx.calendars.update_rep(model)
            self.records += 1
        except ValueError as exc:
            log.warning("rep %s ignored: %s", model.rep_id, exc)


def install(ctx) -> None:
    reader = RosterReader(ctx)
    ctx.state["roster"] = reader

    @ctx.app.task
    async def read_roster() -> None:
        await reader.run()
