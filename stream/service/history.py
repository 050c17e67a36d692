"""Recorded history: JSON lines ``{"topic": ..., "value": {...}}`` (SPEC §8).

Topic names are the contract names without any ``SLA_TOPIC_PREFIX``; each
value is validated with the wire models of ``schemas.events`` (lead topics)
or ``schemas.reps`` (the ``reps`` roster, as ``simulate --history-out``
writes it first). Used by ``analyze``, ``backtest``, ``report`` and ``replay``.

Files can be far larger than memory, so the offline commands read them as a
stream (:func:`scan_history`) and, where they need another order, spill to
temporary files: :class:`EventSorter` is an external merge sort into event
time, :class:`Spill` a set of append-only temporary files.
"""

from __future__ import annotations

import heapq
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import orjson
from pydantic import ValidationError

from schemas.events import INPUT_MODELS, InputEvent
from schemas.reps import RepRecord

Event = tuple[str, InputEvent]
# (1-based line number, what was wrong) for each skipped line
OnInvalid = Callable[[int, str], None]
REPS_TOPIC = "reps"


class History(NamedTuple):
    events: list[Event]  # valid events in file order, duplicates included
    invalid: int  # lines skipped because they were not a valid event


def _problem(prefix: str, exc: ValidationError) -> ValueError:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "value"
    return ValueError(f"{prefix}: {where}: {first['msg']}")


def _decode(line: bytes | str) -> dict:
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    return record


def _event(record: dict) -> Event:
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
        raise _problem(topic, exc) from None


def parse_line(line: bytes | str) -> Event:
    """One history line of a lead topic as ``(topic, model)``; ValueError says what is wrong."""
    return _event(_decode(line))


def parse_record(line: bytes | str) -> Event | RepRecord:
    """One history line: a lead event ``(topic, model)`` or a ``reps`` record
    (``RepRecord``); ValueError says what is wrong."""
    record = _decode(line)
    if record.get("topic") != REPS_TOPIC:
        return _event(record)
    value = record.get("value")
    if not isinstance(value, dict):
        raise ValueError("reps: value must be a JSON object")
    try:
        return RepRecord.model_validate(value)
    except ValidationError as exc:
        raise _problem("reps", exc) from None


def iter_history(lines: Iterable[bytes | str], on_invalid: OnInvalid | None = None) -> Iterator[Event | None]:
    """Each non-blank line parsed as a lead event; None for any other line
    (reported to ``on_invalid``)."""
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
    """Every valid lead event of the file at ``path`` in file order, and how
    many lines were something else (blank lines are neither). Holds the whole
    file: for tests and small files; the commands use :func:`scan_history`,
    which also accepts ``reps`` records. Raises OSError when the file cannot
    be read."""
    events: list[Event] = []
    invalid = 0
    with open(path, "rb") as lines:
        for event in iter_history(lines, on_invalid):
            if event is None:
                invalid += 1
            else:
                events.append(event)
    return History(events, invalid)


class Scanned(NamedTuple):
    """One valid line of a history file, as :func:`scan_history` yields it."""

    number: int  # 1-based line number
    raw: bytes  # the line without its line break
    item: Event | RepRecord


class ScanCounts:
    """What :func:`scan_history` has seen so far."""

    def __init__(self) -> None:
        self.invalid = 0
        self.events = 0
        self.reps = 0


def scan_history(
    path: str | Path, counts: ScanCounts | None = None, on_invalid: OnInvalid | None = None
) -> Iterator[Scanned]:
    """The valid lines of the file at ``path`` in file order, one at a time:
    lead events and ``reps`` records. Invalid lines are counted in ``counts``
    and reported to ``on_invalid``; blank lines are ignored. Raises OSError
    when the file cannot be read."""
    counts = counts if counts is not None else ScanCounts()
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = parse_record(line)
            except ValueError as exc:
                counts.invalid += 1
                if on_invalid is not None:
                    on_invalid(number, str(exc))
                continue
            if isinstance(item, RepRecord):
                counts.reps += 1
            else:
                counts.events += 1
            yield Scanned(number, line.rstrip(b"\r\n"), item)


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


# -- spilling to disk ------------------------------------------------------------


class Spill:
    """Append-only temporary files in one private folder, removed by :meth:`close`.

    Each file holds lines of bytes (no line break inside a line). Writes are
    buffered; :meth:`lines` flushes before reading back."""

    def __init__(self, folder: str | Path | None = None, prefix: str = "sla-history-") -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=prefix, dir=folder))
        self._files: dict[str, object] = {}

    def path(self, name: str) -> Path:
        return self.folder / name

    def append(self, name: str, line: bytes) -> None:
        out = self._files.get(name)
        if out is None:
            out = self._files[name] = open(self.folder / name, "ab", buffering=1 << 20)  # noqa: SIM115
        out.write(line)
        out.write(b"\n")

    def flush(self, name: str) -> None:
        """Write out what is buffered for ``name`` and close it (appending reopens it)."""
        out = self._files.pop(name, None)
        if out is not None:
            out.close()

    def flush_all(self) -> None:
        for name in list(self._files):
            self.flush(name)

    def lines(self, name: str) -> Iterator[bytes]:
        """The lines of ``name`` in the order they were appended (none if never written)."""
        self.flush(name)
        path = self.folder / name
        if not path.exists():
            return
        with open(path, "rb", buffering=1 << 20) as lines:
            for line in lines:
                yield line[:-1]

    def remove(self, name: str) -> None:
        self.flush(name)
        try:
            os.unlink(self.folder / name)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        self.flush_all()
        for path in self.folder.glob("*"):
            path.unlink()
        self.folder.rmdir()

    def __enter__(self) -> Spill:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# Lines held in memory per sorted run: about 20 MB of a typical history.
RUN_LINES = 50_000


class EventSorter:
    """An external merge sort of history lines into event time.

    :meth:`add` takes ``(instant, sequence, raw line)``; once ``run_lines``
    lines are held they are sorted and written out as a run, so memory stays
    bounded whatever the file's size and order. :meth:`merged` yields every
    line by (instant, sequence) — a stable sort by instant when sequences
    follow the file order — merging the runs. Whatever is not in event-time
    order, however far off, ends up in its place: there is no reorder window
    and nothing is dropped.
    """

    def __init__(self, spill: Spill, name: str, run_lines: int = RUN_LINES) -> None:
        self.spill = spill
        self.name = name
        self.run_lines = run_lines
        self._held: list[tuple[float, int, bytes]] = []
        self._runs: list[str] = []
        self.lines = 0

    def add(self, at: float, sequence: int, raw: bytes) -> None:
        self._held.append((at, sequence, raw))
        self.lines += 1
        if len(self._held) >= self.run_lines:
            self._write_run()

    def _write_run(self) -> None:
        self._held.sort()  # (instant, sequence) is unique: the raw line is never compared
        name = f"{self.name}.run{len(self._runs)}"
        for at, sequence, raw in self._held:
            # repr of a float reads back to the same float
            self.spill.append(name, b"%r %d " % (at, sequence) + raw)
        self._held = []
        self._runs.append(name)

    def _run(self, name: str) -> Iterator[tuple[float, int, bytes]]:
        for line in self.spill.lines(name):
            at, sequence, raw = line.split(b" ", 2)
            yield float(at), int(sequence), raw
        self.spill.remove(name)

    def write_held(self) -> None:
        """Write the lines held in memory out as a run now."""
        if self._held:
            self._write_run()

    def discard(self) -> None:
        """Forget the lines held in memory (the runs stay on disk until the spill closes)."""
        self._held = []

    def merged(self) -> Iterator[tuple[float, int, bytes]]:
        """Every line added, by (instant, sequence); call once."""
        if not self._runs:
            held, self._held = sorted(self._held), []
            yield from held
            return
        if self._held:
            self._write_run()
        yield from heapq.merge(*(self._run(name) for name in self._runs))
