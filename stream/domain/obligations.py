"""Obligations and their breach stages: what to emit, what to retract.

An obligation is one stage of one SLA clock (a first-response stage, the
end of an attempt window, a gap between attempts) that falls due at an
instant unless it is met before. Every rule derives its obligations from the
facts known now; ``reconcile`` compares them with what was already emitted.
Instants are UTC epoch seconds. Nothing here reads the wall clock.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

RETRACTED = "retracted"


@dataclass(frozen=True, slots=True)
class Obligation:
    event_id: str  # deterministic: the same breach always has the same id
    breach_type: str  # first_response | attempt_cadence
    stage: str  # warning | breach | escalation
    started_at: float  # when the SLA clock started
    due: float  # when the stage falls due (before allowed lateness)
    breached: bool  # per the facts known now
    policy: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    fire: tuple[Obligation, ...]
    retract: tuple[str, ...]  # event ids of earlier breaches the facts now disprove
    next_wakeup: float | None  # wall-clock instant the next stage becomes emittable
    upcoming: Obligation | None = None  # the stage that becomes emittable then


def _micros(at: float) -> int:
    return int(round(at * 1_000_000))


@functools.lru_cache(maxsize=65_536)  # every event of a lead asks again for the same few ids
def breach_event_id(lead_id: str, breach_type: str, started_at: float, stage: str) -> str:
    """Deterministic id: the same breach always gets the same id."""
    text = f"{breach_type}|{lead_id}|{_micros(started_at)}|{stage}"
    return "br-" + hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def refire_event_id(breach_id: str, generation: int) -> str:
    """The id of a breach emitted again after ``generation`` retractions
    (generation 0 is the breach's own id)."""
    if generation == 0:
        return breach_id
    return "br-" + hashlib.blake2b(f"{breach_id}|{generation}".encode(), digest_size=16).hexdigest()


def retraction_event_id(breach_id: str) -> str:
    return "rt-" + hashlib.blake2b(breach_id.encode(), digest_size=16).hexdigest()


def reconcile(
    obligations: Iterable[Obligation],
    emitted: Mapping[str, Mapping[str, Any]],
    now: float,
    allowed_lateness_seconds: float,
) -> Reconciliation:
    """Which breached stages to emit now, which earlier ones to retract, and
    when to look again.

    A breached stage is emitted once ``now`` passes its due instant plus the
    allowed lateness, and at most once (``emitted`` holds what was sent, by
    event id). A stage that was emitted but that the facts known now show as
    met (a late call from before its due instant) is retracted, once. A
    retracted stage that later facts show breached after all fires again
    (under a new id: see ``refire_event_id``).
    """
    fire: list[Obligation] = []
    expected: set[str] = set()
    wakeup: float | None = None
    upcoming: Obligation | None = None
    for ob in obligations:
        if not ob.breached:
            continue
        expected.add(ob.event_id)
        sent = emitted.get(ob.event_id)
        if sent is not None and not sent.get(RETRACTED):
            continue
        emit_at = ob.due + allowed_lateness_seconds
        if emit_at <= now:
            fire.append(ob)
        elif wakeup is None or emit_at < wakeup:
            wakeup, upcoming = emit_at, ob
    retract = tuple(
        event_id
        for event_id, sent in emitted.items()
        if event_id not in expected and not sent.get(RETRACTED)
    )
    return Reconciliation(tuple(fire), retract, wakeup, upcoming)
