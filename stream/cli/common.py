"""Arguments and start-up steps shared by several commands."""

from __future__ import annotations

import argparse
import os
import sys


def add_policy_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        metavar="FILE",
        default=os.environ.get("SLA_POLICY_FILE") or None,
        help="policy TOML (default: $SLA_POLICY_FILE, else the built-in defaults)",
    )


def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    """FILE (a recorded history) and --policy."""
    parser.add_argument("file", metavar="FILE", help='history: JSON lines {"topic": ..., "value": {...}}')
    add_policy_argument(parser)


def load_settings_or_report():
    """Settings from the environment, or None after printing what is wrong
    (the message names the variable or policy key)."""
    from stream.policy import PolicyError
    from stream.settings import load_settings

    try:
        return load_settings()
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return None


async def read_to_end(settings, topic: str):
    """Every record ``topic`` holds now, partition by partition in offset
    order, with a plain consumer (no group, nothing committed); nothing when
    the topic does not exist. Records written meanwhile are not waited for."""
    import asyncio

    from stream.adapters.kafka import consumer

    client = consumer(settings, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest")
    await client.start()
    try:
        if topic not in await client.topics():
            return
        client.subscribe([topic])  # without a group: every partition
        while not client.assignment():
            await asyncio.sleep(0.1)
        tps = list(client.assignment())
        await client.seek_to_beginning(*tps)
        ends = await client.end_offsets(tps)
        while [tp for tp in tps if await client.position(tp) < ends[tp]]:
            for tp, records in (await client.getmany(timeout_ms=500)).items():
                for record in records:
                    if record.offset < ends[tp]:
                        yield record
    finally:
        await client.stop()
