"""What a worker keeps in memory about the leads of its active partitions,
derived from the lead table: the deadline index (wakeups, open clocks, the
next stage to emit), the per-rep day buckets and breach detections, and the
live segment tallies. Every change of a stored lead goes through
:meth:`LeadViews.replace`; after a rebalance :meth:`rebuild` reads the table's
headers once for all of them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import orjson

from stream.adapters.tables import StoredLead
from stream.domain.rep_stats import RepDay
from stream.service.deadlines import DeadlineIndex
from stream.service.live_segments import PartitionTally
from stream.service.rep_table import RepTable


class LeadViews:
    def __init__(self, index: DeadlineIndex, rep_table: RepTable, segments: PartitionTally) -> None:
        self.index = index
        self.rep_table = rep_table
        self.segments = segments

    def replace(self, lead_id: str, old: StoredLead | None, new: StoredLead) -> None:
        """The lead changed from ``old`` (as stored before, None if new) to ``new``."""
        p = new.partition
        self.index.schedule(p, lead_id, new.wakeup, new.upcoming)
        self.index.set_open(p, lead_id, new.open_clock)
        old_day = old.rep_day if old is not None else None
        if old_day != new.rep_day:
            self.rep_table.replace(p, old_day, RepDay.from_dict(new.rep_day) if new.rep_day else None)
        self.rep_table.replace_detections(p, old.detections if old is not None else None, new.detections)
        self.segments.replace(p, old.segment if old is not None else None, new.segment)

    def clear(self) -> None:
        self.index.clear()
        self.rep_table.clear()
        self.segments.clear()

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        partitions = set(partitions)
        self.index.drop_partitions(partitions)
        self.rep_table.drop_partitions(partitions)
        self.segments.drop_partitions(partitions)

    def rebuild(self, items: Iterable[tuple[bytes, bytes]], partitions: set[int]) -> int:
        """Forget everything, then add every stored lead of ``partitions``
        (``items``: the table's keys and raw values); returns how many.

        The worker is not ready meanwhile, so this is what a restart waits
        for: leads are counted per distinct rep-day and segment contribution
        (most leads share one with many others) and each distinct one is
        added once, times its count."""
        self.clear()
        count = 0
        rep_days: Counter[tuple[int, bytes]] = Counter()
        # (partition, segment, day, counts as JSON) -> [leads, latest fact]
        segments: dict[tuple[int, bytes], list] = {}

        def deadlines():
            nonlocal count
            for key, raw in items:
                stored = StoredLead.decode(raw, with_state=False)
                if stored is None or stored.partition not in partitions:
                    continue
                p = stored.partition
                yield p, key.decode("utf-8"), stored.wakeup, stored.open_clock
                if stored.rep_day:
                    rep_days[(p, orjson.dumps(stored.rep_day))] += 1
                if stored.detections:
                    self.rep_table.replace_detections(p, None, stored.detections)
                segment = stored.segment
                if segment:
                    group = segments.setdefault((p, orjson.dumps(segment[:3])), [0, None])
                    group[0] += 1
                    if segment[3] is not None and (group[1] is None or segment[3] > group[1]):
                        group[1] = segment[3]
                count += 1

        self.index.load(deadlines())
        for (p, part), n in rep_days.items():
            self.rep_table.add(p, RepDay.from_dict(orjson.loads(part)), n)
        for (p, part), (n, latest) in segments.items():
            self.segments.add(p, [*orjson.loads(part), latest], n)
        for p in partitions:
            self.index.schedule(p, "", None)  # make every owned partition known
        return count
