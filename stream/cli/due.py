"""``python -m stream due``: when is a first response due for a rep?

Prints a few explanatory lines, then, as the last line, the due time in
RFC 3339 in the rep's own UTC offset, e.g. ``2026-11-23T09:05:00-05:00``.
Exit status 2 (message on stderr) for a bad timestamp, policy or calendar.
Imports neither Faust nor Kafka clients, so it answers at once.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from datetime import timedelta

from schemas.types import parse_timestamp

EXIT_USAGE = 2


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start",
        required=True,
        metavar="TIMESTAMP",
        help="when the clock starts, RFC 3339 with an offset (e.g. 2026-11-20T17:30:00-05:00)",
    )
    parser.add_argument(
        "--rep",
        metavar="REP_ID",
        default=None,
        help="the owning rep; unknown or left out = the policy's [calendar] default",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        metavar="N",
        help="SLA seconds to count (default: response.deadline_seconds of the policy)",
    )
    parser.add_argument(
        "--policy",
        metavar="FILE",
        default=None,
        help="policy TOML file (default: $SLA_POLICY_FILE, else the built-in defaults)",
    )


def _fail(message: str) -> int:
    print(f"due: {message}", file=sys.stderr)
    return EXIT_USAGE


def run(args: argparse.Namespace) -> int:
    # Imported here so that `--help` stays instant.
    from stream.policy import PolicyError, load_policy
    from stream.service.calendars import CalendarBook

    try:
        start = parse_timestamp(args.start)
    except ValueError as exc:
        return _fail(f"--start {args.start!r}: {exc}")
    path = args.policy if args.policy is not None else (os.environ.get("SLA_POLICY_FILE") or None)
    try:
        policy = load_policy(path)
        book = CalendarBook(policy)
    except (PolicyError, ValueError) as exc:
        return _fail(f"bad policy: {exc}")
    seconds = policy.response.deadline_seconds if args.seconds is None else args.seconds
    if not math.isfinite(seconds) or seconds < 0:
        return _fail(f"--seconds must be a number >= 0, got {args.seconds!r}")

    calendar = book.calendar_for(args.rep)
    business = policy.response.business_hours
    try:
        due = calendar.add(start, seconds) if business else start + timedelta(seconds=seconds)
        local_start, local_due = calendar.to_local(start), calendar.to_local(due)
    except (ValueError, OverflowError) as exc:
        return _fail(f"cannot compute the due time: {exc}")

    rep = args.rep if args.rep is not None else "(none: unowned lead)"
    print(f"rep:      {rep} (calendar from {book.source_of(args.rep)})")
    print(f"calendar: {calendar.describe()}")
    print(f"start:    {local_start.isoformat()}")
    kind = "business seconds (clock pauses outside working time)" if business else "plain seconds"
    print(f"deadline: {seconds:g} {kind}; policy {path or '(built-in defaults)'}")
    print(local_due.isoformat())
    return 0
