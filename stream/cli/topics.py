"""``python -m stream topics``: create every topic with its partitions and configs."""

from __future__ import annotations

import argparse
import asyncio
import sys

from stream.policy import PolicyError


def register(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from stream.adapters.topics import create_topics
    from stream.settings import load_settings

    try:
        settings = load_settings()
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 2
    for name, status in asyncio.run(create_topics(settings)):
        print(f"{status:8} {name}")
    return 0
