"""The rep roster: the compacted ``reps`` topic, keyed by ``rep_id``."""

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from schemas.types import Id, Text, Timestamp

Weekday = Annotated[str, Field(pattern=r"^(mon|tue|wed|thu|fri|sat|sun)$", strict=True)]


class OutOfOffice(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    start: Timestamp
    end: Timestamp


class RepRecord(BaseModel):
    """A rep's team, calendar and target; calendar fields left out fall back
    to the policy's ``[calendar]`` defaults."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rep_id: Id
    team: Text | None = None
    timezone: Text | None = None
    active: Annotated[bool, Field(strict=True)] = True
    working_hours: Text | None = None
    working_days: list[Weekday] | None = None
    holidays_country: Annotated[str, Field(max_length=8, strict=True)] | None = None
    holidays: list[date] | None = None
    out_of_office: list[OutOfOffice] | None = None
    monthly_workable_target: Annotated[int, Field(ge=0, strict=True)] | None = None
