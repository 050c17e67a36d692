"""``python -m stream topics``: create every topic with its partitions and configs."""

from __future__ import annotations

import argparse
import asyncio


def register(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from stream.adapters.topics import create_topics
    from stream.cli.common import load_settings_or_report

    settings = load_settings_or_report()
    if settings is None:
        return 2
    for name, status in asyncio.run(create_topics(settings)):
        print(f"{status:8} {name}")
    return 0
