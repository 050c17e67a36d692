"""Output events: ``lead-scored``, ``sla-breaches`` and ``dead-letter``."""

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.types import Id, Timestamp


class LeadScored(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Id
    lead_id: Id
    occurred_at: Timestamp
    scored_at: Timestamp
    score: Annotated[float, Field(ge=0, le=100, strict=True)]
    workable: Annotated[bool, Field(strict=True)]
    segment: Annotated[str, Field(max_length=512)]
    reasons: Annotated[list[Annotated[str, Field(max_length=1024)]], Field(max_length=64)]
    rep_id: Id | None


class BreachType(StrEnum):
    first_response = "first_response"
    attempt_cadence = "attempt_cadence"
    marketing_shortfall = "marketing_shortfall"


class BreachStage(StrEnum):
    warning = "warning"
    breach = "breach"
    escalation = "escalation"
    retracted = "retracted"


class SlaBreach(BaseModel):
    """One stage of one SLA clock. ``event_id`` is deterministic: the same
    breach always carries the same id, so consumers can dedupe."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Id
    breach_type: BreachType
    stage: BreachStage
    lead_id: Id | None
    rep_id: Id | None
    clock_started_at: Timestamp
    deadline: Timestamp
    detected_at: Timestamp
    policy: dict[str, Any]
    lead_score: Annotated[float, Field(strict=True)] | None = None
    segment: Annotated[str, Field(max_length=512)] | None = None
    retracts: Id | None = None


class DeadLetter(BaseModel):
    """An input that could not be processed, with what was wrong in words.
    ``payload`` is the raw value as text, or base64 when it is not UTF-8
    (then ``payload_encoding`` is ``base64``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    topic: str
    partition: int
    offset: int
    key: str | None
    received_at: Timestamp
    error: str
    payload: str | None
    payload_encoding: str = "utf-8"
