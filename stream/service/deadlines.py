"""The deadline index: which leads need a look, and when.

Faust has no per-key timers, so the worker keeps this in memory for its
active partitions and rebuilds it from the lead table after every rebalance.
Popping what is due costs O(due · log n), never O(open clocks). Entries are
lazily invalidated: a lead's newest wakeup wins, older heap entries are
skipped when they surface.

It also keeps the open response clocks by owner, for the uncontacted and
overdue gauges: an open clock is ``(started_at, owner, overdue_at)``, and
counting the overdue ones at ``now`` costs O(clocks that became overdue
since the last count), like a sweep.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

# (started_at, owner, overdue_at): epoch seconds; overdue_at None when unknown
OpenClock = tuple[float, str | None, float | None]
_MISSING = object()


def _started_by(clock: OpenClock | None) -> tuple[float, str | None] | None:
    return None if clock is None else (clock[0], clock[1])


def _decrement(counter: Counter, key) -> None:
    counter[key] -= 1
    if not counter[key]:
        del counter[key]


@dataclass(slots=True)
class _Partition:
    heap: list[tuple[float, str]] = field(default_factory=list)
    wakeup: dict[str, float] = field(default_factory=dict)


class DeadlineIndex:
    def __init__(self) -> None:
        self._partitions: dict[int, _Partition] = {}
        # lead -> (clock started_at, owner, overdue_at) for leads whose clock is open
        self._open: dict[str, OpenClock] = {}
        self._open_partition: dict[str, int] = {}
        self._rep_open: Counter[str | None] = Counter()
        self._rep_oldest: dict[str | None, list[tuple[float, str]]] = {}
        # open clocks not counted overdue yet, by overdue_at; and those counted
        self._not_overdue: list[tuple[float, str]] = []
        self._overdue: dict[str, str | None] = {}
        self._rep_overdue: Counter[str | None] = Counter()

    # -- wakeups -----------------------------------------------------------
    def schedule(self, partition: int, lead_id: str, wakeup: float | None) -> None:
        part = self._partitions.setdefault(partition, _Partition())
        if wakeup is None:
            part.wakeup.pop(lead_id, None)
            return
        if part.wakeup.get(lead_id) == wakeup:
            return
        part.wakeup[lead_id] = wakeup
        heapq.heappush(part.heap, (wakeup, lead_id))

    def pop_due(self, partition: int, now: float, limit: int = 10_000) -> list[str]:
        """Leads of ``partition`` whose wakeup is at or before ``now``; they
        leave the index until rescheduled."""
        part = self._partitions.get(partition)
        if part is None:
            return []
        due = []
        heap = part.heap
        while heap and heap[0][0] <= now and len(due) < limit:
            wakeup, lead_id = heapq.heappop(heap)
            if part.wakeup.get(lead_id) == wakeup:
                del part.wakeup[lead_id]
                due.append(lead_id)
        return due

    def next_wakeup(self, partition: int) -> float | None:
        part = self._partitions.get(partition)
        if part is None:
            return None
        heap = part.heap
        while heap and part.wakeup.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    # -- open clocks -----------------------------------------------------------
    def set_open(self, partition: int, lead_id: str, clock: Sequence | None) -> None:
        """The lead's open clock ``(started_at, owner, overdue_at)``, or None once contacted.
        Clocks stored before overdue_at was kept come as ``(started_at, owner)``: never overdue."""
        if clock is not None:
            clock = (clock[0], clock[1], clock[2] if len(clock) > 2 else None)
        old = self._open.get(lead_id)
        if old == clock:
            return
        if old is not None:
            _decrement(self._rep_open, old[1])
            if self._overdue.pop(lead_id, _MISSING) is not _MISSING:
                _decrement(self._rep_overdue, old[1])
            del self._open[lead_id]
            del self._open_partition[lead_id]
        if clock is not None:
            self._open[lead_id] = clock
            self._open_partition[lead_id] = partition
            self._rep_open[clock[1]] += 1
            heapq.heappush(self._rep_oldest.setdefault(clock[1], []), (clock[0], lead_id))
            if clock[2] is not None:
                heapq.heappush(self._not_overdue, (clock[2], lead_id))
                if len(self._not_overdue) > 2 * len(self._open) + 4096:
                    self._compact_not_overdue()

    def _compact_not_overdue(self) -> None:
        # Closed clocks leave stale entries behind (overdue_at may be days away
        # over a weekend): drop them once they outnumber the live ones.
        self._not_overdue = [
            (c[2], lead) for lead, c in self._open.items() if c[2] is not None and lead not in self._overdue
        ]
        heapq.heapify(self._not_overdue)

    @property
    def open_clocks(self) -> int:
        return len(self._open)

    def open_by_rep(self) -> Iterator[tuple[str | None, int, float]]:
        """(owner, open clocks, oldest clock start) per owner with open clocks."""
        for rep, count in list(self._rep_open.items()):
            heap = self._rep_oldest.get(rep, [])
            while heap and _started_by(self._open.get(heap[0][1])) != (heap[0][0], rep):
                heapq.heappop(heap)
            if heap:
                yield rep, count, heap[0][0]

    def oldest_open(self, limit: int) -> list[tuple[str, int, OpenClock]]:
        """The ``limit`` open clocks that started first: (lead, partition, clock),
        oldest first. Costs O(open clocks): for pages, not for every event."""
        oldest = heapq.nsmallest(limit, self._open.items(), key=lambda item: (item[1][0], item[0]))
        return [(lead_id, self._open_partition[lead_id], clock) for lead_id, clock in oldest]

    def overdue_by_rep(self, now: float) -> dict[str | None, int]:
        """Open clocks past their overdue instant at ``now``, by owner."""
        heap = self._not_overdue
        while heap and heap[0][0] <= now:
            overdue_at, lead_id = heapq.heappop(heap)
            clock = self._open.get(lead_id)
            if clock is not None and clock[2] == overdue_at and lead_id not in self._overdue:
                self._overdue[lead_id] = clock[1]
                self._rep_overdue[clock[1]] += 1
        return dict(self._rep_overdue)

    # -- partitions --------------------------------------------------------------
    def partitions(self) -> list[int]:
        return sorted(self._partitions)

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget everything of ``partitions`` (revoked: another worker owns them now)."""
        gone = set(partitions) & set(self._partitions)
        if not gone:
            return
        if gone == set(self._partitions):
            self.clear()
            return
        for p in gone:
            del self._partitions[p]
        for lead_id, p in list(self._open_partition.items()):
            if p in gone:
                self.set_open(p, lead_id, None)

    def clear(self) -> None:
        self.__init__()
