"""The wire contract v1: a pydantic v2 model for the value of every topic.

Models are parsed and serialized at the edge; the domain only ever sees
validated objects. ``python -m schemas`` regenerates the JSON Schema files
beside this module (a test fails when they drift).
"""

from schemas.events import (
    CallAttempted,
    CallOutcome,
    ContentDownloaded,
    InputEvent,
    LeadAssigned,
    LeadCreated,
    OpportunityCreated,
)
from schemas.outputs import BreachStage, BreachType, DeadLetter, LeadScored, SlaBreach
from schemas.reps import OutOfOffice, RepRecord

__all__ = [
    "BreachStage",
    "BreachType",
    "CallAttempted",
    "CallOutcome",
    "ContentDownloaded",
    "DeadLetter",
    "InputEvent",
    "LeadAssigned",
    "LeadCreated",
    "LeadScored",
    "OpportunityCreated",
    "OutOfOffice",
    "RepRecord",
    "SlaBreach",
]
