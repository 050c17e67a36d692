"""The lead table: one changelog-backed entry per lead, keyed by lead id.

Values are orjson bytes of an envelope ``{"p": partition, "w": wakeup,
"o": open clock, "s": state}``. The envelope lets the deadline index be
rebuilt after a rebalance without re-deriving every lead. ``r`` is the
lead's contribution to its rep's day bucket and ``e`` its standing breach
events by day of detection (the per-rep table is rebuilt from them). Every change is
written back as a new value: mutating a stored value in place would write no
changelog record.
"""

from __future__ import annotations

from typing import Any

import faust
import orjson

from stream.adapters.topics import changelog_name
from stream.domain.lead import LeadState
from stream.settings import Settings


def lead_table(app: faust.App, settings: Settings, name: str = "leads") -> faust.Table:
    """A table of bytes to bytes with its changelog under our topic names."""
    changelog = app.topic(
        changelog_name(settings, name),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
        compacting=True,
        deleting=False,
        acks=False,
        internal=True,
        maxsize=131_072,
        allow_empty=True,
    )
    return app.Table(
        name,
        key_type=bytes,
        value_type=bytes,
        partitions=settings.partitions,
        changelog_topic=changelog,
    )


def encode(
    partition: int,
    state: LeadState,
    wakeup: float | None,
    open_clock: Any,
    contribution: dict | None = None,
    detections: list | None = None,
) -> bytes:
    """``r``: the lead's current contribution to its rep's day bucket; ``e``:
    its standing breach events by rep and day of detection."""
    return orjson.dumps(
        {"p": partition, "w": wakeup, "o": open_clock, "r": contribution, "e": detections, "s": state.to_dict()}
    )


def decode(raw: bytes | None) -> tuple[dict[str, Any], LeadState | None]:
    if raw is None:
        return {}, None
    envelope = orjson.loads(raw)
    return envelope, LeadState.from_dict(envelope["s"])
