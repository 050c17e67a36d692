"""``python -m stream worker``: run one Faust worker.

Faust's own worker options (``--loglevel``, ``--web-port`` ...) pass through.
A bad setting or policy stops start-up with a message naming the key, and so
does a broker that refuses the Kafka security settings (docs/security.md).
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

    from stream.adapters.kafka import KafkaSecurityError, raise_security_problem
    from stream.adapters.logs import setup_early
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
    setup_early(settings.log_format)
    try:
        # A refused login or an untrusted certificate stops start-up here, in
        # words; Faust would only retry "Unable to bootstrap" for ever.
        asyncio.run(raise_security_problem(settings))
        if settings.create_topics:
            settings = asyncio.run(prepare_topics(settings))
    except KafkaSecurityError as exc:
        print(f"stream worker: Kafka security: {exc}", file=sys.stderr)
        return 2
    except PartitionMismatch as exc:
        print(f"stream worker: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"stream worker: cannot reach Kafka at {settings.kafka_bootstrap}: {exc}", file=sys.stderr)
        return 1
    app = create_app(settings)
    # JSON logs: every line on the output is a JSON object, so no banner (-q).
    quiet = ["-q"] if settings.log_format == "json" else []
    sys.argv = ["stream", *quiet, "worker", *argv]
    app.main()
    return 0


async def prepare_topics(settings, attempts: int = 30):
    """Settle the partition count on the existing lead topics and create the
    missing topics (Faust would create them with its own defaults, e.g. no
    compaction for ``reps``). Retries while the broker is not up yet."""
    import asyncio

    from aiokafka.errors import KafkaConnectionError

    from stream.adapters.kafka import raise_security_problem
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
            # The broker may have come up meanwhile and refused our login.
            await raise_security_problem(settings)
            if attempt == attempts - 1:
                raise OSError(str(exc)) from None
            await asyncio.sleep(min(5.0, 0.5 * (attempt + 1)))
    raise AssertionError("unreachable")


def run(args: argparse.Namespace) -> int:
    return run_faust([])
