"""``python -m stream worker``: run one Faust worker.

Faust's own worker options (``--loglevel``, ``--web-port`` ...) pass through.
A bad setting or policy stops start-up with a message naming the key.
"""

from __future__ import annotations

import argparse
import sys

from stream.policy import PolicyError


def register(parser: argparse.ArgumentParser) -> None:  # pragma: no cover - worker parses its own
    pass


def run_faust(argv: list[str]) -> int:
    from stream.settings import load_settings

    from stream.bootstrap import create_app

    try:
        settings = load_settings()
        app = create_app(settings)
    except PolicyError as exc:
        print(f"stream worker: invalid configuration:\n{exc}", file=sys.stderr)
        return 2
    if settings.create_topics:
        # Faust would create missing topics with its own defaults (no
        # compaction for `reps`); create them as `python -m stream topics` does.
        import asyncio

        from stream.adapters.topics import create_topics

        asyncio.run(create_topics(settings))
    sys.argv = ["stream", "worker", *argv]
    app.main()
    return 0


def run(args: argparse.Namespace) -> int:
    return run_faust([])
