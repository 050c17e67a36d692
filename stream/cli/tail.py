"""``python -m stream tail``: pretty-print ``sla-breaches`` live.

``--from-beginning`` first prints what the topic already holds, oldest
first across all partitions (Kafka orders records only within a partition,
so the partitions are read side by side and merged by record time), then
follows new breaches as they come. ``--limit N`` stops after N breaches: with
``--from-beginning``, the N oldest.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq

import orjson

STYLES = {"warning": "yellow", "breach": "red", "escalation": "bold red", "retracted": "green"}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-beginning", action="store_true", help="start with the oldest breaches")
    parser.add_argument("--limit", type=int, default=None, help="stop after N breaches")
    parser.add_argument("--timeout", type=float, default=None, help="stop after this many seconds")


def line(value: dict) -> str:
    stage = value.get("stage", "?")
    style = STYLES.get(stage, "white")
    who = value.get("lead_id") or "-"
    rep = value.get("rep_id") or "unassigned"
    extra = f" retracts {value['retracts']}" if value.get("retracts") else ""
    return (
        f"[dim]{value.get('detected_at', '')}[/] [{style}]{stage:>10}[/] {value.get('breach_type', '?'):<19} "
        f"lead [bold]{who}[/] rep {rep} due {value.get('deadline', '')} "
        f"(clock {value.get('clock_started_at', '')}){extra}"
    )


def show(console, record) -> None:
    try:
        text = line(orjson.loads(record.value))
    except (orjson.JSONDecodeError, TypeError, AttributeError):
        text = f"[dim]unreadable record at partition {record.partition} offset {record.offset}[/]"
    # One breach, one line, however narrow the terminal or however piped.
    console.print(text, highlight=False, soft_wrap=True)


def oldest_first(per_partition: dict, limit: int | None) -> list:
    """Records of several partitions, each in offset order, merged by record
    time (then partition and offset, so that ties come out the same every time)."""
    merged = heapq.merge(*per_partition.values(), key=lambda r: (r.timestamp, r.partition, r.offset))
    return list(merged) if limit is None else [r for _, r in zip(range(limit), merged)]


async def _assignment(client, loop, deadline) -> set | None:
    """Every partition of the subscribed topic, once the topic exists (None: timed out).
    Without a group, the consumer takes all partitions itself."""
    while deadline is None or loop.time() < deadline:
        tps = client.assignment()
        if tps:
            return set(tps)
        await asyncio.sleep(0.2)
    return None


async def _backlog(client, tps, limit: int | None) -> tuple[dict, dict]:
    """What each partition holds now, from its start: at most ``limit``
    records of each (the ``limit`` oldest overall are among them); and the
    end offsets it was read to."""
    ends = await client.end_offsets(tps)
    read = {tp: [] for tp in tps}
    pending = {tp for tp in tps if ends[tp] > await client.position(tp)}
    while pending:
        batch = await client.getmany(*pending, timeout_ms=500)
        for tp, records in batch.items():
            for record in records:
                if record.offset < ends[tp] and (limit is None or len(read[tp]) < limit):
                    read[tp].append(record)
        for tp in list(pending):
            if (limit is not None and len(read[tp]) >= limit) or await client.position(tp) >= ends[tp]:
                pending.discard(tp)
                client.pause(tp)
    return read, ends


async def follow(settings, args, console) -> int:
    from stream.adapters.kafka import consumer

    topic = settings.topic("sla-breaches")
    client = consumer(
        settings,
        topic,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
    )
    await client.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout if args.timeout else None
    seen = 0
    try:
        tps = await _assignment(client, loop, deadline)
        if tps is None:
            console.print(f"[dim]no topic {topic} yet[/]")
            return 0
        if args.from_beginning:
            await client.seek_to_beginning(*tps)
            read, ends = await _backlog(client, tps, args.limit)
            for record in oldest_first(read, args.limit):
                show(console, record)
                seen += 1
            if args.limit and seen >= args.limit:
                return 0
            # Every partition was read to its end: carry on from there.
            for tp in tps:
                client.seek(tp, ends[tp])
            client.resume(*tps)
        else:
            await client.seek_to_end(*tps)
        while deadline is None or loop.time() < deadline:
            batch = await client.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    show(console, record)
                    seen += 1
                    if args.limit and seen >= args.limit:
                        return 0
    finally:
        await client.stop()
    return 0


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from stream.cli.common import load_settings_or_report

    settings = load_settings_or_report()
    if settings is None:
        return 2
    console = Console()
    console.print(
        f"following {settings.topic('sla-breaches')} on {settings.kafka_bootstrap} (Ctrl-C stops)", soft_wrap=True
    )
    from stream.adapters.kafka import KafkaSecurityError

    try:
        return asyncio.run(follow(settings, args, console))
    except KeyboardInterrupt:
        return 0
    except KafkaSecurityError as exc:
        console.print(f"[red]Kafka security: {exc}[/]", soft_wrap=True)
        return 2
