"""The first-response clock (the five-minute rule), as pure functions.

Instants are UTC epoch seconds (floats); durations are SLA-clock seconds,
i.e. seconds counted on the owner's business calendar when business hours
apply. Nothing here reads the wall clock: ``now`` is always an argument.

The clocks of a lead are *derived* from its facts each time (``derive_clocks``)
rather than updated step by step, so the result is a function of the set of
events known, whatever order they arrived in.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from stream.domain.obligations import Obligation, breach_event_id

FIRST_RESPONSE = "first_response"


class Calendar(Protocol):
    def add(self, start: datetime, seconds: float) -> datetime: ...

    def diff(self, start: datetime, end: datetime) -> float: ...


@dataclass(frozen=True, slots=True)
class ResponseClock:
    """One response clock: open from ``started_at`` until the first call at
    or after it (``stopped_at``; None while uncontacted)."""

    started_at: float
    stopped_at: float | None

    @property
    def open(self) -> bool:
        return self.stopped_at is None


@dataclass(frozen=True, slots=True)
class StageDue:
    stage: str
    ratio: float
    due: float  # instant the stage falls due (before allowed lateness)


def derive_clocks(
    workable_at: float | None, reengage_at: Sequence[float], call_times: Sequence[float]
) -> list[ResponseClock]:
    """Every response clock of a lead, oldest first.

    The first clock starts when the lead became workable. A clock stops at the
    first call at or after its start (calls before it do not count). Once a
    clock has stopped, the first re-engaging download after the stop starts
    the next clock; downloads while a clock is open do not move it.
    ``reengage_at`` and ``call_times`` must be sorted.
    """
    if workable_at is None:
        return []
    clocks = []
    start = workable_at
    while True:
        i = bisect.bisect_left(call_times, start)
        stop = call_times[i] if i < len(call_times) else None
        clocks.append(ResponseClock(start, stop))
        if stop is None:
            return clocks
        j = bisect.bisect_right(reengage_at, stop)
        if j >= len(reengage_at):
            return clocks
        start = reengage_at[j]


class PlainTime:
    """Wall time with no closed hours: SLA seconds are plain seconds."""

    def add(self, start: datetime, seconds: float) -> datetime:
        return start + timedelta(seconds=seconds)

    def diff(self, start: datetime, end: datetime) -> float:
        return max(0.0, (end - start).total_seconds())


PLAIN_TIME = PlainTime()


class PlainSeconds:
    """SLA time that is plain time, on epoch seconds directly (the
    ``OwnedTime`` interface without calendars or datetimes)."""

    def add(self, start: float, seconds: float) -> float:
        return start + seconds

    def diff(self, start: float, end: float) -> float:
        return max(0.0, end - start)


PLAIN_SECONDS = PlainSeconds()


def to_datetime(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=timezone.utc)


@dataclass(frozen=True, slots=True)
class OwnedTime:
    """SLA time across owners: each owner's calendar applies from the instant
    they took the lead. ``segments`` is ``[(from_instant, calendar), ...]``
    sorted by instant; the first calendar also covers everything before it.

    A reassignment hands the *remaining* SLA time to the new owner: it keeps
    running on the new owner's calendar from the reassignment instant.
    """

    segments: tuple[tuple[float, Calendar], ...]

    def _from(self, start: float) -> Iterable[tuple[float, float | None, Calendar]]:
        """(from, until, calendar) pieces covering [start, +inf)."""
        segs = self.segments
        i = 0
        while i + 1 < len(segs) and segs[i + 1][0] <= start:
            i += 1
        t = start
        for k in range(i, len(segs)):
            until = segs[k + 1][0] if k + 1 < len(segs) else None
            yield t, until, segs[k][1]
            if until is not None:
                t = until

    def add(self, start: float, seconds: float) -> float:
        remaining = seconds
        for t, until, cal in self._from(start):
            if until is not None:
                avail = cal.diff(to_datetime(t), to_datetime(until))
                if avail < remaining:
                    remaining -= avail
                    continue
            return cal.add(to_datetime(t), remaining).timestamp()
        raise AssertionError("unreachable: the last segment is unbounded")

    def diff(self, start: float, end: float) -> float:
        if end <= start:
            return 0.0
        total = 0.0
        for t, until, cal in self._from(start):
            stop = end if until is None else min(until, end)
            if stop > t:
                total += cal.diff(to_datetime(t), to_datetime(stop))
            if until is None or until >= end:
                break
        return total


def stage_dues(
    started_at: float,
    deadline_seconds: float,
    escalation: Sequence[tuple[float, str]],
    add: Callable[[float, float], float],
) -> list[StageDue]:
    """When each stage of a clock falls due: ``add(start, ratio × deadline)``."""
    return [StageDue(stage, ratio, add(started_at, ratio * deadline_seconds)) for ratio, stage in escalation]


def breached(clock: ResponseClock, stage: StageDue) -> bool:
    """A stage is breached unless a call came at or before its due instant."""
    return clock.stopped_at is None or clock.stopped_at > stage.due


def obligations(
    lead_id: str, schedule: Sequence[tuple[ResponseClock, Sequence[StageDue]]], policy: dict[str, Any]
) -> list[Obligation]:
    """The first-response obligations of a lead's clocks and their stages."""
    out = []
    for clock, stages in schedule:
        for stage in stages:
            out.append(
                Obligation(
                    event_id=breach_event_id(lead_id, FIRST_RESPONSE, clock.started_at, stage.stage),
                    breach_type=FIRST_RESPONSE,
                    stage=stage.stage,
                    started_at=clock.started_at,
                    due=stage.due,
                    breached=breached(clock, stage),
                    policy={**policy, "at": stage.ratio},
                )
            )
    return out
