"""``python -m stream replay FILE``: publish recorded events.

FILE holds JSON lines ``{"topic": ..., "value": {...}}`` (what
``simulate --history-out`` writes; ``-`` reads standard input). Each value is
published as-is to its topic (prefixed by ``SLA_TOPIC_PREFIX`` or
``--topic-prefix``), keyed by the value's ``lead_id`` on lead topics and its
``rep_id`` on ``reps``. Values are deliberately not validated: replaying a
malformed value is how the worker's dead-lettering is exercised. Lines that are
not JSON objects with a known topic and a value are reported and skipped.

``--dead-letter`` re-publishes dead-lettered records to the topics they came
from, once their producer is fixed: read from the ``dead-letter`` topic (to
its current end), or from FILE when given (JSON lines, each a dead-letter
value). ``--topic`` and ``--error`` choose which, ``--dry-run`` lists them
and publishes nothing. Each goes out with its original key and value through
the default murmur2 partitioner (``stream.service.dead_letters``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from schemas.events import INPUT_MODELS

REPS_TOPIC = "reps"
# contract topic -> the value field that is its Kafka key
KEY_FIELDS: dict[str, str] = {**{topic: "lead_id" for topic in INPUT_MODELS}, REPS_TOPIC: "rep_id"}

_MAX_IN_FLIGHT = 2000
_MAX_REPORTED = 20


class Record(NamedTuple):
    line_number: int
    topic: str
    key: bytes | None
    value: bytes


class Skipped(NamedTuple):
    line_number: int
    reason: str


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        type=Path,
        metavar="FILE",
        nargs="?",
        help="JSON lines {topic, value}; '-' reads stdin (with --dead-letter: dead-letter values; "
        "none = the dead-letter topic)",
    )
    parser.add_argument(
        "--rate", type=_positive, default=None, metavar="N", help="events per second (default: unlimited)"
    )
    parser.add_argument(
        "--topic-prefix", default=None, metavar="PREFIX", help="topic name prefix (default: SLA_TOPIC_PREFIX)"
    )
    letters = parser.add_argument_group("dead letters")
    letters.add_argument(
        "--dead-letter", action="store_true", help="re-publish dead-lettered records to their original topics"
    )
    letters.add_argument(
        "--topic",
        action="append",
        default=[],
        metavar="TOPIC",
        dest="topics",
        help="only dead letters from this input topic, e.g. call-attempt (repeatable)",
    )
    letters.add_argument(
        "--error",
        action="append",
        default=[],
        metavar="TEXT",
        dest="errors",
        help="only dead letters whose error contains TEXT, ignoring case (repeatable: any of them)",
    )
    letters.add_argument("--dry-run", action="store_true", help="list what would be re-published; publish nothing")


def parse_line(line_number: int, line: bytes | str) -> Record | Skipped | None:
    """One history line as a record to publish, a reason to skip it, or None when blank."""
    import orjson

    if not line.strip():
        return None
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Skipped(line_number, f"not JSON ({exc})")
    if not isinstance(doc, dict):
        return Skipped(line_number, "not a JSON object")
    topic = doc.get("topic")
    if topic not in KEY_FIELDS:
        known = ", ".join(KEY_FIELDS)
        return Skipped(line_number, f"unknown topic {topic!r} (known: {known})")
    if "value" not in doc:
        return Skipped(line_number, "no value")
    value: Any = doc["value"]
    key = value.get(KEY_FIELDS[topic]) if isinstance(value, dict) else None
    if key is not None and not isinstance(key, str):
        key = orjson.dumps(key).decode()  # a malformed value still gets a stable key
    return Record(line_number, topic, None if key is None else key.encode(), orjson.dumps(value))


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    stream = sys.stdin.buffer if str(path) == "-" else open(path, "rb")  # noqa: SIM115
    try:
        for number, line in enumerate(stream, start=1):
            yield number, line
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from stream.policy import PolicyError
    from stream.settings import load_settings

    console = Console(stderr=True)
    if args.dead_letter:
        return run_dead_letters(args, console)
    if args.topics or args.errors or args.dry_run:
        console.print("[red]--topic, --error and --dry-run go with --dead-letter[/]")
        return 2
    if args.file is None:
        console.print("[red]FILE is required (or --dead-letter)[/]")
        return 2
    if str(args.file) != "-" and not args.file.is_file():
        console.print(f"[red]no such file: {args.file}[/]")
        return 2
    overrides = {} if args.topic_prefix is None else {"topic_prefix": args.topic_prefix}
    try:
        settings = load_settings(**overrides)
    except PolicyError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    # aiokafka logs "topic not found" as an error while the broker auto-creates a topic.
    logging.getLogger("aiokafka.cluster").setLevel(logging.CRITICAL)
    published: Counter[str] = Counter()
    skipped: list[Skipped] = []
    code = 0
    try:
        asyncio.run(_replay(settings, args, published, skipped, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("stopped")
        code = 130
    except Exception as exc:  # a broker that cannot be reached, mostly
        console.print(f"[red]replay failed: {type(exc).__name__}: {exc}[/]")
        code = 1
    for skip in skipped[:_MAX_REPORTED]:
        console.print(f"[yellow]line {skip.line_number}: skipped: {skip.reason}[/]")
    if len(skipped) > _MAX_REPORTED:
        console.print(f"[yellow]... and {len(skipped) - _MAX_REPORTED} more skipped lines[/]")
    detail = ", ".join(f"{topic} {n}" for topic, n in sorted(published.items()))
    print(f"published {sum(published.values())} events ({detail or 'nothing'}); skipped {len(skipped)} lines")
    return code


async def _replay(settings, args, published: Counter[str], skipped: list[Skipped], console) -> None:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    from stream.adapters.kafka import producer

    size = None if str(args.file) == "-" else args.file.stat().st_size
    client = producer(settings)
    await client.start()
    in_flight: list[asyncio.Future] = []
    try:
        with Progress(
            TextColumn("replay"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[events]} events"),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("replay", total=size, events=0)
            began = time.monotonic()
            sent = 0
            for number, line in read_lines(args.file):
                progress.advance(task, len(line))
                parsed = parse_line(number, line)
                if parsed is None:
                    continue
                if isinstance(parsed, Skipped):
                    skipped.append(parsed)
                    continue
                if args.rate:
                    ahead = began + sent / args.rate - time.monotonic()
                    if ahead > 0:
                        await _settle(in_flight)
                        await asyncio.sleep(ahead)
                in_flight.append(
                    await client.send(settings.topic(parsed.topic), key=parsed.key, value=parsed.value)
                )
                sent += 1
                published[parsed.topic] += 1
                if len(in_flight) >= _MAX_IN_FLIGHT:
                    await _settle(in_flight)
                if sent % 200 == 0:
                    progress.update(task, events=sent)
            await _settle(in_flight)
            progress.update(task, events=sent)
    finally:
        await client.stop()


async def _settle(in_flight: list[asyncio.Future]) -> None:
    if in_flight:
        await asyncio.gather(*in_flight)
        in_flight.clear()


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


# ----------------------------------------------------------------- --dead-letter


def run_dead_letters(args: argparse.Namespace, console) -> int:
    from stream.policy import PolicyError
    from stream.service.dead_letters import INPUT_TOPICS, Filters
    from stream.settings import load_settings

    unknown = sorted(set(args.topics) - set(INPUT_TOPICS))
    if unknown:
        console.print(f"[red]--topic {', '.join(unknown)}: not an input topic (known: {', '.join(INPUT_TOPICS)})[/]")
        return 2
    if args.file is not None and str(args.file) != "-" and not args.file.is_file():
        console.print(f"[red]no such file: {args.file}[/]")
        return 2
    overrides = {} if args.topic_prefix is None else {"topic_prefix": args.topic_prefix}
    try:
        settings = load_settings(**overrides)
    except PolicyError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    logging.getLogger("aiokafka.cluster").setLevel(logging.CRITICAL)
    filters = Filters(tuple(args.topics), tuple(args.errors))
    outcome = _LetterOutcome()
    code = 0
    try:
        asyncio.run(_dead_letters(settings, args, filters, outcome, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("stopped")
        code = 130
    except Exception as exc:  # a broker that cannot be reached, mostly
        console.print(f"[red]replay --dead-letter failed: {type(exc).__name__}: {exc}[/]")
        code = 1
    for where, reason in outcome.skipped[:_MAX_REPORTED]:
        console.print(f"[yellow]{where}: skipped: {reason}[/]")
    if len(outcome.skipped) > _MAX_REPORTED:
        console.print(f"[yellow]... and {len(outcome.skipped) - _MAX_REPORTED} more skipped[/]")
    verb = "would re-publish" if args.dry_run else "re-published"
    detail = ", ".join(f"{topic} {n}" for topic, n in sorted(outcome.published.items()))
    print(
        f"{verb} {sum(outcome.published.values())} dead letters ({detail or 'nothing'}); "
        f"left out by the filters {outcome.filtered}; repeated {outcome.repeated}; skipped {len(outcome.skipped)}"
    )
    return code


class _LetterOutcome:
    def __init__(self) -> None:
        self.published: Counter[str] = Counter()
        self.skipped: list[tuple[str, str]] = []
        self.filtered = 0
        self.repeated = 0  # the same input record dead-lettered more than once


async def _dead_letters(settings, args, filters, outcome: _LetterOutcome, console) -> None:
    from stream.adapters.kafka import producer
    from stream.service.dead_letters import Republish, Skip, from_lines, plan

    prefix = settings.topic_prefix

    async def letters():
        if args.file is not None:
            for number, item in from_lines(read_lines(args.file), prefix, filters):
                yield f"line {number}", item
        else:
            from stream.cli.common import read_to_end

            topic = settings.topic("dead-letter")
            async for record in read_to_end(settings, topic):
                yield f"{topic}[{record.partition}]@{record.offset}", plan(record.value, record.key, prefix, filters)

    client = None if args.dry_run else producer(settings)
    if client is not None:
        await client.start()
    in_flight: list[asyncio.Future] = []
    seen: set[tuple[str, int, int]] = set()
    try:
        async for where, item in letters():
            if item is None:
                outcome.filtered += 1
            elif isinstance(item, Skip):
                outcome.skipped.append((where, item.reason))
            elif isinstance(item, Republish):
                if item.source in seen:
                    outcome.repeated += 1
                    continue
                seen.add(item.source)
                name = item.topic.removeprefix(prefix)
                outcome.published[name] += 1
                if client is None:
                    if sum(outcome.published.values()) <= _MAX_REPORTED:
                        key = item.key.decode("utf-8", "replace") if item.key is not None else None
                        console.print(
                            f"would re-publish to {item.topic} key {key!r} "
                            f"(from {item.source[0]}[{item.source[1]}]@{item.source[2]}): {item.error}",
                            soft_wrap=True,
                            highlight=False,
                        )
                    continue
                # No partition given: the default murmur2 partitioner places it by key.
                in_flight.append(await client.send(item.topic, key=item.key, value=item.value))
                if len(in_flight) >= _MAX_IN_FLIGHT:
                    await _settle(in_flight)
        await _settle(in_flight)
    finally:
        if client is not None:
            await client.stop()
