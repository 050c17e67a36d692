"""``python -m stream analyze FILE``: closed-loop segment profitability from history.

Prints a table; ``--output`` writes the segments file the worker scores with
(``scoring.segments_file``). Never touches Kafka.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stream.cli.common import add_history_arguments
from stream.policy import PolicyError, load_policy


def register(parser: argparse.ArgumentParser) -> None:
    add_history_arguments(parser)
    parser.add_argument(
        "--min-age-days",
        metavar="N",
        type=float,
        default=None,
        help="leads younger than N days at the history's end are left out of the rates"
        " (default: scoring.min_age_days, 30)",
    )
    parser.add_argument("--output", metavar="PATH", help="write the segments file (JSON) here")


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _verdict(value: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]no[/]", None: "[dim]undecided[/]"}[value]


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from schemas.types import format_timestamp

    from stream.service.closed_loop import analyze, encode_reports, overall
    from stream.service.history import FirstProblems, read_history

    def err(text: str) -> None:
        print(text, file=sys.stderr)

    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        err(str(exc))
        return 2
    if args.min_age_days is not None and args.min_age_days < 0:
        err("--min-age-days: must be >= 0")
        return 2
    first_problems = FirstProblems()

    try:
        history = read_history(args.file, first_problems)
    except OSError as exc:
        err(f"{args.file}: {exc.strerror or exc}")
        return 2

    reports = analyze(history.events, policy, args.min_age_days)
    duplicates = len(history.events) - len({event.event_id for _, event in history.events})
    if history.invalid:
        err(f"skipped {history.invalid} invalid line{'s' if history.invalid != 1 else ''}, e.g.:")
        for problem in first_problems.lines:
            err(problem)
    if duplicates:
        err(f"ignored {duplicates} duplicate event{'s' if duplicates != 1 else ''} (same event_id)")

    min_age = policy.scoring.min_age_days if args.min_age_days is None else args.min_age_days
    prior = overall(reports)
    title = escape(
        f"segments by {' | '.join(policy.scoring.segment_by)}"
        f" · as of {format_timestamp(reports[0].as_of) if reports else '-'} · mature = {min_age:g}+ days old"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("segment", no_wrap=True)
    for name in ("leads", "mature", "workable", "contacted", "connected", "opps"):
        table.add_column(name, justify="right")
    for name in ("opp value", "value/lead", "cost/lead", "profit/lead"):
        table.add_column(name, justify="right")
    table.add_column("profitable")
    for r in reports:
        table.add_row(
            escape(r.segment),
            str(r.leads),
            str(r.mature_leads),
            str(r.workable),
            str(r.contacted),
            str(r.connected),
            str(r.opportunities),
            _fmt(r.opportunity_value),
            _fmt(r.value_per_lead),
            _fmt(r.cost_per_lead),
            _fmt(r.profit_per_lead),
            _verdict(r.profitable),
        )
    out = Console(highlight=False, width=max(Console().width, 150))
    out.print(table)
    out.print(
        f"overall value per mature lead {_fmt(prior.value_per_lead)} over {prior.mature_leads} mature leads;"
        f" smoothing {policy.scoring.smoothing_leads:g} leads, verdict needs"
        f" {policy.scoring.min_mature_leads} mature leads and {policy.scoring.verdict_confidence:g} confidence"
    )

    if args.output:
        try:
            Path(args.output).write_bytes(encode_reports(reports))
        except OSError as exc:
            err(f"{args.output}: {exc.strerror or exc}")
            return 2
        err(f"wrote {len(reports)} segments to {args.output}")
    return 0
