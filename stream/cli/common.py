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
