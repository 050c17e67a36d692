"""Decode and validate one raw Kafka record at the edge.

Bad input never raises out of here: it comes back as ``Rejected`` with the
reason in words, for the dead-letter topic.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import orjson
from pydantic import BaseModel, ValidationError

from schemas.events import INPUT_MODELS
from schemas.reps import RepRecord

MAX_VALUE_BYTES = 64 * 1024

MODELS: dict[str, type[BaseModel]] = {**INPUT_MODELS, "reps": RepRecord}


@dataclass(frozen=True, slots=True)
class Rejected:
    error: str


def describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "value"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "invalid fields: " + "; ".join(parts)


def decode(topic: str, key: bytes | None, value: bytes | None) -> BaseModel | Rejected:
    """The validated model for a record of contract topic ``topic``.

    The key must equal the value's ``lead_id`` (``rep_id`` on ``reps``):
    a mismatched key would put the lead's state on the wrong partition.
    """
    if value is None:
        return Rejected("empty value (tombstone) on an input topic")
    if len(value) > MAX_VALUE_BYTES:
        return Rejected(f"value too large: {len(value)} bytes > {MAX_VALUE_BYTES}")
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return Rejected(f"not JSON: {exc}")
    if not isinstance(data, dict):
        return Rejected(f"not a JSON object: got {type(data).__name__}")
    try:
        model = MODELS[topic].model_validate(data)
    except ValidationError as exc:
        return Rejected(describe(exc))
    key_field = "rep_id" if topic == "reps" else "lead_id"
    expected = getattr(model, key_field)
    try:
        key_text = key.decode("utf-8") if key is not None else None
    except UnicodeDecodeError:
        key_text = None
    if key_text != expected:
        return Rejected(f"key {key_text!r} differs from {key_field} {expected!r}")
    return model


def payload_text(value: bytes | None) -> tuple[str | None, str]:
    """The raw value as text, or base64 when it is not UTF-8."""
    if value is None:
        return None, "utf-8"
    try:
        return value.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii"), "base64"


def key_text(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        return key.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(key).decode("ascii")
