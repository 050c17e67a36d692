"""``python -m stream tail``: pretty-print ``sla-breaches`` live."""

from __future__ import annotations

import argparse
import asyncio
import orjson

STYLES = {"warning": "yellow", "breach": "red", "escalation": "bold red", "retracted": "green"}


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest breach")
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


async def follow(settings, args, console) -> int:
    from stream.adapters.kafka import consumer

    client = consumer(
        settings,
        settings.topic("sla-breaches"),
        group_id=None,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=False,
    )
    await client.start()
    seen = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.timeout if args.timeout else None
    try:
        while deadline is None or loop.time() < deadline:
            batch = await client.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    try:
                        console.print(line(orjson.loads(record.value)), highlight=False)
                    except (orjson.JSONDecodeError, TypeError):
                        console.print(f"[dim]unreadable record at offset {record.offset}[/]")
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
    console.print(f"following {settings.topic('sla-breaches')} on {settings.kafka_bootstrap} (Ctrl-C stops)")
    try:
        return asyncio.run(follow(settings, args, console))
    except KeyboardInterrupt:
        return 0
