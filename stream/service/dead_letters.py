"""Dead letters back to their topics: which records to re-publish, and how.

A ``dead-letter`` value (``schemas.outputs.DeadLetter``) carries the input
record as it was: its topic, its key (as text) and its value (as text, or
base64 when it was not UTF-8). Re-publishing sends that value to that topic
with the original key, and lets the producer's default partitioner (murmur2,
as every producer of the lead topics must use) place it: a record that was
dead-lettered for sitting on the wrong partition lands on the right one.

Pure: no Kafka here; ``python -m stream replay --dead-letter`` reads and
publishes.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from schemas.events import INPUT_MODELS
from schemas.outputs import DeadLetter
from stream.service.ingest import describe

# The topics a dead letter can come from (the workers' inputs).
INPUT_TOPICS = (*INPUT_MODELS, "reps")


@dataclass(frozen=True)
class Republish:
    """One record to send again: ``topic`` is the full Kafka topic name."""

    topic: str
    key: bytes | None
    value: bytes
    error: str
    source: tuple[str, int, int]  # (topic, partition, offset) of the original record


@dataclass(frozen=True)
class Skip:
    reason: str


@dataclass(frozen=True)
class Filters:
    """Which dead letters to take: original topics (contract names, e.g.
    ``call-attempt``; empty = all) and words that the error must contain
    (any of them, ignoring case; empty = all)."""

    topics: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    def match(self, contract_topic: str, error: str) -> bool:
        if self.topics and contract_topic not in self.topics:
            return False
        text = error.lower()
        return not self.errors or any(e.lower() in text for e in self.errors)


def contract_name(topic: str, prefix: str) -> str | None:
    """``topic``'s contract name under ``prefix`` (None: not an input topic there)."""
    if not topic.startswith(prefix):
        return None
    name = topic[len(prefix) :]
    return name if name in INPUT_TOPICS else None


def plan(value: bytes | dict, key: bytes | None, prefix: str, filters: Filters) -> Republish | Skip | None:
    """What to do with one dead letter: re-publish it, skip it (with the
    reason), or None when the filters leave it out.

    ``key`` is the dead-letter record's own Kafka key, which is the original
    key byte for byte; None takes the ``key`` field (UTF-8) instead, as when
    reading dead letters from a file.
    """
    try:
        letter = DeadLetter.model_validate_json(value) if isinstance(value, bytes) else DeadLetter.model_validate(value)
    except ValidationError as exc:
        return Skip(f"not a dead-letter record: {describe(exc)}")
    name = contract_name(letter.topic, prefix)
    if name is None:
        return Skip(f"topic {letter.topic!r} is not an input topic" + (f" under prefix {prefix!r}" if prefix else ""))
    if not filters.match(name, letter.error):
        return None
    if letter.payload is None:
        return Skip("the original record had no value (a tombstone): nothing to re-publish")
    if letter.payload_encoding == "base64":
        try:
            payload = base64.b64decode(letter.payload, validate=True)
        except (binascii.Error, ValueError):
            return Skip("payload is not valid base64")
    elif letter.payload_encoding == "utf-8":
        payload = letter.payload.encode("utf-8")
    else:
        return Skip(f"unknown payload_encoding {letter.payload_encoding!r}")
    if key is None and letter.key is not None:
        key = letter.key.encode("utf-8")
    return Republish(letter.topic, key, payload, letter.error, (letter.topic, letter.partition, letter.offset))


def from_lines(lines: Iterable[tuple[int, bytes]], prefix: str, filters: Filters):
    """(line number, plan) for each non-blank line of a file of dead-letter values (JSON lines)."""
    for number, line in lines:
        if not line.strip():
            continue
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield number, Skip(f"not JSON ({exc})")
            continue
        if not isinstance(doc, dict):
            yield number, Skip("not a JSON object")
            continue
        yield number, plan(doc, None, prefix, filters)
