"""``python -m stream simulate``: realistic traffic on the input topics.

Publishes the rep roster to ``reps`` (key ``rep_id``) and then leads, content
downloads, call attempts, reassignments and opportunities as they happen, in
real time or ``--speed`` times faster; or, with ``--history-out FILE``, writes
``--days`` of history as JSON lines for ``replay``, ``analyze`` and
``backtest`` without touching Kafka. The traffic itself comes from
``stream.service.simulation``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas.types import format_timestamp, parse_timestamp
from stream.service.simulation import REPS_TOPIC, ROSTERS, Simulation, to_history_lines

# Unacknowledged sends allowed before waiting for the broker.
_MAX_IN_FLIGHT = 2000


def register(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--seed", type=int, default=None, help="random seed (default: a fresh one, printed)")
    add("--rate", type=_positive, default=2.0, metavar="N", help="leads per minute (default 2)")
    add("--speed", type=_positive, default=1.0, metavar="N", help="N times faster than real time (default 1)")
    add("--reps", type=int, default=6, metavar="N", help="reps in the roster (default 6)")
    add(
        "--roster",
        choices=ROSTERS,
        default="office",
        help="office: weekday office hours in North America and Europe (default); follow-the-sun: "
        "12-hour shifts every day round the globe, so that calls happen at any hour",
    )
    add("--duration", type=_positive, default=None, metavar="SECONDS", help="stop after this long")
    parser.add_argument(
        "--count", type=int, default=None, metavar="N", help="create N leads, publish their events, then stop"
    )
    parser.add_argument(
        "--start",
        type=_timestamp,
        default=None,
        metavar="TIMESTAMP",
        help="RFC 3339 start of the simulated timeline (default: now, or --days ago with --history-out)",
    )
    parser.add_argument(
        "--skip-before",
        type=_timestamp,
        default=None,
        metavar="TIMESTAMP",
        help="publish only the events due at or after this instant (resume a timeline already partly published)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="publish as fast as possible instead of at each event's time (timestamps are unchanged)",
    )
    parser.add_argument(
        "--history-out",
        type=Path,
        default=None,
        metavar="FILE",
        help="write JSON lines {topic, value} to FILE ('-' = stdout) instead of publishing",
    )
    parser.add_argument(
        "--days",
        type=_positive,
        default=7.0,
        metavar="N",
        help="days of history for --history-out (default 7; --speed and --no-wait do not apply)",
    )


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(stderr=True)
    if args.reps < 1 or (args.count is not None and args.count < 1):
        console.print("[red]--reps and --count must be at least 1[/]")
        return 2
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    if args.history_out is not None:
        return _write_history(args, seed, console)

    from stream.policy import PolicyError
    from stream.settings import load_settings

    try:
        settings = load_settings()
    except PolicyError as exc:
        console.print(f"[red]{exc}[/]")
        return 2
    # aiokafka logs "topic not found" as an error while the broker auto-creates a topic.
    logging.getLogger("aiokafka.cluster").setLevel(logging.CRITICAL)
    start = args.start or datetime.now(UTC)
    sim = Simulation(
        seed, start, reps=args.reps, leads_per_minute=args.rate, speed=args.speed, roster=args.roster
    )
    until = start + timedelta(seconds=args.duration) if args.duration else None
    console.print(
        f"simulating from {format_timestamp(sim.start)} with seed {seed}: {args.rate:g} leads/min, "
        f"speed {args.speed:g}x, {len(sim.reps)} reps ({args.roster}) -> {settings.kafka_bootstrap} "
        f"(topic prefix {settings.topic_prefix!r})"
    )
    if start < datetime.now(UTC) - timedelta(minutes=1) and not args.no_wait:
        console.print("events before now are published at once (catching up), then in real time")
    counts: Counter[str] = Counter()
    try:
        asyncio.run(_publish(settings, sim, args, until, counts, console))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("stopped")
    except Exception as exc:  # a broker that cannot be reached, mostly
        console.print(f"[red]simulate failed: {type(exc).__name__}: {exc}[/]")
        _summary(counts)
        return 1
    _summary(counts)
    return 0


async def _publish(settings, sim: Simulation, args, until, counts: Counter[str], console) -> None:
    import orjson

    from stream.adapters.kafka import producer

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        # `docker stop` sends SIGTERM: stop like Ctrl-C, flushing what was sent.
        loop.add_signal_handler(signal.SIGTERM, task.cancel)

    client = producer(settings)
    await client.start()
    in_flight: list[asyncio.Future] = []
    try:
        for record in sim.roster():
            in_flight.append(
                await client.send(
                    settings.topic(REPS_TOPIC), key=record["rep_id"].encode(), value=orjson.dumps(record)
                )
            )
            counts[REPS_TOPIC] += 1
        with console.status("starting...") as status:
            last_update = 0.0
            for item in sim.events(leads=args.count, until=until):
                if args.skip_before is not None and item.publish_at < args.skip_before:
                    continue  # published by an earlier run of the same timeline
                if not args.no_wait:
                    wait_seconds = (item.publish_at - datetime.now(UTC)).total_seconds()
                    if wait_seconds > 0:
                        await _settle(in_flight)
                        status.update(_status_text(counts, item.publish_at, waiting=True))
                        await asyncio.sleep(wait_seconds)
                in_flight.append(
                    await client.send(
                        settings.topic(item.topic), key=item.key.encode(), value=orjson.dumps(item.value)
                    )
                )
                counts[item.topic] += 1
                if len(in_flight) >= _MAX_IN_FLIGHT:
                    await _settle(in_flight)
                if time.monotonic() - last_update > 0.25:
                    last_update = time.monotonic()
                    status.update(_status_text(counts, item.publish_at))
        await _settle(in_flight)
    finally:
        with contextlib.suppress(Exception):
            await client.stop()  # flushes what is still buffered


async def _settle(in_flight: list[asyncio.Future]) -> None:
    if in_flight:
        await asyncio.gather(*in_flight)
        in_flight.clear()


def _status_text(counts: Counter[str], at: datetime, waiting: bool = False) -> str:
    events = sum(n for topic, n in counts.items() if topic != REPS_TOPIC)
    leads = counts["lead-created"]
    calls = counts["call-attempt"]
    state = "next event at" if waiting else "at"
    return (
        f"{events} events published ({leads} leads, {calls} call attempts); "
        f"{state} {format_timestamp(_second(at))}"
    )


def _summary(counts: Counter[str]) -> None:
    events = sum(n for topic, n in counts.items() if topic != REPS_TOPIC)
    detail = ", ".join(f"{topic} {n}" for topic, n in sorted(counts.items()))
    print(f"published {events} events ({detail or 'nothing'})")


def _write_history(args, seed: int, console) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    days = timedelta(days=args.days)
    start = args.start or _second(datetime.now(UTC) - days)
    until = start + days
    sim = Simulation(seed, start, reps=args.reps, leads_per_minute=args.rate, roster=args.roster)
    target = str(args.history_out)
    console.print(
        f"writing {args.days:g} days of history from {format_timestamp(sim.start)} with seed {seed} "
        f"to {'stdout' if target == '-' else target}"
    )
    total_hours = round(days.total_seconds() / 3600)
    counts: Counter[str] = Counter()
    out = sys.stdout if target == "-" else open(args.history_out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("simulated hours"),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("history", total=total_hours)
            for line in to_history_lines((), roster=sim.roster()):
                out.write(line)
                counts[REPS_TOPIC] += 1
            for item in sim.events(leads=args.count, until=until):
                out.write(next(to_history_lines([item])))
                counts[item.topic] += 1
                if counts[item.topic] % 500 == 0:
                    hours = (item.publish_at - sim.start).total_seconds() / 3600
                    progress.update(task, completed=min(int(hours), total_hours))
            progress.update(task, completed=total_hours)
    finally:
        if out is not sys.stdout:
            out.close()
    events = sum(n for topic, n in counts.items() if topic != REPS_TOPIC)
    console.print(f"wrote {events} events and {counts[REPS_TOPIC]} reps ({counts['lead-created']} leads)")
    return 0


def _second(at: datetime) -> datetime:
    return at.replace(microsecond=0)


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _timestamp(text: str) -> datetime:
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
