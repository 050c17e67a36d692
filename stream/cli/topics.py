"""``python -m stream topics``: create every topic with its partitions and configs."""

from __future__ import annotations

import argparse
import asyncio
import sys


def register(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from aiokafka.errors import KafkaConnectionError

    from stream.adapters.kafka import KafkaSecurityError
    from stream.cli.common import load_settings_or_report

    settings = load_settings_or_report()
    if settings is None:
        return 2
    try:
        created = asyncio.run(_create(settings))
    except KafkaSecurityError as exc:
        print(f"topics: Kafka security: {exc}", file=sys.stderr)
        return 2
    except KafkaConnectionError as exc:
        print(f"topics: cannot reach Kafka at {settings.kafka_bootstrap}: {exc}", file=sys.stderr)
        return 1
    for name, status in created:
        print(f"{status:8} {name}")
    return 0


async def _create(settings) -> list[tuple[str, str]]:
    from aiokafka.errors import KafkaConnectionError

    from stream.adapters.kafka import raise_security_problem
    from stream.adapters.topics import create_topics

    try:
        return await create_topics(settings)
    except KafkaConnectionError:
        # aiokafka says only "Unable to bootstrap": say why when it is security.
        await raise_security_problem(settings)
        raise
