"""A chaos run's traffic and what it must produce, from a seed.

Leads are created over the run on wall-clock time; each gets a fate:

* ``in_time``  called before its first stage falls due: no breach;
* ``late``     called between its breach and its escalation: warning and
  breach stand, the escalation does not;
* ``never``    never called: every stage stands;
* ``delayed``  called in time, but the call is delivered after its stages
  fell due: whatever was emitted must be retracted, nothing stands;
* ``twice``    never called, and its ``lead-created`` is sent twice.

Events carry their event time; when they are sent is a separate schedule
(a broker outage only delays sends, it never changes the expectation). The
expectation is computed with the worker's own rules (``LeadProcessor``)
from every event at once: the deterministic ids of the stages that stand.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from schemas.events import CallAttempted, LeadCreated
from stream.policy import Policy, parse_policy
from stream.service.calendars import CalendarBook
from stream.service.leads import LeadProcessor
from stream.service.scorer import build_scorer

DEADLINE_SECONDS = 6.0
FATES = ("in_time", "late", "never", "delayed", "twice")


def policy_toml(deadline: float = DEADLINE_SECONDS) -> str:
    """Plain time, every lead workable, one attempt needed within the month
    (so attempt cadence never falls due during a run)."""
    return f"""
[response]
deadline_seconds = {deadline}
business_hours = false
allowed_lateness_seconds = 0.5
escalation = [{{ at = 0.8, stage = "warning" }}, {{ at = 1.0, stage = "breach" }}, {{ at = 3.0, stage = "escalation" }}]
[attempts]
required = 1
window_days = 30
[scoring]
workable_threshold = 0
"""


def _ts(at: float) -> str:
    return datetime.fromtimestamp(at, tz=timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Send:
    """One record to send at ``send_at`` (epoch seconds)."""

    send_at: float
    topic: str  # contract name
    key: str
    value: dict[str, Any]


def traffic(seed: int, start: float, seconds: float, leads: int, deadline: float = DEADLINE_SECONDS) -> list[Send]:
    """Every record of the run, by send time. Leads are created over the
    first ``seconds`` less three deadlines, so that every stage falls due
    within ``seconds``."""
    rng = random.Random(seed)
    span = max(1.0, seconds - 3 * deadline - 2)
    out: list[Send] = []
    for i in range(leads):
        lead = f"C{seed}-{i:05d}"
        fate = FATES[i % len(FATES)]
        created = start + rng.uniform(0, span)
        value = {"event_id": f"{lead}-c", "lead_id": lead, "occurred_at": _ts(created), "source": "web", "owner_rep_id": f"r-{i % 7}"}
        out.append(Send(created, "lead-created", lead, value))
        if fate == "twice":
            out.append(Send(created + rng.uniform(0, deadline), "lead-created", lead, value))
        call_at = send_at = None
        if fate == "in_time":
            call_at = send_at = created + rng.uniform(0.1, 0.6) * deadline
        elif fate == "late":
            call_at = send_at = created + rng.uniform(1.3, 2.5) * deadline
        elif fate == "delayed":
            call_at = created + rng.uniform(0.1, 0.6) * deadline
            send_at = created + rng.uniform(1.5, 2.8) * deadline
        if call_at is not None:
            call = {"event_id": f"{lead}-a", "lead_id": lead, "occurred_at": _ts(call_at), "rep_id": f"r-{i % 7}", "outcome": "connected"}
            out.append(Send(send_at, "call-attempt", lead, call))
    out.sort(key=lambda s: s.send_at)
    return out


def expected_standing(sends: list[Send], policy: Policy | None = None) -> dict[str, str]:
    """The breach stages that stand once every event is known and every
    stage has fallen due: event id -> "lead stage", to say what a miss was."""
    policy = policy or parse_policy_text(policy_toml())
    calendars = CalendarBook(policy)
    processor = LeadProcessor(policy, calendars.calendar_for, build_scorer(policy))
    states: dict[str, Any] = {}
    for send in sends:
        model = (LeadCreated if send.topic == "lead-created" else CallAttempted).model_validate(send.value)
        outcome = processor.apply(states.get(send.key), model, 0.0)
        if outcome.state is not None:
            states[send.key] = outcome.state
    standing = {}
    for state in states.values():
        for ob in processor.obligations(state):
            if ob.breached and ob.breach_type == "first_response":
                standing[ob.event_id] = f"{state.lead_id} {ob.stage}"
    return standing


def parse_policy_text(text: str) -> Policy:
    import tomllib

    return parse_policy(tomllib.loads(text))
