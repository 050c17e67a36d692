"""Builders of wire-format events for tests."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

_ids = itertools.count()


# Plain time, a day's deadline, every lead workable: each lead opens a clock
# and no stage falls due during a test.
QUIET_POLICY = """
[response]
deadline_seconds = 86400
business_hours = false
[scoring]
workable_threshold = 0
"""


def ts(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def now() -> datetime:
    return datetime.now(timezone.utc)


def eid(prefix: str = "e") -> str:
    return f"{prefix}-{next(_ids)}-{datetime.now().timestamp()}"


def lead(lead_id: str, at: datetime, owner: str | None = None, **extra) -> dict:
    value = {"event_id": eid("lc"), "lead_id": lead_id, "occurred_at": ts(at), "source": "web", **extra}
    if owner:
        value["owner_rep_id"] = owner
    return value


def call(lead_id: str, at: datetime, rep: str = "r-1", outcome: str = "no_answer") -> dict:
    return {"event_id": eid("ca"), "lead_id": lead_id, "occurred_at": ts(at), "rep_id": rep, "outcome": outcome}


def download(lead_id: str, at: datetime, content_type: str = "ebook") -> dict:
    return {
        "event_id": eid("cd"),
        "lead_id": lead_id,
        "occurred_at": ts(at),
        "content_id": f"c-{content_type}",
        "content_type": content_type,
    }


def assigned(lead_id: str, at: datetime, rep: str) -> dict:
    return {"event_id": eid("la"), "lead_id": lead_id, "occurred_at": ts(at), "rep_id": rep}


def opportunity(lead_id: str, at: datetime, amount: float = 1000.0) -> dict:
    return {"event_id": eid("op"), "lead_id": lead_id, "occurred_at": ts(at), "amount": amount}


def later(at: datetime, seconds: float) -> datetime:
    return at + timedelta(seconds=seconds)
