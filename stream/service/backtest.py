"""Backtest: the worker's SLA rules replayed over a recorded history, offline.

The replay drives the same ``LeadProcessor`` the worker uses (same scorer,
calendars, clocks, cadences and breach ids) in *virtual time*: events are
taken in event-time order (``occurred_at``; ties keep file order) and event
time is the simulated wall clock. Before each event every wakeup that fell
due is fired at its own instant with ``tick``, exactly as the sweeper would;
after the last event wakeups keep firing until ``until`` (default: 30 days
after the last event) or until none are left.

No late arrivals: each event is seen when it happens, so a call is always
known before the stage it prevents falls due, and nothing is ever retracted.
The breaches are those the live worker emits when every event reaches it on
time (within ``response.allowed_lateness_seconds``); ``detected_at`` is the
due instant plus the allowed lateness.

Two ways in, one replay (:class:`Replay`):

* :func:`run_backtest` takes events in memory and keeps every lead state and
  output (tests, small histories, the live-vs-offline agreement test);
* :func:`backtest_file` streams a history file of any size with bounded
  memory: an external merge sort puts the events in event time (nothing is
  dropped, however late a line is in the file); a lead's state is summarized
  into its rep's day bucket and dropped as soon as it can no longer change
  (its last event applied and no wakeup pending); and leads are split by id
  across ``jobs`` processes, whose breach events are merged back into the
  single-process emission order. The report and the breach events are the
  same bytes as :func:`run_backtest` gives for the same events.

Same events and policy -> same outputs, in the same order, byte for byte.
Nothing here touches Kafka, Faust or the wall clock.
"""

from __future__ import annotations

import heapq
import os
import pickle
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import orjson

from schemas.reps import RepRecord
from stream.domain.lead import LeadState
from stream.domain.rep_stats import (
    RepDay,
    RepReport,
    WorkableLead,
    bucket_leads,
    lead_day,
    rep_calendar,
    rep_report,
    standing_breaches,
    summarize_lead,
)
from stream.domain.segments import company_size_band
from stream.policy import Policy
from stream.service.calendars import CalendarBook
from stream.service.deadlines import DeadlineIndex
from stream.service.history import (
    RUN_LINES,
    Event,
    EventSorter,
    OnInvalid,
    ScanCounts,
    Spill,
    parse_line,
    scan_history,
)
from stream.service.leads import LeadProcessor, Scorer
from stream.service.scorer import build_scorer

DEFAULT_TAIL_SECONDS = 30 * 86_400
DEDUPE_IDS_PER_LEAD = 1024  # the worker's default (SLA_DEDUPE_IDS_PER_LEAD)
REPS_TOPIC = "reps"
BREACHES_TOPIC = "sla-breaches"
_PARTITION = 0
# Emission order of an output: (instant, 0, lead id, i) for the i-th output
# of a wakeup, (instant, 1, file sequence, i) for an event's. Wakeups due at
# an event's instant fire before it, as the sweeper's would.
_TICK, _EVENT = 0, 1


class Recorded(NamedTuple):
    """A history file as the backtest reads it into memory."""

    events: list[Event]  # valid lead events in file order, duplicates included
    roster: list[RepRecord]  # valid ``reps`` records in file order
    invalid: int  # lines skipped because they were neither


def read_recorded(path: str | Path, on_invalid: OnInvalid | None = None) -> Recorded:
    """The lead events and ``reps`` records of a history file (JSON lines
    ``{"topic": ..., "value": {...}}``, as ``simulate --history-out`` writes).
    Invalid lines are skipped, counted and reported to ``on_invalid(line
    number, why)``; blank lines are ignored. Raises OSError when unreadable.
    Holds the whole file: :func:`backtest_file` streams it instead."""
    events: list[Event] = []
    roster: list[RepRecord] = []
    counts = ScanCounts()
    for scanned in scan_history(path, counts, on_invalid):
        if isinstance(scanned.item, RepRecord):
            roster.append(scanned.item)
        else:
            events.append(scanned.item)
    return Recorded(events, roster, counts.invalid)


# --------------------------------------------------------------------------- the replay


class Replay:
    """The virtual-time loop: events in, wakeups fired, outputs out.

    Feed it events in event-time order with :meth:`apply`, then call
    :meth:`finish`. Every output goes to ``emit(order, topic, key, value)``
    in emission order (``order`` as described at ``_TICK``).

    Without ``remaining`` every lead state is kept in :attr:`states`. With
    ``remaining`` (lead id -> how many events of that lead are still to come)
    a lead whose last event was applied and that has no wakeup pending is
    handed to ``finished(lead_id, state, breach values)`` and forgotten: its
    state can no longer change, so memory holds only the leads in play.
    """

    def __init__(
        self,
        processor: LeadProcessor,
        emit: Callable[[tuple, str, str, dict[str, Any]], None],
        *,
        remaining: dict[str, int] | None = None,
        finished: Callable[[str, LeadState, list[dict[str, Any]]], None] | None = None,
    ) -> None:
        if (remaining is None) != (finished is None):
            raise ValueError("remaining and finished go together")
        self.processor = processor
        self.emit = emit
        self.remaining = remaining
        self.finished = finished
        self.states: dict[str, LeadState] = {}
        self._index = DeadlineIndex()
        self._pending: set[str] = set()  # leads with a wakeup scheduled
        self._breaches: dict[str, list[dict[str, Any]]] = {}  # per lead in play, when forgetting
        self.now: float | None = None
        self.events = 0  # applied, duplicates included
        self.duplicates = 0
        self.ticks = 0
        self.leads = 0  # distinct leads seen
        self.first_event_at: float | None = None

    def apply(self, event, sequence: int) -> None:
        """One validated input event, not earlier than the previous one."""
        at = event.occurred_at.timestamp()
        now = at if self.now is None else max(self.now, at)
        self.fire_until(now)
        self.now = now
        self.events += 1
        if self.first_event_at is None:
            self.first_event_at = at
        lead_id = event.lead_id
        outcome = self.processor.apply(self.states.get(lead_id), event, now)
        if self.remaining is not None:
            left = self.remaining[lead_id] - 1
            if left:
                self.remaining[lead_id] = left
            else:
                del self.remaining[lead_id]
        if outcome.result == "duplicate":
            self.duplicates += 1
        elif outcome.result == "ok":  # "rejected": over the lead's event limit, as the worker
            self._record(lead_id, outcome, (now, _EVENT, sequence))
        self._forget_if_done(lead_id)

    def fire_until(self, limit: float) -> None:
        """Fire every wakeup due at or before ``limit``, each at its own instant."""
        index = self._index
        while True:
            wakeup = index.next_wakeup(_PARTITION)
            if wakeup is None or wakeup > limit:
                return
            for lead_id in index.pop_due(_PARTITION, wakeup):
                self.ticks += 1
                self._pending.discard(lead_id)
                self._record(lead_id, self.processor.tick(self.states.get(lead_id), wakeup), (wakeup, _TICK, lead_id))
                self._forget_if_done(lead_id)

    def finish(self, until: float | None) -> None:
        """Run simulated time on to ``until`` (None: no further), then hand
        over every lead still held (when forgetting)."""
        if until is not None:
            self.fire_until(until)
        if self.finished is not None:
            for lead_id in sorted(self.states):
                self._hand_over(lead_id, self.states.pop(lead_id))

    def _record(self, lead_id: str, outcome, order: tuple) -> None:
        if outcome.state is not None:
            if lead_id not in self.states:
                self.leads += 1
            self.states[lead_id] = outcome.state
        self._index.schedule(_PARTITION, lead_id, outcome.next_wakeup)
        if outcome.next_wakeup is None:
            self._pending.discard(lead_id)
        else:
            self._pending.add(lead_id)
        for i, (topic, key, value) in enumerate(outcome.outputs):
            self.emit((*order, i), topic, key, value)
            if self.finished is not None and topic == BREACHES_TOPIC:
                self._breaches.setdefault(lead_id, []).append(value)

    def _forget_if_done(self, lead_id: str) -> None:
        if self.finished is None or lead_id in self.remaining or lead_id in self._pending:
            return
        state = self.states.pop(lead_id, None)
        if state is not None:
            self._hand_over(lead_id, state)

    def _hand_over(self, lead_id: str, state: LeadState) -> None:
        self.finished(lead_id, state, self._breaches.pop(lead_id, []))
        forget = getattr(self.processor, "forget", None)
        if forget is not None:
            forget(state)


# Memo entries kept before starting afresh: a replay's leads in play at once.
_MEMO_LIMIT = 100_000


class _MemoTime:
    """A lead's SLA time (``OwnedTime``) with its answers remembered: a replay
    asks a lead the same due instants at each of its events and wakeups, and
    business-calendar arithmetic is what those cost most."""

    __slots__ = ("time", "_add", "_diff")

    def __init__(self, time) -> None:
        self.time = time
        self._add: dict[tuple[float, float], float] = {}
        self._diff: dict[tuple[float, float], float] = {}

    @property
    def segments(self):
        return self.time.segments

    def add(self, start: float, seconds: float) -> float:
        key = (start, seconds)
        due = self._add.get(key)
        if due is None:
            due = self._add[key] = self.time.add(start, seconds)
        return due

    def diff(self, start: float, end: float) -> float:
        key = (start, end)
        seconds = self._diff.get(key)
        if seconds is None:
            seconds = self._diff[key] = self.time.diff(start, end)
        return seconds


class _ReplayProcessor(LeadProcessor):
    """The worker's ``LeadProcessor``, unchanged but for remembering SLA-time
    arithmetic across calls. SLA time depends only on the lead's owners and
    their calendars, which do not change during a replay (the roster is
    applied before it), so the same owner timeline gets the same answers."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._times: dict[tuple, _MemoTime] = {}

    def sla_time(self, state: LeadState):
        time = super().sla_time(state)
        key = self._key(time)
        if key is None:
            return time  # plain time: nothing to remember
        memo = self._times.get(key)
        if memo is None:
            if len(self._times) >= _MEMO_LIMIT:
                self._times.clear()
            memo = self._times[key] = _MemoTime(time)
        return memo

    def forget(self, state: LeadState) -> None:
        """Drop what was remembered for a lead that leaves the replay (another
        lead with the very same owner timeline just computes it again)."""
        if self._times:
            self._times.pop(self._key(super().sla_time(state)), None)

    @staticmethod
    def _key(time) -> tuple | None:
        segments = getattr(time, "segments", None)
        if segments is None:
            return None
        # Calendars are the book's cached objects, alive for the whole replay:
        # their identity names them.
        return tuple((at, id(calendar)) for at, calendar in segments)


def _memo_scorer(scorer: Scorer, policy: Policy) -> Scorer:
    """``scorer`` with its answers remembered: a score depends only on the
    lead's segment and the content types downloaded (docs/scoring.md), so
    the answers are few."""
    fields = tuple(policy.scoring.segment_by)
    answers: dict[tuple, Any] = {}

    def value(attributes: dict[str, Any], name: str) -> Any:
        # as segment_key reads it: a band, else the band of the company size
        if name == "company_size_band" and attributes.get(name) is None:
            return company_size_band(attributes.get("company_size"))
        return attributes.get(name)

    def memo(attributes: dict[str, Any], content_types: list[str]):
        key = (tuple(value(attributes, name) for name in fields), tuple(content_types))
        score = answers.get(key)
        if score is None:
            if len(answers) >= _MEMO_LIMIT:
                answers.clear()
            score = answers[key] = scorer(attributes, content_types)
        return score

    return memo


def _processor(policy: Policy, calendars: CalendarBook, scorer: Scorer | None, dedupe_limit: int) -> LeadProcessor:
    return _ReplayProcessor(
        policy,
        calendar_for=calendars.calendar_for,
        scorer=_memo_scorer(scorer or build_scorer(policy), policy),
        dedupe_limit=dedupe_limit,
    )


def _apply_roster(calendars: CalendarBook, roster: Iterable[RepRecord]) -> tuple[dict[str, RepRecord], list[str]]:
    """Apply ``reps`` records in order (the latest per rep wins); (accepted by rep, why others were refused)."""
    known: dict[str, RepRecord] = {}
    rejected: list[str] = []
    for record in roster:
        try:
            calendars.update_rep(record)
        except ValueError as exc:
            rejected.append(str(exc))
            continue
        known[record.rep_id] = record
    return known, rejected


# --------------------------------------------------------------------------- in memory


@dataclass
class BacktestResult:
    """What a replay produced: every output in emission order and the final lead states."""

    policy: Policy
    processor: LeadProcessor
    calendars: CalendarBook
    states: dict[str, LeadState] = field(default_factory=dict)
    # (contract topic, key, value) in emission order: lead-scored and sla-breaches
    outputs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    events: int = 0  # events applied, duplicates included
    duplicates: int = 0  # events whose event_id the lead had already seen
    ticks: int = 0  # wakeups fired
    first_event_at: float | None = None
    last_event_at: float | None = None
    until: float | None = None  # the end of simulated time
    roster: dict[str, RepRecord] = field(default_factory=dict)  # latest ``reps`` record per rep
    rejected_reps: list[str] = field(default_factory=list)  # why ``reps`` records were refused

    @property
    def breaches(self) -> list[dict[str, Any]]:
        """Every ``sla-breaches`` value, in emission order (retractions included)."""
        return [value for topic, _, value in self.outputs if topic == BREACHES_TOPIC]

    def workable_leads(self) -> list[WorkableLead]:
        """Each lead that became workable, with its clocks and standing breaches, by lead id."""
        standing = standing_breaches(self.breaches)
        deadline = self.policy.response.deadline_seconds
        out = []
        for lead_id in sorted(self.states):
            lead = summarize_lead(self.states[lead_id], self.processor, deadline, standing.get(lead_id, ()))
            if lead is not None:
                out.append(lead)
        return out

    def report(self, as_of: float | None = None, leads: list[WorkableLead] | None = None) -> RepReport:
        """The per-rep SLA report as of ``as_of`` (default: the last event's
        time); ``leads`` is :meth:`workable_leads` when already at hand."""
        if as_of is None:
            if self.last_event_at is None:
                raise ValueError("an empty history has no last event: give as_of")
            as_of = self.last_event_at
        calendar_for = self.calendars.calendar_for
        leads = self.workable_leads() if leads is None else leads
        buckets = bucket_leads(leads, as_of, calendar_for)
        return _report(buckets.values(), as_of, self.policy, self.calendars, self.roster)


def _report(
    buckets: Iterable[RepDay], as_of: float, policy: Policy, calendars: CalendarBook, roster: Mapping[str, RepRecord]
) -> RepReport:
    return rep_report(
        buckets,
        as_of,
        calendars.calendar_for,
        target_for(policy, roster),
        reps=active_reps(policy, roster),
    )


def active_reps(policy: Policy, roster: Mapping[str, RepRecord] | None = None) -> list[str]:
    """Reps of ``[[reps]]`` and the roster that are active (the roster's word wins), sorted."""
    roster = roster or {}
    active = {rep.rep_id: rep.active for rep in policy.reps}
    active.update({rep_id: record.active for rep_id, record in roster.items()})
    return sorted(rep_id for rep_id, on in active.items() if on)


def target_for(policy: Policy, roster: Mapping[str, RepRecord] | None = None) -> Callable[[str], int | None]:
    """A rep's monthly workable-lead target (SPEC §5 marketing SLA): its own
    ``monthly_workable_target`` from the ``reps`` roster, else from its
    ``[[reps]]`` entry, else ``marketing.workable_leads_per_rep_per_month``.
    None for a rep marked inactive (the roster's ``active`` wins over the file's)."""
    default = policy.marketing.workable_leads_per_rep_per_month
    roster = roster or {}
    own = {rep.rep_id: rep for rep in policy.reps}

    def target(rep_id: str) -> int | None:
        sources = [s for s in (roster.get(rep_id), own.get(rep_id)) if s is not None]
        if sources and not sources[0].active:
            return None
        for source in sources:
            if source.monthly_workable_target is not None:
                return source.monthly_workable_target
        return default

    return target


def sort_by_event_time(events: Iterable[Event]) -> list[Event]:
    """Events by ``occurred_at`` (stable: ties keep their order)."""
    return sorted(events, key=lambda item: item[1].occurred_at.timestamp())


def run_backtest(
    events: Iterable[Event],
    policy: Policy,
    *,
    scorer: Scorer | None = None,
    until: float | None = None,
    roster: Iterable[RepRecord] = (),
    calendars: CalendarBook | None = None,
    dedupe_limit: int = DEDUPE_IDS_PER_LEAD,
) -> BacktestResult:
    """Replay ``events`` ((topic, validated model) pairs, any order) through the
    worker's SLA rules in virtual time; see the module docstring.

    ``roster`` are ``reps`` topic records, applied before the replay in their
    order (the latest per rep wins, as on the compacted topic): they override
    the policy's ``[[reps]]`` calendars field by field, as in the worker; a
    record with an invalid calendar is refused (``rejected_reps``).
    ``until`` (epoch seconds) ends simulated time after the last event
    (default: the last event + 30 days); wakeups later than it do not fire.
    ``scorer`` defaults to ``build_scorer(policy)``, the worker's own.
    Keeps every lead state and output in memory.
    """
    calendars = calendars or CalendarBook(policy)
    known, rejected = _apply_roster(calendars, roster)
    processor = _processor(policy, calendars, scorer, dedupe_limit)
    result = BacktestResult(policy, processor, calendars, roster=known, rejected_reps=rejected)
    replay = Replay(processor, lambda order, topic, key, value: result.outputs.append((topic, key, value)))
    result.states = replay.states
    for sequence, (_, event) in enumerate(sort_by_event_time(events)):
        replay.apply(event, sequence)
    now = replay.now
    if until is None:
        until = (now + DEFAULT_TAIL_SECONDS) if now is not None else None
    replay.finish(until)
    result.events, result.duplicates, result.ticks = replay.events, replay.duplicates, replay.ticks
    result.first_event_at, result.last_event_at, result.until = replay.first_event_at, now, until
    return result


# --------------------------------------------------------------------------- streaming a file


@dataclass
class FileBacktest:
    """What :func:`backtest_file` produced: the day buckets of every workable
    lead as of ``as_of`` and what the replay saw. Lead states are not kept."""

    policy: Policy
    calendars: CalendarBook
    roster: dict[str, RepRecord]  # latest accepted ``reps`` record per rep
    rejected_reps: list[str]  # why ``reps`` records were refused
    invalid: int  # lines that were neither a lead event nor a ``reps`` record
    as_of: float | None
    until: float | None
    first_event_at: float | None = None
    last_event_at: float | None = None
    events: int = 0
    duplicates: int = 0
    ticks: int = 0
    leads: int = 0
    workable: int = 0  # leads that became workable (as of the end of the replay)
    buckets: dict[tuple[str, date], RepDay] = field(default_factory=dict)
    emitted: dict[str, dict[str, int]] = field(default_factory=dict)  # breach events by type, stage
    breach_events: int = 0

    def report(self) -> RepReport:
        """The per-rep SLA report as of :attr:`as_of`."""
        if self.as_of is None:
            raise ValueError("an empty history has no last event: give as_of")
        return _report(self.buckets.values(), self.as_of, self.policy, self.calendars, self.roster)


class _Shard(NamedTuple):
    """One process's share of the leads: its events, sorted, and its leads' event counts."""

    sorter: EventSorter
    remaining: dict[str, int]


class _ShardResult(NamedTuple):
    events: int
    duplicates: int
    ticks: int
    leads: int
    workable: int
    buckets: dict[tuple[str, date], RepDay]
    emitted: Counter


def shard_of(lead_id: str, jobs: int) -> int:
    """Which of ``jobs`` processes replays ``lead_id`` (stable across runs and machines)."""
    return zlib.crc32(lead_id.encode()) % jobs if jobs > 1 else 0


def default_jobs() -> int:
    """Processes for a file backtest: one per CPU this process may use, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


def backtest_file(
    path: str | Path,
    policy: Policy,
    *,
    scorer: Scorer | None = None,
    as_of: float | None = None,
    until: float | None = None,
    breaches_out: BinaryIO | None = None,
    on_invalid: OnInvalid | None = None,
    jobs: int = 1,
    spill_dir: str | Path | None = None,
    run_lines: int = RUN_LINES,
    tail_seconds: float = DEFAULT_TAIL_SECONDS,
    dedupe_limit: int = DEDUPE_IDS_PER_LEAD,
) -> FileBacktest:
    """Backtest the history file at ``path`` with bounded memory (module docstring).

    ``as_of`` (default: the last event's ``occurred_at``) is the report
    instant; ``until`` (default: 30 days after the last event, or ``as_of`` if
    later) ends simulated time. Every breach event is written to
    ``breaches_out`` as a JSON line (sorted keys) in emission order, when
    given. ``jobs`` processes share the leads (forked; 1 on systems without
    ``fork``); the results do not depend on it. Temporary files go to a
    private folder under ``spill_dir`` (default: the system's) and are removed.
    Raises OSError when the file cannot be read.
    """
    jobs = max(1, jobs) if hasattr(os, "fork") else 1
    calendars = CalendarBook(policy)
    with Spill(spill_dir, prefix="sla-backtest-") as spill:
        shards = [_Shard(EventSorter(spill, f"events{k}", run_lines), {}) for k in range(jobs)]
        counts = ScanCounts()
        roster: list[RepRecord] = []
        first = last = None
        sequence = 0
        for scanned in scan_history(path, counts, on_invalid):
            item = scanned.item
            if isinstance(item, RepRecord):
                roster.append(item)
                continue
            event = item[1]
            at = event.occurred_at.timestamp()
            first = at if first is None or at < first else first
            last = at if last is None or at > last else last
            shard = shards[shard_of(event.lead_id, jobs)]
            shard.sorter.add(at, sequence, scanned.raw)
            shard.remaining[event.lead_id] = shard.remaining.get(event.lead_id, 0) + 1
            sequence += 1
        known, rejected = _apply_roster(calendars, roster)
        if as_of is None:
            as_of = last
        if until is None and last is not None:
            until = max(last + tail_seconds, as_of if as_of is not None else last)
        outcome = FileBacktest(
            policy, calendars, known, rejected, counts.invalid, as_of, until, first_event_at=first, last_event_at=last
        )
        processor = _processor(policy, calendars, scorer, dedupe_limit)

        def run(k: int, emit) -> _ShardResult:
            for j, other in enumerate(shards):
                if j != k:  # another process replays it: free this process's copy
                    other.sorter.discard()
                    other.remaining.clear()
            return _run_shard(shards[k], processor, policy, calendars, as_of, until, emit)

        if jobs == 1:
            emitted = Counter()

            def emit(order, topic: str, key: str, value: dict[str, Any]) -> None:
                if topic == BREACHES_TOPIC:
                    emitted[(value["breach_type"], value["stage"])] += 1
                    if breaches_out is not None:
                        breaches_out.write(orjson.dumps(value, option=orjson.OPT_SORT_KEYS) + b"\n")

            results = [run(0, emit)._replace(emitted=emitted)]
        else:
            for shard in shards:
                shard.sorter.write_held()  # to disk before forking: no process inherits the others' lines
            results = _run_forked(spill, jobs, run, keep_breaches=breaches_out is not None)
            if breaches_out is not None:
                for line in _merge_breaches(spill, jobs):
                    breaches_out.write(line + b"\n")
    _sum_into(outcome, results)
    return outcome


def _run_shard(
    shard: _Shard,
    processor: LeadProcessor,
    policy: Policy,
    calendars: CalendarBook,
    as_of: float | None,
    until: float | None,
    emit: Callable[[tuple, str, str, dict[str, Any]], None],
) -> _ShardResult:
    buckets: dict[tuple[str, date], RepDay] = {}
    workable = 0
    deadline = policy.response.deadline_seconds
    calendar_for = calendars.calendar_for

    def finished(lead_id: str, state: LeadState, breaches: list[dict[str, Any]]) -> None:
        nonlocal workable
        lead = summarize_lead(state, processor, deadline, standing_breaches(breaches).get(lead_id, ()))
        if lead is None:
            return
        workable += 1
        part = lead_day(lead, as_of, rep_calendar(calendar_for, lead.rep).zone) if as_of is not None else None
        if part is not None:
            key = (part.rep, part.day)
            buckets[key] = buckets[key].plus(part) if key in buckets else part

    replay = Replay(processor, emit, remaining=shard.remaining, finished=finished)
    for _, sequence, raw in shard.sorter.merged():
        replay.apply(parse_line(raw)[1], sequence)
    replay.finish(until)
    return _ShardResult(replay.events, replay.duplicates, replay.ticks, replay.leads, workable, buckets, Counter())


def _run_forked(spill: Spill, jobs: int, run, keep_breaches: bool) -> list[_ShardResult]:
    """Run shard 0 here and the others in forked children; each child leaves
    its result (or its error) in the spill folder."""
    import multiprocessing

    def shard_main(k: int) -> None:
        emitted = Counter()

        def emit(order, topic: str, key: str, value: dict[str, Any]) -> None:
            if topic == BREACHES_TOPIC:
                emitted[(value["breach_type"], value["stage"])] += 1
                if keep_breaches:
                    # the emission order first, so that the parent can merge the shards
                    line = orjson.dumps(list(order)) + b"\t" + orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
                    spill.append(f"breaches{k}", line)

        try:
            result = run(k, emit)._replace(emitted=emitted)
        except BaseException:
            spill.path(f"shard{k}.error").write_text(traceback.format_exc())
            raise
        spill.flush(f"breaches{k}")
        spill.path(f"shard{k}.result").write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))

    spill.flush_all()  # nothing buffered may be written twice, by parent and child
    context = multiprocessing.get_context("fork")
    children = [context.Process(target=shard_main, args=(k,), daemon=True) for k in range(1, jobs)]
    for child in children:
        child.start()
    try:
        shard_main(0)
    finally:
        for child in children:
            child.join()
    results = [pickle.loads(spill.path("shard0.result").read_bytes())]
    for k, child in enumerate(children, start=1):
        error = spill.path(f"shard{k}.error")
        if child.exitcode != 0 or not spill.path(f"shard{k}.result").exists():
            why = error.read_text() if error.exists() else f"exit status {child.exitcode}"
            raise RuntimeError(f"backtest process {k} failed:\n{why}")
        results.append(pickle.loads(spill.path(f"shard{k}.result").read_bytes()))
    return results


def _merge_breaches(spill: Spill, jobs: int) -> Iterator[bytes]:
    """The shards' breach events in single-process emission order."""

    def keyed(k: int) -> Iterator[tuple[tuple, bytes]]:
        for line in spill.lines(f"breaches{k}"):
            order, value = line.split(b"\t", 1)
            yield tuple(orjson.loads(order)), value

    for _, value in heapq.merge(*(keyed(k) for k in range(jobs)), key=lambda item: item[0]):
        yield value


def _sum_into(outcome: FileBacktest, results: list[_ShardResult]) -> None:
    emitted: Counter = Counter()
    for r in results:
        outcome.events += r.events
        outcome.duplicates += r.duplicates
        outcome.ticks += r.ticks
        outcome.leads += r.leads
        outcome.workable += r.workable
        for key, part in r.buckets.items():
            outcome.buckets[key] = outcome.buckets[key].plus(part) if key in outcome.buckets else part
        emitted.update(r.emitted)
    for (breach_type, stage), n in sorted(emitted.items()):
        outcome.emitted.setdefault(breach_type, {})[stage] = n
    outcome.breach_events = sum(emitted.values())
