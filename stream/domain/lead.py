"""What we know of one lead: the facts of its events, kept in event time.

A lead's state is a plain value (``LeadState``) that round-trips through a
dict of JSON types, so the adapter can store it in a changelog-backed table.
Instants are UTC epoch seconds (floats). Facts are kept sorted by event time,
so every derived result depends on which events arrived, never on the order
they arrived in.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class LeadState:
    lead_id: str
    # lead-created attributes (source, owner_rep_id, company_size, ...) and its time
    created_at: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # [occurred_at, rep_id]: the owner from that instant on (lead-created, lead-assigned)
    owners: list[list] = field(default_factory=list)
    # [occurred_at, content_type, event_id]
    downloads: list[list] = field(default_factory=list)
    # [occurred_at, rep_id, outcome, event_id]
    calls: list[list] = field(default_factory=list)
    # [occurred_at, amount, event_id]
    opportunities: list[list] = field(default_factory=list)
    # recent event ids, oldest first: a repeated id is a duplicate
    seen: list[str] = field(default_factory=list)
    # breach event_id -> what was emitted (stage, clock start, deadline, retracted)
    emitted: dict[str, dict[str, Any]] = field(default_factory=dict)
    # clock start -> response seconds already observed in the histogram
    responded: dict[str, float] = field(default_factory=dict)
    # scoring decisions by trigger ("created" or a download's event id):
    # [instant, workable, score]. Kept, not recomputed, so a later change of
    # the segment model never rewrites when a lead became workable.
    decisions: dict[str, list] = field(default_factory=dict)
    # the latest scoring decision: score, workable, segment, reasons
    score: dict[str, Any] | None = None

    # -- duplicates -------------------------------------------------------
    def has_seen(self, event_id: str) -> bool:
        return event_id in self.seen

    def remember(self, event_id: str, limit: int) -> None:
        self.seen.append(event_id)
        if len(self.seen) > limit:
            del self.seen[: len(self.seen) - limit]

    # -- facts, inserted in event-time order ---------------------------------
    def add_owner(self, at: float, rep_id: str) -> None:
        bisect.insort(self.owners, [at, rep_id])

    def add_download(self, at: float, content_type: str, event_id: str) -> None:
        bisect.insort(self.downloads, [at, content_type, event_id])

    def add_call(self, at: float, rep_id: str, outcome: str, event_id: str) -> None:
        bisect.insort(self.calls, [at, rep_id, outcome, event_id])

    def add_opportunity(self, at: float, amount: float, event_id: str) -> None:
        bisect.insort(self.opportunities, [at, amount, event_id])

    # -- derived ----------------------------------------------------------
    @property
    def fact_count(self) -> int:
        """Facts kept: owners, downloads, calls and opportunities."""
        return len(self.owners) + len(self.downloads) + len(self.calls) + len(self.opportunities)

    @property
    def exists(self) -> bool:
        return self.created_at is not None

    def owner_at(self, at: float) -> str | None:
        """The owner at event time ``at`` (None when unowned)."""
        owner = None
        for t, rep in self.owners:
            if t > at:
                break
            owner = rep
        return owner

    @property
    def current_owner(self) -> str | None:
        return self.owners[-1][1] if self.owners else None

    @property
    def call_times(self) -> list[float]:
        return [c[0] for c in self.calls]

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LeadState:
        return cls(**{k: v for k, v in data.items() if k in cls.__slots__})
