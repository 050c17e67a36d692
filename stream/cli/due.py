"""``python -m stream due``: when is a first response due for a rep?

Prints a few explanatory lines, then, as the last line, the due time in
RFC 3339 in the rep's own UTC offset, e.g. ``2026-11-23T09:05:00-05:00``.
Exit status 2 (message on stderr) for a bad timestamp, policy or calendar.

The rep's calendar comes from the policy file, and also from the ``reps``
topic when ``--bootstrap`` names a broker (the topic's record wins field by
field, as on the workers). The output says which source applied, and warns
on stderr when the rep is in neither (the ``[calendar]`` default applies).
Without ``--bootstrap`` it imports neither Faust nor Kafka clients, so it
answers at once.
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
        "--bootstrap",
        metavar="HOST:PORT",
        default=None,
        help="read the rep roster from the reps topic on this Kafka broker too "
        "(topic prefix: --topic-prefix or $SLA_TOPIC_PREFIX; security settings from the environment)",
    )
    parser.add_argument("--topic-prefix", metavar="PREFIX", default=None, help="topic name prefix (with --bootstrap)")
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

    roster_note = "reps topic not read: --bootstrap HOST:PORT reads it"
    if args.bootstrap is not None:
        try:
            count, topic = read_roster(book, args.bootstrap, args.topic_prefix)
        except (RosterError, ValueError) as exc:
            return _fail(str(exc))
        roster_note = f"{count} reps read from {topic} on {args.bootstrap}"
    known = args.rep is None or args.rep in book.rep_ids()
    if not known:
        print(
            f"due: warning: rep {args.rep!r} is in neither the policy's [[reps]] nor the reps topic, "
            f"so the [calendar] default applies ({roster_note})",
            file=sys.stderr,
        )

    calendar = book.calendar_for(args.rep)
    business = policy.response.business_hours
    try:
        due = calendar.add(start, seconds) if business else start + timedelta(seconds=seconds)
        local_start, local_due = calendar.to_local(start), calendar.to_local(due)
    except (ValueError, OverflowError) as exc:
        return _fail(f"cannot compute the due time: {exc}")

    rep = args.rep if args.rep is not None else "(none: unowned lead)"
    source = book.source_of(args.rep) if known else "[calendar] default: unknown rep"
    print(f"rep:      {rep} (calendar from {source}; {roster_note})")
    print(f"calendar: {calendar.describe()}")
    print(f"start:    {local_start.isoformat()}")
    kind = "business seconds (clock pauses outside working time)" if business else "plain seconds"
    print(f"deadline: {seconds:g} {kind}; policy {path or '(built-in defaults)'}")
    print(local_due.isoformat())
    return 0


class RosterError(Exception):
    """The reps topic could not be read; the message says why."""


def read_roster(book, bootstrap: str, prefix: str | None, timeout: float = 15.0) -> tuple[int, str]:
    """Apply the ``reps`` topic, read to its current end, to ``book``.
    Returns (reps applied, topic name)."""
    import asyncio

    from stream.settings import read_settings

    overrides = {"kafka_bootstrap": bootstrap}
    if prefix is not None:
        overrides["topic_prefix"] = prefix
    try:
        # Security settings come from the environment; errors name the variable, never echo a value.
        settings = read_settings(**overrides)
    except ValueError as exc:
        raise RosterError(f"bad Kafka settings: {exc}") from None
    topic = settings.topic("reps")
    try:
        count = asyncio.run(asyncio.wait_for(_read_roster(book, settings, topic), timeout))
    except TimeoutError:
        raise RosterError(f"could not read {topic} from {bootstrap} within {timeout:g}s") from None
    except Exception as exc:  # a broker that cannot be reached, mostly
        raise RosterError(f"could not read {topic} from {bootstrap}: {type(exc).__name__}: {exc}") from None
    return count, topic


async def _read_roster(book, settings, topic: str) -> int:
    from schemas.reps import RepRecord
    from stream.cli.common import read_to_end
    from stream.service.ingest import decode

    async for record in read_to_end(settings, topic):
        if record.value is None:  # a tombstone: the rep was removed
            if record.key:
                book.forget_rep(record.key.decode("utf-8", "replace"))
            continue
        model = decode("reps", record.key, record.value)
        if not isinstance(model, RepRecord):
            continue  # the workers dead-letter invalid records; skip them here too
        try:
            book.update_rep(model)
        except ValueError:
            continue
    return len(book.roster())
