"""The deadline index: which leads need a look, and when.

Faust has no per-key timers, so the worker keeps this in memory for its
active partitions and rebuilds it from the lead table after every rebalance.
Popping what is due costs O(due · log n), never O(open clocks). Entries are
lazily invalidated: a lead's newest wakeup wins, older heap entries are
skipped when they surface.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Partition:
    heap: list[tuple[float, str]] = field(default_factory=list)
    wakeup: dict[str, float] = field(default_factory=dict)


class DeadlineIndex:
    def __init__(self) -> None:
        self._partitions: dict[int, _Partition] = {}
        # lead -> (clock started_at, owner) for leads whose clock is open
        self._open: dict[str, tuple[float, str | None]] = {}
        self._open_partition: dict[str, int] = {}
        self._rep_open: Counter[str | None] = Counter()
        self._rep_oldest: dict[str | None, list[tuple[float, str]]] = {}

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
    def set_open(self, partition: int, lead_id: str, clock: tuple[float, str | None] | None) -> None:
        old = self._open.get(lead_id)
        if old == clock:
            return
        if old is not None:
            self._rep_open[old[1]] -= 1
            if not self._rep_open[old[1]]:
                del self._rep_open[old[1]]
            del self._open[lead_id]
            del self._open_partition[lead_id]
        if clock is not None:
            self._open[lead_id] = clock
            self._open_partition[lead_id] = partition
            self._rep_open[clock[1]] += 1
            heapq.heappush(self._rep_oldest.setdefault(clock[1], []), (clock[0], lead_id))

    @property
    def open_clocks(self) -> int:
        return len(self._open)

    def open_by_rep(self) -> Iterator[tuple[str | None, int, float]]:
        """(owner, open clocks, oldest clock start) per owner with open clocks."""
        for rep, count in list(self._rep_open.items()):
            heap = self._rep_oldest.get(rep, [])
            while heap and self._open.get(heap[0][1]) != (heap[0][0], rep):
                heapq.heappop(heap)
            if heap:
                yield rep, count, heap[0][0]

    # -- partitions --------------------------------------------------------------
    def partitions(self) -> list[int]:
        return sorted(self._partitions)

    def clear(self) -> None:
        self.__init__()
