"""``python -m stream worker``: run one Faust worker.

Faust's own worker options (``--loglevel``, ``--web-port`` ...) pass through.
A bad setting or policy stops start-up with a message naming the key.
"""

from __future__ import annotations

import argparse
import os
import sys

from stream.policy import PolicyError


def register(parser: argparse.ArgumentParser) -> None:  # pragma: no cover - worker parses its own
    pass


def run_faust(argv: list[str]) -> int:
    import asyncio

    from stream.adapters.topics import PartitionMismatch
    from stream.bootstrap import create_app
    from stream.service.notifier import webhook_url
    from stream.service.scorer import load_segments
    from stream.settings import load_settings

    try:
        settings = load_settings()
        load_segments(settings.policy)  # a bad segments file stops start-up before anything else
        if settings.policy.notifier.enabled:
            # Only the worker posts: offline commands load the same policy without the URL.
            webhook_url(settings.policy.notifier, os.environ)
    except PolicyError as exc:
        print(f"stream worker: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    if settings.create_topics:
        try:
            settings = asyncio.run(prepare_topics(settings))
        except PartitionMismatch as exc:
            print(f"stream worker: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"stream worker: cannot reach Kafka at {settings.kafka_bootstrap}: {exc}", file=sys.stderr)
            return 1
    app = create_app(settings)
    sys.argv = ["stream", "worker", *argv]
    app.main()
    return 0


async def prepare_topics(settings, attempts: int = 30):
    """Settle the partition count on the existing lead topics and create the
    missing topics (Faust would create them with its own defaults, e.g. no
    compaction for ``reps``). Retries while the broker is not up yet."""
    import asyncio

    from aiokafka.errors import KafkaConnectionError

    from stream.adapters.topics import create_topics, settle_partitions

    for attempt in range(attempts):
        try:
            settled = await settle_partitions(settings)
            if settled.partitions != settings.partitions:
                print(
                    f"stream worker: the lead topics have {settled.partitions} partitions; using that"
                    f" instead of SLA_PARTITIONS={settings.partitions}",
                    file=sys.stderr,
                )
            await create_topics(settled)
            return settled
        except KafkaConnectionError as exc:
            if attempt == attempts - 1:
                raise OSError(str(exc)) from None
            await asyncio.sleep(min(5.0, 0.5 * (attempt + 1)))
    raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> int:
    return run_faust([])
