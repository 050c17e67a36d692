"""``python -m stream analyze FILE``: closed-loop segment profitability from history.

Prints a table; ``--output`` writes the segments file the worker scores with
(``scoring.segments_file``). Reads the file as a stream, so its size is not
bounded by memory. Never touches Kafka.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stream.cli.common import add_history_arguments
from stream.policy import PolicyError, load_policy

# Narrowest table drawn when the output is not a terminal; it grows with the
# segment names so that no column is ever cut short in a file or a pipe.
MIN_FILE_WIDTH = 150


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


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _verdict(value: bool | None) -> str:
    return {True: "[green]yes[/]", False: "[red]no[/]", None: "[dim]undecided[/]"}[value]


def segment_table(reports, title: str):
    """The analysis as a rich table."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), title_justify="left")
    table.add_column("segment", no_wrap=True)
    for name in ("leads", "mature", "workable", "contacted", "connected", "opps"):
        table.add_column(name, justify="right", no_wrap=True)
    for name in ("conversion", "deal size", "opp value", "value/lead", "cost/lead", "profit/lead"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("profitable", no_wrap=True)
    for r in reports:
        table.add_row(
            escape(r.segment),
            str(r.leads),
            str(r.mature_leads),
            str(r.workable),
            str(r.contacted),
            str(r.connected),
            str(r.opportunities),
            _percent(r.conversion_rate),
            _fmt(r.deal_size),
            _fmt(r.opportunity_value),
            _fmt(r.value_per_lead),
            _fmt(r.cost_per_lead),
            _fmt(r.profit_per_lead),
            _verdict(r.profitable),
        )
    return table


def console_for(renderable):
    """A console that never cuts ``renderable`` short: the terminal's width on
    a terminal, else as wide as the table needs (files and pipes have no width)."""
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(highlight=False)
    if console.is_terminal:
        return Console(highlight=False, width=max(console.width, MIN_FILE_WIDTH))
    wide = Console(highlight=False, width=10_000)
    needed = Measurement.get(wide, wide.options, renderable).maximum
    return Console(highlight=False, width=max(MIN_FILE_WIDTH, needed))


def run(args: argparse.Namespace) -> int:
    from schemas.types import format_timestamp

    from stream.service.closed_loop import AnalysisCounts, analyze_file, encode_reports, overall
    from stream.service.history import FirstProblems

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
    counts = AnalysisCounts()
    try:
        reports = analyze_file(args.file, policy, args.min_age_days, counts=counts, on_invalid=first_problems)
    except OSError as exc:
        err(f"{args.file}: {exc.strerror or exc}")
        return 2
    if counts.invalid:
        err(f"skipped {counts.invalid} invalid line{'s' if counts.invalid != 1 else ''}, e.g.:")
        for problem in first_problems.lines:
            err(problem)
    if counts.duplicates:
        err(f"ignored {counts.duplicates} duplicate event{'s' if counts.duplicates != 1 else ''} (same event_id)")

    scoring = policy.scoring
    min_age = scoring.min_age_days if args.min_age_days is None else args.min_age_days
    prior = overall(reports)
    title = (
        f"segments by {' | '.join(scoring.segment_by)}"
        f" · as of {format_timestamp(reports[0].as_of) if reports else '-'} · mature = {min_age:g}+ days old"
    )
    table = segment_table(reports, title)
    out = console_for(table)
    out.print(table)
    out.print(
        f"overall: {prior.mature_leads} mature leads, {_percent(prior.conversion)} converted,"
        f" typical deal {_fmt(prior.deal_size)}, value per mature lead {_fmt(prior.value_per_lead)};"
        f" smoothing {scoring.smoothing_leads:g} leads, verdict needs"
        f" {scoring.min_mature_leads} mature leads and {scoring.verdict_confidence:g} confidence",
        markup=False,
    )

    if args.output:
        try:
            Path(args.output).write_bytes(encode_reports(reports))
        except OSError as exc:
            err(f"{args.output}: {exc.strerror or exc}")
            return 2
        err(f"wrote {len(reports)} segments to {args.output}")
    return 0
