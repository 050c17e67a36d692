"""The SLA policy: a TOML file (path in ``SLA_POLICY_FILE``), validated at start.

Key names are part of the public contract (SPEC §6). Unknown keys are refused
so that a typo stops start-up instead of silently applying a default; every
error names the key, e.g. ``response.deadline_seconds``.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator

from schemas.reps import OutOfOffice, RepRecord
from stream.domain.calendar import parse_working_hours

Stage = Literal["warning", "breach", "escalation"]
# What the notifier may post: the emitted stages, and retractions of them.
NotifiedStage = Literal["warning", "breach", "escalation", "retracted"]
BreachType = Literal["first_response", "attempt_cadence", "marketing_shortfall"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
SegmentAttribute = Literal["source", "company_size_band", "persona", "industry", "country"]
# TOML has native dates, but "2026-12-24" strings are accepted too.
LaxDate = Annotated[date, Strict(False)]


class PolicyError(ValueError):
    """The policy file or a setting is invalid; the message names the key."""


class _Section(BaseModel):
    # Strict: TOML is typed, so `deadline_seconds = true` or `business_hours = "no"`
    # is a mistake to report, not a value to coerce (to 1 second, or to True).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class EscalationStep(_Section):
    at: Annotated[float, Field(gt=0)]
    stage: Stage


class ResponsePolicy(_Section):
    deadline_seconds: Annotated[float, Field(gt=0)] = 300
    business_hours: bool = True
    allowed_lateness_seconds: Annotated[float, Field(ge=0)] = 2
    reengage_content_types: list[str] = ["demo_request", "pricing"]
    escalation: list[EscalationStep] = [
        EscalationStep(at=0.8, stage="warning"),
        EscalationStep(at=1.0, stage="breach"),
        EscalationStep(at=3.0, stage="escalation"),
    ]

    @field_validator("escalation")
    @classmethod
    def _distinct_stages(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        stages = [s.stage for s in steps]
        if len(set(stages)) != len(stages):
            raise ValueError("each stage may appear once")
        return sorted(steps, key=lambda s: s.at)


class AttemptsPolicy(_Section):
    required: Annotated[int, Field(ge=1)] = 6
    window_days: Annotated[int, Field(ge=1)] = 10
    max_gap_hours: Annotated[float, Field(ge=0)] = 0  # 0 = off


class MarketingPolicy(_Section):
    workable_leads_per_rep_per_month: Annotated[int, Field(ge=0)] = 100
    pacing_warning_ratio: Annotated[float, Field(ge=0, le=1)] = 0.8
    # The daily pacing check, in each rep's local time ("HH:MM").
    check_at: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = "10:00"


class ScoringPolicy(_Section):
    workable_threshold: Annotated[float, Field(ge=0, le=100)] = 50
    segment_by: list[SegmentAttribute] = ["source", "company_size_band", "persona"]
    segments_file: Annotated[Path, Strict(False)] | None = None
    # Closed-loop economics used by `analyze` and the live segment verdicts.
    cost_per_lead: Annotated[float, Field(ge=0)] = 0
    source_costs: dict[str, Annotated[float, Field(ge=0)]] = {}
    cost_per_attempt: Annotated[float, Field(ge=0)] = 0
    # Leads younger than this (event time) have not had time to convert: left out of the rates.
    min_age_days: Annotated[float, Field(ge=0)] = 30
    # Pseudo-leads at the overall value per lead added to every segment (docs/scoring.md).
    smoothing_leads: Annotated[float, Field(ge=0)] = 20
    # A segment is judged only with at least this many mature leads.
    min_mature_leads: Annotated[int, Field(ge=1)] = 30
    # One-sided confidence of the profit bound that decides a verdict.
    verdict_confidence: Annotated[float, Field(gt=0.5, lt=1)] = 0.9
    # Intent: points per downloaded content type (others get `default_content_weight`).
    content_weights: dict[str, Annotated[float, Field(ge=0)]] = {
        "demo_request": 40,
        "pricing": 30,
        "webinar": 15,
        "ebook": 10,
        "blog": 5,
    }
    default_content_weight: Annotated[float, Field(ge=0)] = 5
    fit_weight: Annotated[float, Field(ge=0, le=100)] = 50
    intent_weight: Annotated[float, Field(ge=0, le=100)] = 50


class NotifierPolicy(_Section):
    """``[notifier]``: post ``sla-breaches`` events to a webhook (docs/notifier.md).

    Writing the section turns the notifier on (``enabled`` defaults to true
    there); leaving it out, or ``enabled = false``, keeps it off. The URL is a
    secret, so the policy names only the environment variable that holds it.
    """

    enabled: bool = True
    url_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] = "SLA_NOTIFIER_URL"
    format: Literal["slack", "json"] = "slack"
    stages: Annotated[list[NotifiedStage], Field(min_length=1)] = ["breach", "escalation"]
    breach_types: Annotated[list[BreachType], Field(min_length=1)] = [
        "first_response",
        "attempt_cadence",
        "marketing_shortfall",
    ]
    # Per POST, connecting included.
    timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10
    # Longest wait between two tries of one event (Retry-After included).
    max_backoff_seconds: Annotated[float, Field(gt=0, le=3600)] = 60


def _check_timezone(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone {value!r}") from None
    return value


def _check_hours(value: str | None) -> str | None:
    if value is not None:
        parse_working_hours(value)
    return value


def _check_country(value: str | None) -> str | None:
    if value:
        import holidays

        if value not in holidays.list_supported_countries():
            raise ValueError(f"no public holidays known for country {value!r}")
    return value or None


def _check_rep_country(value: str | None) -> str | None:
    # "" stays "": a rep's explicit "no public holidays" (None falls back to [calendar]).
    return value if value == "" else _check_country(value)


def _check_out_of_office(value: list[OutOfOffice] | None) -> list[OutOfOffice] | None:
    for i, period in enumerate(value or ()):
        if period.end <= period.start:
            raise ValueError(f"period [{i}]: end must be after start")
    return value


class CalendarPolicy(_Section):
    """The default business calendar: for unowned leads and reps not in the roster."""

    timezone: str = "America/New_York"
    working_hours: str = "09:00-17:00"
    working_days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]
    holidays_country: str | None = "US"
    holidays: list[LaxDate] = []
    out_of_office: list[OutOfOffice] = []

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _check_timezone(v)))
    _hours = field_validator("working_hours")(classmethod(lambda cls, v: _check_hours(v)))
    _country = field_validator("holidays_country")(classmethod(lambda cls, v: _check_country(v)))
    _ooo = field_validator("out_of_office")(classmethod(lambda cls, v: _check_out_of_office(v)))


class RepPolicy(_Section):
    """A ``[[reps]]`` entry; calendar fields left out use ``[calendar]``."""

    rep_id: Annotated[str, Field(min_length=1, max_length=128)]
    team: str | None = None
    active: bool = True
    timezone: str | None = None
    working_hours: str | None = None
    working_days: list[Weekday] | None = None
    holidays_country: str | None = None
    holidays: list[LaxDate] | None = None
    out_of_office: list[OutOfOffice] | None = None
    monthly_workable_target: Annotated[int, Field(ge=0)] | None = None

    _tz = field_validator("timezone")(classmethod(lambda cls, v: _check_timezone(v)))
    _hours = field_validator("working_hours")(classmethod(lambda cls, v: _check_hours(v)))
    _country = field_validator("holidays_country")(classmethod(lambda cls, v: _check_rep_country(v)))
    _ooo = field_validator("out_of_office")(classmethod(lambda cls, v: _check_out_of_office(v)))

    def as_record(self) -> RepRecord:
        return RepRecord.model_validate(self.model_dump())


class Policy(_Section):
    response: ResponsePolicy = ResponsePolicy()
    attempts: AttemptsPolicy = AttemptsPolicy()
    marketing: MarketingPolicy = MarketingPolicy()
    scoring: ScoringPolicy = ScoringPolicy()
    calendar: CalendarPolicy = CalendarPolicy()
    # Off unless the file has a [notifier] section.
    notifier: NotifierPolicy = NotifierPolicy(enabled=False)
    reps: list[RepPolicy] = []

    @model_validator(mode="after")
    def _unique_reps(self) -> Policy:
        seen: set[str] = set()
        for i, rep in enumerate(self.reps):
            if rep.rep_id in seen:
                raise PolicyError(f"reps[{i}].rep_id: duplicate rep {rep.rep_id!r}")
            seen.add(rep.rep_id)
        return self

    def rep(self, rep_id: str) -> RepPolicy | None:
        for rep in self.reps:
            if rep.rep_id == rep_id:
                return rep
        return None


def _key(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the policy)"
        key = _key(err["loc"])
        # Whole-policy checks (duplicate reps) name their key in the message.
        lines.append(f"{origin}: {key}: {msg}" if key else f"{origin}: {msg}")
    return "\n".join(lines)


def parse_policy(data: dict, origin: str = "policy") -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(describe(exc, origin)) from None


def load_policy(path: str | Path | None) -> Policy:
    """The policy at ``path``, or the built-in defaults when ``path`` is None.

    Relative ``scoring.segments_file`` paths resolve against the policy file's folder.
    """
    if path is None:
        return Policy()
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"SLA_POLICY_FILE: no such file {str(path)!r}") from None
    except OSError as exc:  # a folder, no permission ...
        raise PolicyError(f"SLA_POLICY_FILE: cannot read {str(path)!r}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise PolicyError(f"SLA_POLICY_FILE: {str(path)!r} is not UTF-8 text: {exc.reason}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    policy = parse_policy(data, str(path))
    seg = policy.scoring.segments_file
    if seg is not None and not seg.is_absolute():
        scoring = policy.scoring.model_copy(update={"segments_file": path.parent / seg})
        policy = policy.model_copy(update={"scoring": scoring})
    return policy
