"""The deadline index: which leads need a look, and when.

Faust has no per-key timers, so the worker keeps this in memory for its
active partitions and rebuilds it from the lead table after every rebalance.
Popping what is due costs O(due · log n), never O(open clocks). Heap entries
are lazily invalidated: a lead's newest wakeup wins, older heap entries are
skipped when they surface.

It also keeps the open response clocks by owner, for the uncontacted and
overdue gauges: an open clock is ``(started_at, owner, overdue_at)``, and
counting the overdue ones at ``now`` costs O(clocks that became overdue
since the last count), like a sweep.

One small entry per lead (about half a kilobyte with its heap entries): a
worker holds a million open clocks in a few hundred megabytes.
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence

# (started_at, owner, overdue_at): epoch seconds; overdue_at None when unknown
OpenClock = tuple[float, str | None, float | None]


class _Entry:
    # ``lead`` is the one string object of the lead's id that every heap
    # entry shares: ids decoded afresh for each event would each cost memory.
    __slots__ = ("lead", "partition", "wakeup", "clock", "overdue")

    def __init__(self, lead: str, partition: int) -> None:
        self.lead = lead
        self.partition = partition
        self.wakeup: float | None = None
        self.clock: OpenClock | None = None
        self.overdue = False  # counted in _rep_overdue


def _decrement(counter: Counter, key) -> None:
    counter[key] -= 1
    if not counter[key]:
        del counter[key]


class DeadlineIndex:
    def __init__(self) -> None:
        self._leads: dict[str, _Entry] = {}
        self._heaps: dict[int, list[tuple[float, str]]] = {}  # partition -> (wakeup, lead)
        self._rep_open: Counter[str | None] = Counter()
        self._rep_oldest: dict[str | None, list[tuple[float, str]]] = {}
        self._not_overdue: list[tuple[float, str]] = []  # (overdue_at, lead) not counted yet
        self._rep_overdue: Counter[str | None] = Counter()
        self._open = 0

    def _entry(self, partition: int, lead_id: str) -> _Entry:
        entry = self._leads.get(lead_id)
        if entry is None:
            entry = self._leads[lead_id] = _Entry(lead_id, partition)
        return entry

    def _forget_if_idle(self, lead_id: str, entry: _Entry) -> None:
        if entry.wakeup is None and entry.clock is None:
            del self._leads[lead_id]

    # -- wakeups -----------------------------------------------------------
    def schedule(self, partition: int, lead_id: str, wakeup: float | None, upcoming=None) -> None:
        """When to look at the lead next (None: never). ``upcoming`` (what is
        due then) is kept with the lead in the table, not here."""
        heap = self._heaps.setdefault(partition, [])
        if not lead_id:
            return  # only makes the partition known
        entry = self._leads.get(lead_id)
        if wakeup is None:
            if entry is not None:
                entry.wakeup = None
                self._forget_if_idle(lead_id, entry)
            return
        entry = entry or self._entry(partition, lead_id)
        if entry.wakeup == wakeup:
            return
        entry.wakeup = wakeup
        entry.partition = partition
        heapq.heappush(heap, (wakeup, entry.lead))

    def pop_due(self, partition: int, now: float, limit: int = 10_000) -> list[str]:
        """Leads of ``partition`` whose wakeup is at or before ``now``; they
        leave the index until rescheduled."""
        heap = self._heaps.get(partition)
        if not heap:
            return []
        due = []
        while heap and heap[0][0] <= now and len(due) < limit:
            wakeup, lead_id = heapq.heappop(heap)
            entry = self._leads.get(lead_id)
            if entry is not None and entry.wakeup == wakeup and entry.partition == partition:
                entry.wakeup = None
                self._forget_if_idle(lead_id, entry)
                due.append(lead_id)
        return due

    def next_wakeup(self, partition: int) -> float | None:
        heap = self._heaps.get(partition)
        if not heap:
            return None
        while heap:
            wakeup, lead_id = heap[0]
            entry = self._leads.get(lead_id)
            if entry is not None and entry.wakeup == wakeup and entry.partition == partition:
                return wakeup
            heapq.heappop(heap)
        return None

    # -- open clocks -----------------------------------------------------------
    def set_open(self, partition: int, lead_id: str, clock: Sequence | None) -> None:
        """The lead's open clock ``(started_at, owner, overdue_at)``, or None once contacted.
        Clocks stored before overdue_at was kept come as ``(started_at, owner)``: never overdue."""
        if clock is not None:
            # Owners repeat across leads: one string object per rep.
            owner = sys.intern(clock[1]) if clock[1] is not None else None
            clock = (clock[0], owner, clock[2] if len(clock) > 2 else None)
        entry = self._leads.get(lead_id)
        old = entry.clock if entry is not None else None
        if old == clock:
            return
        if old is not None:
            _decrement(self._rep_open, old[1])
            if entry.overdue:
                _decrement(self._rep_overdue, old[1])
                entry.overdue = False
            entry.clock = None
            self._open -= 1
        if clock is None:
            if entry is not None:
                self._forget_if_idle(lead_id, entry)
            return
        entry = entry or self._entry(partition, lead_id)
        entry.partition = partition
        entry.clock = clock
        self._open += 1
        self._rep_open[clock[1]] += 1
        heapq.heappush(self._rep_oldest.setdefault(clock[1], []), (clock[0], entry.lead))
        if clock[2] is not None:
            heapq.heappush(self._not_overdue, (clock[2], entry.lead))
            if len(self._not_overdue) > 2 * self._open + 4096:
                self._compact()

    def load(self, leads: Iterable[tuple[int, str, float | None, Sequence | None]]) -> None:
        """Fill the index, empty so far, with ``(partition, lead, wakeup, open
        clock)`` of many leads (a rebuild): what :meth:`schedule` and
        :meth:`set_open` do per lead, with each heap made in one pass."""
        if self._leads:
            raise ValueError("load() fills an empty index")
        leads_, heaps, oldest, not_overdue, rep_open = (
            self._leads, self._heaps, self._rep_oldest, self._not_overdue, self._rep_open
        )
        intern = sys.intern
        for partition, lead_id, wakeup, clock in leads:
            if lead_id in leads_:  # the same lead twice: the last wins, as it would lead by lead
                self.schedule(partition, lead_id, wakeup)
                self.set_open(partition, lead_id, clock)
                continue
            if wakeup is None and clock is None:
                continue
            entry = leads_[lead_id] = _Entry(lead_id, partition)
            if wakeup is not None:
                entry.wakeup = wakeup
                heaps.setdefault(partition, []).append((wakeup, lead_id))
            if clock is not None:
                owner = intern(clock[1]) if clock[1] is not None else None
                entry.clock = (clock[0], owner, clock[2] if len(clock) > 2 else None)
                self._open += 1
                rep_open[owner] += 1
                oldest.setdefault(owner, []).append((clock[0], lead_id))
                if entry.clock[2] is not None:
                    not_overdue.append((entry.clock[2], lead_id))
        for heap in (*heaps.values(), *oldest.values(), not_overdue):
            heapq.heapify(heap)

    def _compact(self) -> None:
        # Closed clocks leave stale heap entries behind (an overdue instant may
        # be days away over a weekend): drop them once they outnumber the live ones.
        self._not_overdue = [
            (e.clock[2], lead)
            for lead, e in self._leads.items()
            if e.clock is not None and e.clock[2] is not None and not e.overdue
        ]
        heapq.heapify(self._not_overdue)
        for rep, heap in list(self._rep_oldest.items()):
            live = [(s, lead) for s, lead in heap if self._clock_of(lead)[:2] == (s, rep)]
            if live:
                heapq.heapify(live)
                self._rep_oldest[rep] = live
            else:
                del self._rep_oldest[rep]

    def _clock_of(self, lead_id: str) -> OpenClock | tuple:
        entry = self._leads.get(lead_id)
        return entry.clock if entry is not None and entry.clock is not None else ()

    @property
    def open_clocks(self) -> int:
        return self._open

    def open_by_rep(self) -> Iterator[tuple[str | None, int, float]]:
        """(owner, open clocks, oldest clock start) per owner with open clocks."""
        for rep, count in list(self._rep_open.items()):
            heap = self._rep_oldest.get(rep, [])
            while heap and self._clock_of(heap[0][1])[:2] != (heap[0][0], rep):
                heapq.heappop(heap)
            if heap:
                yield rep, count, heap[0][0]

    def oldest_open(self, limit: int, owners: Callable[[str | None], bool] | None = None) -> list[tuple[str, int, OpenClock]]:
        """The ``limit`` open clocks that started first: (lead, partition, clock),
        oldest first, of the owners ``owners`` accepts (all by default).
        Costs O(open clocks): for pages, not for every event."""
        items = (
            (lead, e)
            for lead, e in self._leads.items()
            if e.clock is not None and (owners is None or owners(e.clock[1]))
        )
        oldest = heapq.nsmallest(limit, items, key=lambda item: (item[1].clock[0], item[0]))
        return [(lead_id, e.partition, e.clock) for lead_id, e in oldest]

    def overdue_by_rep(self, now: float) -> dict[str | None, int]:
        """Open clocks past their overdue instant at ``now``, by owner."""
        heap = self._not_overdue
        while heap and heap[0][0] <= now:
            overdue_at, lead_id = heapq.heappop(heap)
            entry = self._leads.get(lead_id)
            if entry is not None and entry.clock is not None and entry.clock[2] == overdue_at and not entry.overdue:
                entry.overdue = True
                self._rep_overdue[entry.clock[1]] += 1
        return dict(self._rep_overdue)

    # -- partitions --------------------------------------------------------------
    def partitions(self) -> list[int]:
        return sorted(self._heaps)

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget everything of ``partitions`` (revoked: another worker owns them now)."""
        gone = set(partitions) & set(self._heaps)
        if not gone:
            return
        if gone == set(self._heaps):
            self.clear()
            return
        for p in gone:
            del self._heaps[p]
        for lead_id, entry in list(self._leads.items()):
            if entry.partition in gone:
                self.set_open(entry.partition, lead_id, None)
                entry.wakeup = None
                self._leads.pop(lead_id, None)

    def clear(self) -> None:
        self.__init__()
