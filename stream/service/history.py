"""Recorded history: JSON lines ``{"topic": ..., "value": {...}}`` (SPEC §8).

Topic names are the contract names without any ``SLA_TOPIC_PREFIX``; each
value is validated with the wire models of ``schemas.events``. Used by
``analyze``, ``backtest`` and ``replay``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import orjson
from pydantic import ValidationError

from schemas.events import INPUT_MODELS, InputEvent

Event = tuple[str, InputEvent]
# (1-based line number, what was wrong) for each skipped line
OnInvalid = Callable[[int, str], None]


class History(NamedTuple):
    events: list[Event]  # valid events in file order, duplicates included
    invalid: int  # lines skipped because they were not a valid event


def parse_line(line: bytes | str) -> Event:
    """One history line as ``(topic, model)``; ValueError says what is wrong."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    topic = record.get("topic")
    model = INPUT_MODELS.get(topic) if isinstance(topic, str) else None
    if model is None:
        raise ValueError(f"unknown topic {topic!r} (expected one of {', '.join(INPUT_MODELS)})")
    value = record.get("value")
    if not isinstance(value, dict):
        raise ValueError("value must be a JSON object")
    try:
        return topic, model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "value"
        raise ValueError(f"{topic}: {where}: {first['msg']}") from None


def iter_history(lines: Iterable[bytes | str], on_invalid: OnInvalid | None = None) -> Iterator[Event | None]:
    """Each non-blank line parsed; None for an invalid line (reported to ``on_invalid``)."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield parse_line(line)
        except ValueError as exc:
            if on_invalid is not None:
                on_invalid(number, str(exc))
            yield None


def read_history(path: str | Path, on_invalid: OnInvalid | None = None) -> History:
    """Every valid event of the file at ``path`` in file order, and how many
    lines were invalid (blank lines are neither). Raises OSError when the file
    cannot be read."""
    events: list[Event] = []
    invalid = 0
    with open(path, "rb") as lines:
        for event in iter_history(lines, on_invalid):
            if event is None:
                invalid += 1
            else:
                events.append(event)
    return History(events, invalid)


def deduplicate(events: Iterable[Event]) -> tuple[list[Event], int]:
    """The events with a repeated ``event_id`` dropped (the first one stays),
    and how many were dropped."""
    seen: set[str] = set()
    kept: list[Event] = []
    dropped = 0
    for topic, event in events:
        if event.event_id in seen:
            dropped += 1
            continue
        seen.add(event.event_id)
        kept.append((topic, event))
    return kept, dropped


class FirstProblems:
    """An ``on_invalid`` callback that keeps the first few problems for people."""

    def __init__(self, keep: int = 3) -> None:
        self.keep = keep
        self.lines: list[str] = []

    def __call__(self, line: int, why: str) -> None:
        if len(self.lines) < self.keep:
            self.lines.append(f"  line {line}: {why}")
