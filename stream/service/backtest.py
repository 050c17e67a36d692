"""Backtest: the worker's SLA rules replayed over a recorded history, offline.

``run_backtest`` drives the same ``LeadProcessor`` the worker uses (same
scorer, calendars, clocks, cadences and breach ids) in *virtual time*: events
are taken in event-time order (``occurred_at``; ties keep file order) and
event time is the simulated wall clock. Before each event every wakeup that
fell due is fired at its own instant with ``tick``, exactly as the sweeper
would; after the last event wakeups keep firing until ``until`` (default: 30
days after the last event) or until none are left.

No late arrivals: each event is seen when it happens, so a call is always
known before the stage it prevents falls due, and nothing is ever retracted.
The breaches are those the live worker emits when every event reaches it on
time (within ``response.allowed_lateness_seconds``); ``detected_at`` is the
due instant plus the allowed lateness.

Same events and policy -> same outputs, in the same order, byte for byte.
Nothing here touches Kafka, Faust or the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from schemas.reps import RepRecord
from stream.domain.lead import LeadState
from stream.domain.rep_stats import (
    RepReport,
    WorkableLead,
    bucket_leads,
    rep_report,
    standing_breaches,
    summarize_lead,
)
from stream.policy import Policy
from stream.service.calendars import CalendarBook
from stream.service.deadlines import DeadlineIndex
from stream.service.history import Event, OnInvalid, parse_line
from stream.service.leads import LeadProcessor, Scorer
from stream.service.scorer import build_scorer

DEFAULT_TAIL_SECONDS = 30 * 86_400
DEDUPE_IDS_PER_LEAD = 1024  # the worker's default (SLA_DEDUPE_IDS_PER_LEAD)
REPS_TOPIC = "reps"
_PARTITION = 0


class Recorded(NamedTuple):
    """A history file as the backtest reads it."""

    events: list[Event]  # valid lead events in file order, duplicates included
    roster: list[RepRecord]  # valid ``reps`` records in file order
    invalid: int  # lines skipped because they were neither


def _rep_record(line: bytes) -> RepRecord | None:
    """The ``reps`` record of a line, None when the line is not one; ValueError when it is a bad one."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict) or record.get("topic") != REPS_TOPIC:
        return None
    value = record.get("value")
    if not isinstance(value, dict):
        raise ValueError("reps: value must be a JSON object")
    try:
        return RepRecord.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        raise ValueError(f"reps: {where}: {first['msg']}") from None


def read_recorded(path: str | Path, on_invalid: OnInvalid | None = None) -> Recorded:
    """The lead events and ``reps`` records of a history file (JSON lines
    ``{"topic": ..., "value": {...}}``, as ``simulate --history-out`` writes).
    Invalid lines are skipped, counted and reported to ``on_invalid(line
    number, why)``; blank lines are ignored. Raises OSError when unreadable."""
    events: list[Event] = []
    roster: list[RepRecord] = []
    invalid = 0
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                events.append(parse_line(line))
                continue
            except ValueError as exc:
                why = str(exc)
            try:
                record = _rep_record(line)
            except ValueError as exc:
                record, why = None, str(exc)
            if record is not None:
                roster.append(record)
                continue
            invalid += 1
            if on_invalid is not None:
                on_invalid(number, why)
    return Recorded(events, roster, invalid)


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
        return [value for topic, _, value in self.outputs if topic == "sla-breaches"]

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
        return rep_report(
            buckets.values(),
            as_of,
            calendar_for,
            target_for(self.policy, self.roster),
            reps=active_reps(self.policy, self.roster),
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
    """
    calendars = calendars or CalendarBook(policy)
    known: dict[str, RepRecord] = {}
    rejected: list[str] = []
    for record in roster:
        try:
            calendars.update_rep(record)
        except ValueError as exc:
            rejected.append(str(exc))
            continue
        known[record.rep_id] = record
    processor = LeadProcessor(
        policy,
        calendar_for=calendars.calendar_for,
        scorer=scorer or build_scorer(policy),
        dedupe_limit=dedupe_limit,
    )
    result = BacktestResult(policy, processor, calendars, roster=known, rejected_reps=rejected)
    index = DeadlineIndex()
    states = result.states

    def record(lead_id: str, outcome) -> None:
        if outcome.state is not None:
            states[lead_id] = outcome.state
        index.schedule(_PARTITION, lead_id, outcome.next_wakeup)
        result.outputs.extend(outcome.outputs)

    def fire_until(limit: float) -> None:
        while True:
            wakeup = index.next_wakeup(_PARTITION)
            if wakeup is None or wakeup > limit:
                return
            for lead_id in index.pop_due(_PARTITION, wakeup):
                result.ticks += 1
                record(lead_id, processor.tick(states.get(lead_id), wakeup))

    now: float | None = None
    for _, event in sort_by_event_time(events):
        at = event.occurred_at.timestamp()
        now = at if now is None else max(now, at)
        fire_until(now)
        result.events += 1
        if result.first_event_at is None:
            result.first_event_at = at
        result.last_event_at = now
        outcome = processor.apply(states.get(event.lead_id), event, now)
        if outcome.result == "duplicate":
            result.duplicates += 1
            continue
        record(event.lead_id, outcome)

    if until is None:
        until = (now + DEFAULT_TAIL_SECONDS) if now is not None else None
    if until is not None:
        fire_until(until)
    result.until = until
    return result
