"""The lead table: one changelog-backed entry per lead, keyed by lead id.

A value is a :class:`StoredLead`: the lead's state plus what the worker's
in-memory views derive from it (the deadline index, the per-rep buckets,
breach detections, segment evidence), so that those views are rebuilt after
a rebalance without re-deriving every lead. It is stored as two lines of
JSON, the small header first, so a rebuild parses only the header.

Every change is written back as a new value: mutating a stored value in
place would write no changelog record.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import faust
import orjson

from stream.adapters.topics import changelog_name
from stream.domain.lead import LeadState
from stream.settings import Settings

# RocksDB per partition: small write buffers and block cache. Faust's
# defaults (3 × 64 MiB buffers and a 2 GiB cache per partition) let a
# worker with 8 partitions grow by gigabytes while it ingests.
ROCKSDB_OPTIONS = {
    "write_buffer_size": 16 * 1024 * 1024,
    "max_write_buffer_number": 2,
    "block_cache_size": 16 * 1024 * 1024,
    "block_cache_compressed_size": 0,
}


def lead_table(app: faust.App, settings: Settings, name: str = "leads") -> faust.Table:
    """A table of bytes to bytes with its changelog under our topic names."""
    changelog = app.topic(
        changelog_name(settings, name),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        compacting=True,
        deleting=False,
        acks=False,
        internal=True,
        maxsize=131_072,
        allow_empty=True,
    )
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        changelog_topic=changelog,
        options=dict(ROCKSDB_OPTIONS),
    )


class LeadStore:
    """The lead table's data, read and written directly: a RocksDB put plus a
    changelog record through the producer, for a fraction of what Faust's
    ``Table.__setitem__`` costs per write, and from any coroutine (the
    sweeper too), not only inside stream iteration.

    Faust still owns the table's lifecycle: it opens a RocksDB per partition,
    recovers it from the changelog after a rebalance and keeps standby
    copies. The changelog records we send are what Faust would send (raw key
    and value, the lead's partition); the highest acknowledged offset per
    partition is recorded as Faust's persisted offset once a second, so a
    restart reads only the changelog written since. ``write_staged`` returns
    only once the changelog records are acknowledged, and inputs are acked
    after it, so a committed input always has its changelog record in Kafka.

    A new value is first *staged* (in memory, what ``get`` answers) and
    written only when the caller knows the outputs that came with it are in
    Kafka (``write_staged``): the stored state, local or in the changelog,
    is never ahead of what was sent. Otherwise an input read again after a
    crash would find itself already in the state, count as a duplicate, and
    its lost breach events would never go out.
    """

    def __init__(self, app: faust.App, table: faust.Table) -> None:
        self.app = app
        self.table = table
        self.changelog = table.changelog_topic.get_topic_name()
        self._acked: dict[int, int] = {}  # partition -> highest changelog offset acknowledged
        # key -> (partition, value, version): staged, not written yet
        self._staged: dict[bytes, tuple[int, bytes, int]] = {}
        self._version = 0

    def _db(self, partition: int):
        # Faust's RocksDB store keeps one database per partition (private API).
        return self.table.data._db_for_partition(partition)

    def get(self, partition: int, key: bytes) -> bytes | None:
        staged = self._staged.get(key)
        if staged is not None:
            return staged[1]
        return self._db(partition).get(key)

    def stage(self, partition: int, key: bytes, value: bytes) -> tuple[bytes, int]:
        """Hold ``value`` until ``write_staged``; returns its ticket."""
        self._version += 1
        self._staged[key] = (partition, value, self._version)
        return key, self._version

    async def write_staged(self, tickets: list[tuple[bytes, int]]) -> None:
        """Write the staged values of ``tickets`` (those not replaced by a
        newer one meanwhile: its own ticket writes it), and return once their
        changelog records are acknowledged: the caller acks the inputs next,
        and a failed changelog send must stop the worker before their offsets
        are committed (Faust's commit only flushes the producer, whose failed
        sends nobody would see)."""
        sent = []
        for key, version in tickets:
            staged = self._staged.get(key)
            if staged is None or staged[2] != version:
                continue
            del self._staged[key]
            sent.append(await self.put(staged[0], key, staged[1]))
        if sent:
            await asyncio.gather(*sent)

    async def put(self, partition: int, key: bytes, value: bytes):
        """Write locally and send the changelog record; returns its future."""
        self._db(partition).put(key, value)
        future = await self.app.producer.send(self.changelog, key, value, partition, None, None)
        future.add_done_callback(lambda f, p=partition: self._sent(p, f))
        return future

    def _sent(self, partition: int, future) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # the producer fails the worker; recovery reads from the last persisted offset
        offset = future.result().offset
        if offset > self._acked.get(partition, -1):
            self._acked[partition] = offset

    def persist_offsets(self, partitions: set[int]) -> None:
        """Record the acknowledged changelog offsets of ``partitions`` where Faust looks for them."""
        from faust.types import TP

        for partition in partitions:
            offset = self._acked.pop(partition, None)
            if offset is not None:
                self.table.data.set_persisted_offset(TP(self.changelog, partition), offset)

    def forget(self, partitions: set[int]) -> None:
        """Drop the acknowledged offsets of lost partitions. Staged values
        stay: their outputs are sent, so the commit under way still writes
        them (the new owner then finds them in the changelog)."""
        for partition in partitions:
            self._acked.pop(partition, None)

    def items(self, partitions: set[int]):
        """(key, value) of every lead of ``partitions``."""
        offset_key = self.table.data.offset_key
        for partition in sorted(partitions):
            for key, value in self._db(partition).items():
                if key != offset_key:
                    yield key, value


@dataclass(slots=True)
class StoredLead:
    """One lead as the table holds it.

    ``wakeup``       when the deadline index must look at it again (epoch s)
    ``open_clock``   ``[started_at, owner, overdue_at]`` while uncontacted
    ``upcoming``     the stage due at ``wakeup``, ready for the sweeper
    ``rep_day``      its contribution to its rep's day bucket (``RepDay`` dict)
    ``detections``   its standing breach events by rep and day of detection
    ``segment``      its evidence for its segment (``live_segments.contribution``)
    ``state``        the ``LeadState``; None when only the header was read
    """

    partition: int
    wakeup: float | None = None
    open_clock: list | None = None
    upcoming: dict[str, Any] | None = None
    rep_day: dict[str, Any] | None = None
    detections: list | None = None
    segment: list | None = None
    state: LeadState | None = None

    def encode(self) -> bytes:
        assert self.state is not None
        header = {
            "p": self.partition,
            "w": self.wakeup,
            "o": self.open_clock,
            "u": self.upcoming,
            "r": self.rep_day,
            "e": self.detections,
            "g": self.segment,
        }
        return orjson.dumps(header) + b"\n" + orjson.dumps(self.state.to_dict())

    @classmethod
    def decode(cls, raw: bytes | None, with_state: bool = True) -> StoredLead | None:
        if raw is None:
            return None
        head, sep, body = raw.partition(b"\n")
        header = orjson.loads(head)
        if not sep:  # written before the header had a line of its own
            body = orjson.dumps(header.pop("s"))
        lead = cls(
            partition=header["p"],
            wakeup=header.get("w"),
            open_clock=header.get("o"),
            upcoming=header.get("u"),
            rep_day=header.get("r"),
            detections=header.get("e"),
            segment=header.get("g"),
        )
        if with_state:
            lead.state = LeadState.from_dict(orjson.loads(body))
        return lead


def decode(raw: bytes | None) -> LeadState | None:
    """Just the lead's state."""
    stored = StoredLead.decode(raw)
    return stored.state if stored is not None else None
