"""Handlers for lead events and SLA ticks: state in, state + outputs out.

``LeadProcessor`` owns the SLA rules for one lead at a time. It never touches
Kafka, tables or metrics: the adapter gives it the stored ``LeadState``, the
event and the wall-clock ``now``, and gets back an ``Outcome`` saying what to
store, what to publish and what to observe.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from schemas.events import (
    CallAttempted,
    ContentDownloaded,
    InputEvent,
    LeadAssigned,
    LeadCreated,
    OpportunityCreated,
)
from schemas.personal import mask_fields
from schemas.types import format_timestamp
from stream.domain import attempt_cadence, response_clock
from stream.domain.lead import LeadState
from stream.domain.scoring import LeadScore
from stream.domain.obligations import (
    RETRACTED,
    Obligation,
    Reconciliation,
    reconcile,
    refire_event_id,
    retraction_event_id,
)
from stream.domain.response_clock import (
    PLAIN_SECONDS,
    OwnedTime,
    PlainSeconds,
    ResponseClock,
    derive_clocks,
    stage_dues,
    to_datetime,
)
from stream.policy import Policy


# (attributes of lead-created, content types downloaded so far in event order) -> score
Scorer = Callable[[dict[str, Any], list[str]], LeadScore]


@dataclass(slots=True)
class Breach:
    rep: str | None
    breach_type: str
    stage: str
    lag_seconds: float | None  # emission minus due; None for retractions


@dataclass(frozen=True, slots=True)
class Derived:
    """A lead's clocks as derived for one outcome, in the shape of
    ``rep_stats.LeadRules``: the per-rep contribution reuses them instead of
    deriving them again."""

    workable: float | None
    response_clocks: list[ResponseClock]
    time: Any

    def workable_at(self, state: LeadState) -> float | None:
        return self.workable

    def clocks(self, state: LeadState) -> list[ResponseClock]:
        return self.response_clocks

    def sla_time(self, state: LeadState) -> Any:
        return self.time


@dataclass(slots=True)
class Outcome:
    result: str  # ok | duplicate | rejected (``reason`` says why)
    reason: str | None = None
    state: LeadState | None = None  # to store; None = unchanged
    # (contract topic, key, value as JSON types)
    outputs: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    response_seconds: list[tuple[str | None, float]] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    next_wakeup: float | None = None
    # The stage that falls due at next_wakeup, ready to emit without the
    # lead's state: {"obligation", "generation", "due", "value"} with the
    # value's detected_at left to the emitter (the sweeper).
    upcoming: dict[str, Any] | None = None
    derived: Derived | None = None  # the clocks behind this outcome
    # (started_at, owner, overdue_at) while uncontacted; overdue_at is when the
    # clock passes its `breach` stage in SLA time
    open_clock: tuple[float, str | None, float] | None = None
    scored: list[tuple[str | None, bool]] = field(default_factory=list)


def _first(fact: list) -> float:
    return fact[0]


def _ts(at: float) -> str:
    return format_timestamp(to_datetime(at))


def _event_id(prefix: str, *parts: str) -> str:
    return prefix + hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()


class LeadProcessor:
    def __init__(
        self,
        policy: Policy,
        calendar_for: Callable[[str | None], Any],
        scorer: Scorer,
        dedupe_limit: int = 1024,
        max_events: int = 1000,
    ) -> None:
        self.policy = policy
        self.calendar_for = calendar_for
        self.scorer = scorer
        self.dedupe_limit = dedupe_limit
        # Every event re-derives the lead from all its facts, and the whole
        # state is one changelog record: a lead flooded with events would
        # grow both without end (and pass Kafka's record size limit).
        self.max_events = max_events
        response = policy.response
        self.escalation = [(step.at, step.stage) for step in response.escalation]
        # An open clock is overdue past its `breach` stage (the deadline itself without one).
        breach_at = next((at for at, stage in self.escalation if stage == "breach"), 1.0)
        self.overdue_after_seconds = response.deadline_seconds * breach_at
        self.reengage = frozenset(response.reengage_content_types)
        self._response_policy = {
            "deadline_seconds": response.deadline_seconds,
            "business_hours": response.business_hours,
            "allowed_lateness_seconds": response.allowed_lateness_seconds,
        }
        attempts = policy.attempts
        self._cadence_policy = {
            "required": attempts.required,
            "window_days": attempts.window_days,
            "max_gap_hours": attempts.max_gap_hours,
            "business_hours": response.business_hours,
        }

    # -- entry points --------------------------------------------------------
    def apply(self, state: LeadState | None, event: InputEvent, now: float) -> Outcome:
        """Fold one validated input event into the lead's state."""
        state = state or LeadState(lead_id=event.lead_id)
        if state.has_seen(event.event_id):
            return Outcome(result="duplicate")
        if state.fact_count >= self.max_events:
            # The newest is refused, never an old fact: what is decided stays decided.
            return Outcome(
                result="rejected",
                reason=f"lead {event.lead_id!r} already holds {state.fact_count} events, the limit"
                " (SLA_MAX_EVENTS_PER_LEAD): later ones are not applied",
            )
        state.remember(event.event_id, self.dedupe_limit)
        self._record(state, event)
        outcome = Outcome(result="ok", state=state)
        scoring_fact = isinstance(event, (LeadCreated, ContentDownloaded))
        self._score(state, now, outcome, event.occurred_at.timestamp() if scoring_fact else None)
        self._clocks(state, now, outcome)
        return outcome

    def tick(self, state: LeadState | None, now: float, emitted: Iterable[Mapping[str, Any]] = ()) -> Outcome:
        """Re-evaluate a lead's clocks at wall-clock ``now``, after recording
        ``emitted``: stages the sweeper emitted on its own (``Outcome.upcoming``
        values with their detected_at)."""
        if state is None:
            return Outcome(result="ok")
        outcome = Outcome(result="ok", state=state)
        recorded = self.record_emitted(state, emitted)
        self._clocks(state, now, outcome)
        if not outcome.outputs and not recorded:
            outcome.state = None  # nothing changed: no changelog write
        return outcome

    @staticmethod
    def knows_emitted(state: LeadState, entry: Mapping[str, Any]) -> bool:
        """True when ``state`` records the emission ``entry`` (an
        ``Outcome.upcoming`` with its detected_at), or a later one of the same
        stage, or its retraction."""
        known = state.emitted.get(entry["obligation"])
        if known is None:
            return False
        return known.get("generation", 0) >= entry["generation"] or not known.get(RETRACTED)

    @classmethod
    def record_emitted(cls, state: LeadState, emitted: Iterable[Mapping[str, Any]]) -> bool:
        """Mark stages emitted outside this processor (by the sweeper) as sent;
        True when the state changed. Idempotent: a stage already recorded at
        that generation or later, or retracted since, is left alone."""
        changed = False
        for entry in emitted:
            if cls.knows_emitted(state, entry):
                continue
            value = entry["value"]
            state.emitted[entry["obligation"]] = {
                "type": value["breach_type"],
                "value": dict(value),
                RETRACTED: False,
                "generation": entry["generation"],
            }
            changed = True
        return changed

    def view(self, state: LeadState, now: float) -> dict[str, Any]:
        """A lead's state for people: facts, score, clocks and their stages."""
        time = self.sla_time(state)
        deadline = self.policy.response.deadline_seconds
        clocks = []
        for clock in self.clocks(state):
            stages = stage_dues(clock.started_at, deadline, self.escalation, time.add)
            clocks.append(
                {
                    "started_at": _ts(clock.started_at),
                    "stopped_at": _ts(clock.stopped_at) if clock.stopped_at is not None else None,
                    "response_seconds": time.diff(clock.started_at, clock.stopped_at)
                    if clock.stopped_at is not None
                    else None,
                    "elapsed_sla_seconds": time.diff(clock.started_at, clock.stopped_at or now),
                    "stages": [{"stage": s.stage, "due": _ts(s.due)} for s in stages],
                }
            )
        return {
            "lead_id": state.lead_id,
            "exists": state.exists,
            "created_at": _ts(state.created_at) if state.created_at is not None else None,
            # For people: personal attributes (schemas.personal) masked.
            "attributes": mask_fields("lead-created", state.attributes),
            "owner": state.current_owner,
            "owners": [{"from": _ts(at), "rep_id": rep} for at, rep in state.owners],
            "score": state.score,
            "downloads": [{"at": _ts(at), "content_type": ct} for at, ct, _ in state.downloads],
            "calls": [{"at": _ts(c[0]), "rep_id": c[1], "outcome": c[2]} for c in state.calls],
            "opportunities": [{"at": _ts(at), "amount": amount} for at, amount, _ in state.opportunities],
            "response_clocks": clocks,
            "breaches": [
                {**sent["value"], "retracted": sent.get(RETRACTED, False)} for sent in state.emitted.values()
            ],
            "events_seen": len(state.seen),
        }

    # -- facts ----------------------------------------------------------------
    @staticmethod
    def _record(state: LeadState, event: BaseModel) -> None:
        at = event.occurred_at.timestamp()
        if isinstance(event, LeadCreated):
            # A second lead-created for the same lead: the earliest one wins.
            if state.created_at is None or at < state.created_at:
                if state.created_at is not None and state.attributes.get("owner_rep_id"):
                    old = [state.created_at, state.attributes["owner_rep_id"]]
                    if old in state.owners:
                        state.owners.remove(old)
                state.created_at = at
                state.attributes = event.model_dump(
                    mode="json", exclude={"event_id", "lead_id", "occurred_at"}, exclude_none=True
                )
                if event.owner_rep_id:
                    state.add_owner(at, event.owner_rep_id)
        elif isinstance(event, ContentDownloaded):
            state.add_download(at, event.content_type, event.event_id)
        elif isinstance(event, CallAttempted):
            state.add_call(at, event.rep_id, event.outcome.value, event.event_id)
        elif isinstance(event, LeadAssigned):
            state.add_owner(at, event.rep_id)
        elif isinstance(event, OpportunityCreated):
            state.add_opportunity(at, event.amount, event.event_id)

    # -- scoring ----------------------------------------------------------------
    def _scoring_points(self, state: LeadState) -> list[tuple[float, str, list[str]]]:
        """(instant, trigger event id, content types so far) for each scoring
        decision: the creation, then every download after it, in event time."""
        if state.created_at is None:
            return []
        created = state.created_at
        before = [d[1] for d in state.downloads if d[0] <= created]
        points = [(created, "created", list(before))]
        types = list(before)
        for at, content_type, event_id in state.downloads:
            if at > created:
                types.append(content_type)
                points.append((at, event_id, list(types)))
        return points

    def workable_at(self, state: LeadState) -> float | None:
        """When the lead first became workable, per the stored decisions."""
        times = [d[0] for d in state.decisions.values() if d[1]]
        return min(times) if times else None

    def _score(self, state: LeadState, now: float, outcome: Outcome, changed_from: float | None) -> None:
        """Score every scoring point not decided yet, and re-score those at or
        after ``changed_from`` (a download or creation that arrived late
        changes what came after it in event time)."""
        points = self._scoring_points(state)
        old = state.decisions
        state.decisions = {}
        for i, (at, trigger, types) in enumerate(points):
            known = old.get(trigger)
            if known is not None and known[0] == at and (changed_from is None or at < changed_from):
                state.decisions[trigger] = known
                continue
            result = self.scorer(state.attributes, types)
            state.decisions[trigger] = [at, result.workable, result.score]
            if i == len(points) - 1:
                state.score = {
                    "score": result.score,
                    "workable": result.workable,
                    "segment": result.segment,
                    "reasons": list(result.reasons),
                }
            if known is not None:
                continue  # one lead-scored event per scoring decision
            owner = state.owner_at(at)
            outcome.scored.append((owner, result.workable))
            outcome.outputs.append(
                (
                    "lead-scored",
                    state.lead_id,
                    {
                        "event_id": _event_id("sc-", state.lead_id, trigger),
                        "lead_id": state.lead_id,
                        "occurred_at": _ts(at),
                        "scored_at": _ts(now),
                        "score": result.score,
                        "workable": result.workable,
                        "segment": result.segment,
                        "reasons": list(result.reasons),
                        "rep_id": owner,
                    },
                )
            )

    # -- clocks -------------------------------------------------------------------
    def sla_time(self, state: LeadState) -> OwnedTime | PlainSeconds:
        if not self.policy.response.business_hours:
            return PLAIN_SECONDS
        segments = [(0.0, self.calendar_for(None))]
        segments += [(at, self.calendar_for(rep)) for at, rep in state.owners]
        return OwnedTime(tuple(segments))

    def clocks(self, state: LeadState) -> list[ResponseClock]:
        reengage = [d[0] for d in state.downloads if d[1] in self.reengage]
        return derive_clocks(self.workable_at(state), reengage, state.call_times)

    def obligations(
        self, state: LeadState, clocks: list[ResponseClock] | None = None, time: OwnedTime | PlainSeconds | None = None
    ) -> list[Obligation]:
        """Every SLA stage the lead owes, per the facts known now."""
        clocks = self.clocks(state) if clocks is None else clocks
        time = self.sla_time(state) if time is None else time
        response = self.policy.response
        schedule = [
            (c, stage_dues(c.started_at, response.deadline_seconds, self.escalation, time.add)) for c in clocks
        ]
        out = response_clock.obligations(state.lead_id, schedule, self._response_policy)
        if clocks:
            attempts = self.policy.attempts
            start = clocks[0].started_at
            calendar = self.calendar_for(state.owner_at(start)) if response.business_hours else None
            out += attempt_cadence.obligations(
                state.lead_id,
                start,
                [(c[0], c[2]) for c in state.calls],
                required=attempts.required,
                window_days=attempts.window_days,
                max_gap_hours=attempts.max_gap_hours,
                calendar=calendar,
                add_business_seconds=time.add,
                policy=self._cadence_policy,
            )
        return out

    def _clocks(self, state: LeadState, now: float, outcome: Outcome) -> None:
        workable_at = self.workable_at(state)
        reengage = [d[0] for d in state.downloads if d[1] in self.reengage]
        clocks = derive_clocks(workable_at, reengage, state.call_times)
        time = self.sla_time(state)
        outcome.derived = Derived(workable_at, clocks, time)
        decision = reconcile(
            self.obligations(state, clocks, time), state.emitted, now, self.policy.response.allowed_lateness_seconds
        )
        self._emit(state, decision, now, outcome)
        # Look again when the next stage is due, or sooner when a fact (or a
        # clock's deadline) still lies ahead of now: the per-rep figures count
        # facts once their time has come, whatever the order of time and arrival.
        refresh = self._refresh_at(state, clocks, time, now)
        wakeups = [t for t in (decision.next_wakeup, refresh) if t is not None]
        outcome.next_wakeup = min(wakeups) if wakeups else None
        if decision.upcoming is not None:
            base, generation, value = self._breach(state, decision.upcoming, None)
            outcome.upcoming = {
                "obligation": base,
                "generation": generation,
                "due": decision.upcoming.due,
                "at": decision.next_wakeup,  # when it may be emitted: due + allowed lateness
                "value": value,
            }
        for clock in clocks:
            key = repr(clock.started_at)
            if clock.stopped_at is not None and key not in state.responded:
                seconds = time.diff(clock.started_at, clock.stopped_at)
                state.responded[key] = seconds
                outcome.response_seconds.append((state.owner_at(clock.started_at), seconds))
                outcome.state = state
        if clocks and clocks[-1].open:
            start = clocks[-1].started_at
            outcome.open_clock = (start, state.current_owner, time.add(start, self.overdue_after_seconds))

    def _refresh_at(self, state: LeadState, clocks: list[ResponseClock], time: Any, now: float) -> float | None:
        """The first instant after ``now`` at which a fact of the lead, or the
        deadline of an open clock, takes effect (None: nothing ahead)."""
        ahead = [t for t in (state.created_at,) if t is not None and t > now]
        for facts in (state.owners, state.downloads, state.calls, state.opportunities):
            i = bisect.bisect_right(facts, now, key=_first)
            if i < len(facts):
                ahead.append(facts[i][0])
        for clock in clocks:
            if clock.open:
                due = time.add(clock.started_at, self.policy.response.deadline_seconds)
                if due > now:
                    ahead.append(due)
        return min(ahead) if ahead else None

    @staticmethod
    def _breach(state: LeadState, ob: Obligation, now: float | None) -> tuple[str, int, dict[str, Any]]:
        """(obligation id, generation, breach event) of emitting ``ob`` at ``now``."""
        previous = state.emitted.get(ob.event_id)
        generation = previous.get("generation", 0) + 1 if previous else 0
        score = state.score or {}
        value = {
            "event_id": refire_event_id(ob.event_id, generation),
            "breach_type": ob.breach_type,
            "stage": ob.stage,
            "lead_id": state.lead_id,
            "rep_id": state.current_owner,
            "clock_started_at": _ts(ob.started_at),
            "deadline": _ts(ob.due),
            "detected_at": None if now is None else _ts(now),
            "policy": ob.policy,
            "lead_score": score.get("score"),
            "segment": score.get("segment"),
        }
        return ob.event_id, generation, value

    def _emit(self, state: LeadState, decision: Reconciliation, now: float, outcome: Outcome) -> None:
        owner = state.current_owner
        for ob in decision.fire:
            _, generation, value = self._breach(state, ob, now)
            state.emitted[ob.event_id] = {
                "type": ob.breach_type,
                "value": value,
                RETRACTED: False,
                "generation": generation,
            }
            outcome.outputs.append(("sla-breaches", state.lead_id, value))
            outcome.breaches.append(Breach(owner, ob.breach_type, ob.stage, now - ob.due))
        for breach_id in decision.retract:
            sent = state.emitted[breach_id]
            sent[RETRACTED] = True
            value = {
                **sent["value"],
                "event_id": retraction_event_id(sent["value"]["event_id"]),
                "stage": RETRACTED,
                "retracts": sent["value"]["event_id"],
                "rep_id": owner,
                "detected_at": _ts(now),
            }
            outcome.outputs.append(("sla-breaches", state.lead_id, value))
            outcome.breaches.append(Breach(owner, sent["type"], RETRACTED, None))
        if decision.fire or decision.retract:
            outcome.state = state
