"""Closing the loop live: what a lead's events tell about its segment.

The lead handler reports each change of a lead's outcome (an attempt, a
connect, an opportunity) as an evidence record keyed by segment; the segment
handler folds the records into ``SegmentStats`` with the same smoothing and
verdict rule as ``analyze`` (docs/scoring.md). Records carry the input
event's id, so a replayed input is counted once.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from stream.domain.lead import LeadState
from stream.domain.segments import (
    LeadOutcome,
    Prior,
    SegmentStats,
    SegmentTable,
    acquisition_cost,
    segment_key,
)
from stream.policy import ScoringPolicy


def lead_outcome(state: LeadState | None) -> LeadOutcome:
    if state is None:
        return LeadOutcome()
    return LeadOutcome(
        attempts=len(state.calls),
        connected=any(c[2] == "connected" for c in state.calls),
        opportunity=bool(state.opportunities),
        value=float(sum(o[1] for o in state.opportunities)),
    )


def _outcome_dict(o: LeadOutcome) -> dict[str, Any]:
    return {"attempts": o.attempts, "connected": o.connected, "opportunity": o.opportunity, "value": o.value}


def evidence(
    existed: bool,
    before_outcome: LeadOutcome,
    after: LeadState,
    event_id: str,
    occurred_at: float,
    policy: ScoringPolicy,
) -> list[dict[str, Any]]:
    """Evidence records for one applied event (none when nothing changed or
    the lead's creation is still unknown). ``existed``: the lead's creation
    was known before the event; ``before_outcome``: its outcome then."""
    if after.created_at is None:
        return []
    segment = segment_key(after.attributes, policy.segment_by)
    created_now = not existed
    after_outcome = lead_outcome(after)
    out = []
    base = {"segment": segment, "lead_id": after.lead_id, "created_at": after.created_at}
    if created_now:
        cost = acquisition_cost(after.attributes.get("source"), policy)
        out.append({**base, "event_id": event_id, "kind": "created", "cost": cost, "occurred_at": occurred_at})
        before_outcome = LeadOutcome()  # facts that arrived before the lead count from its creation
    if after_outcome != before_outcome:
        out.append(
            {
                **base,
                "event_id": event_id + ("#outcome" if created_now else ""),
                "kind": "outcome",
                "before": _outcome_dict(before_outcome),
                "after": _outcome_dict(after_outcome),
                "occurred_at": max(occurred_at, after.created_at),
            }
        )
    return out


def _instant(at: float) -> datetime:
    return datetime.fromtimestamp(at, tz=timezone.utc)


class SegmentLearner:
    """Folds evidence records into live segment statistics."""

    def __init__(self, policy: ScoringPolicy, table: SegmentTable | None, dedupe_limit: int = 4096) -> None:
        self.policy = policy
        self.table = table
        self.prior = table.prior if table is not None else Prior()
        self.dedupe_limit = dedupe_limit

    def fresh(self, segment: str) -> SegmentStats:
        return self.table.stats(segment) if self.table is not None else SegmentStats(segment)

    def apply(self, stored: dict[str, Any] | None, record: dict[str, Any]) -> dict[str, Any] | None:
        """The new stored value for the record's segment, or None for a duplicate."""
        seen: list[str] = list(stored["seen"]) if stored else []
        if record["event_id"] in seen:
            return None
        stats = SegmentStats.from_dict(stored["stats"]) if stored else self.fresh(record["segment"])
        created = _instant(record["created_at"])
        if record["kind"] == "created":
            stats.lead_created(created, float(record["cost"]))
        else:
            stats.outcome_changed(
                created,
                LeadOutcome(**record["before"]),
                LeadOutcome(**record["after"]),
                _instant(record["occurred_at"]),
            )
        stats.reassess(self.prior, self.policy)
        seen.append(record["event_id"])
        return {"stats": stats.to_dict(), "seen": seen[-self.dedupe_limit :]}
