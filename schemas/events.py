"""Input events: every lead topic is keyed by ``lead_id``."""

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.types import Id, Text, Timestamp


class InputEvent(BaseModel):
    """Fields every input event carries. Unknown extra fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: Id
    lead_id: Id
    occurred_at: Timestamp


class LeadCreated(InputEvent):
    source: Text
    owner_rep_id: Id | None = None
    company_size: Annotated[int, Field(ge=0, strict=True)] | None = None
    industry: Text | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$", strict=True)] | None = None
    persona: Text | None = None
    email: Annotated[str, Field(max_length=320, strict=True)] | None = None


class ContentDownloaded(InputEvent):
    content_id: Id
    content_type: Text


class CallOutcome(StrEnum):
    connected = "connected"
    no_answer = "no_answer"
    voicemail = "voicemail"
    busy = "busy"
    bad_number = "bad_number"


class CallAttempted(InputEvent):
    rep_id: Id
    outcome: CallOutcome
    duration_seconds: Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)] | None = None


class LeadAssigned(InputEvent):
    rep_id: Id


class OpportunityCreated(InputEvent):
    amount: Annotated[float, Field(ge=0, strict=True, allow_inf_nan=False)]
    currency: Annotated[str, Field(min_length=3, max_length=3, strict=True)] | None = None


INPUT_MODELS: dict[str, type[InputEvent]] = {
    "lead-created": LeadCreated,
    "content-downloaded": ContentDownloaded,
    "call-attempt": CallAttempted,
    "lead-assigned": LeadAssigned,
    "opportunity-created": OpportunityCreated,
}
