"""Read a whole compacted topic on every worker, then keep following it.

Used for data every worker needs whatever partitions it owns: the rep roster
and the live segment statistics. It reads with a plain consumer (no group)
from the beginning; ``loaded`` is set once it has reached the end offsets
seen when it started.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from stream.adapters.kafka import consumer
from stream.settings import Settings

log = logging.getLogger(__name__)


class CompactedTopicReader:
    def __init__(self, settings: Settings, topic: str, apply: Callable[[bytes | None, bytes | None], None]):
        self.settings = settings
        self.topic = topic
        self.apply = apply
        self.loaded = asyncio.Event()
        self.records = 0

    async def run(self) -> None:
        client = consumer(self.settings, enable_auto_commit=False, group_id=None, auto_offset_reset="earliest")
        await client.start()
        try:
            # No group: every worker gets every partition, from the beginning.
            client.subscribe([self.topic])
            ends = None
            while True:
                # short waits until loaded: the worker is not ready before
                batch = await client.getmany(timeout_ms=500 if self.loaded.is_set() else 50, max_records=1000)
                for records in batch.values():
                    for record in records:
                        self.records += 1
                        try:
                            self.apply(record.key, record.value)
                        except Exception:  # one bad record must not stop the reader
                            log.exception("%s: record at offset %s ignored", self.topic, record.offset)
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
                    log.info("%s loaded: %d records", self.topic, self.records)
        finally:
            await client.stop()
