"""``python -m stream backtest FILE``: the SLA rules replayed offline over history.

Runs the worker's own SLA core (scoring, response clocks, attempt cadences)
over a recorded history in event time and prints the per-rep SLA report, so a
policy change can be tried before it goes live (``--policy what-if.toml``).
``--json`` writes the report, ``--breaches`` every breach event the replay
emitted. The history is streamed with bounded memory and the leads shared
among ``--jobs`` processes (docs/backtest.md). The same history and policy
give the same bytes on stdout and in both files, whatever ``--jobs``. Exit
status 2 (message on stderr) for a bad policy, timestamp or file.
Never touches Kafka (imports neither Faust nor a Kafka client).
"""

from __future__ import annotations

import argparse
import sys
from datetime import timezone
from pathlib import Path
from typing import Any

from stream.cli.common import add_history_arguments

EXIT_USAGE = 2
CONSOLE_WIDTH = 160  # fixed: the output must not depend on the terminal
_TYPE_ABBREVIATIONS = {"first_response": "fr", "attempt_cadence": "ac", "marketing_shortfall": "ms"}
_STAGE_ABBREVIATIONS = {"warning": "w", "breach": "b", "escalation": "e"}
_LEGEND = (
    "within SLA: first responses at or before their deadline ÷ clocks decided (clocks still running and not yet due"
    " are left out)",
    "median/p95 resp: first-response times in SLA-clock time; connect, pipeline: share of workable leads",
    "breaches: fr = first_response, ac = attempt_cadence; w/b/e = warning/breach/escalation (retracted ones left out)",
    "pacing: workable this month ÷ (target × elapsed business days ÷ business days in the month); docs/backtest.md",
)


def register(parser: argparse.ArgumentParser) -> None:
    add_history_arguments(parser)
    parser.add_argument(
        "--as-of",
        metavar="TIMESTAMP",
        default=None,
        help="report instant, RFC 3339 with an offset (default: the last event's occurred_at)",
    )
    parser.add_argument(
        "--until",
        metavar="TIMESTAMP",
        default=None,
        help="how long simulated time runs on after the last event: SLA stages that would fire later do not"
        " (default: 30 days after the last event, or --as-of if later; earlier than the last event = stop there)",
    )
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON here")
    parser.add_argument("--breaches", metavar="PATH", help="write every emitted breach event here (JSON lines)")
    parser.add_argument(
        "--jobs",
        metavar="N",
        type=int,
        default=None,
        help="processes sharing the leads (default: one per CPU, at most 4); the output does not depend on it",
    )


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _fail(text: str) -> int:
    _err(f"backtest: {text}")
    return EXIT_USAGE


def _instant(option: str, text: str | None) -> float | None:
    from schemas.types import parse_timestamp

    if text is None:
        return None
    try:
        return parse_timestamp(text).timestamp()
    except ValueError as exc:
        raise ValueError(f"{option} {text!r}: {exc}") from None


def _ts(at: float | None) -> str | None:
    from datetime import datetime

    from schemas.types import format_timestamp

    return None if at is None else format_timestamp(datetime.fromtimestamp(at, tz=timezone.utc))


# ----------------------------------------------------------------------------- formatting


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86_400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86_400}d{whole % 86_400 // 3600:02d}h"


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.1f}%"


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _breaches(counts: dict[str, dict[str, int]]) -> str:
    parts = []
    for breach_type in sorted(counts):
        stages = " ".join(
            f"{_STAGE_ABBREVIATIONS.get(stage, stage)}{n}" for stage, n in sorted(counts[breach_type].items())
        )
        parts.append(f"{_TYPE_ABBREVIATIONS.get(breach_type, breach_type)} {stages}")
    return "; ".join(parts) or "-"


def _within(stats) -> str:
    t = stats.totals
    decided = t.clocks_within_sla + t.clocks_missed
    if not decided:
        return "-"
    return f"{_percent(stats.first_response_within_sla_ratio)} ({t.clocks_within_sla}/{decided})"


def _marketing_cells(pacing: dict[str, Any] | None, warning_ratio: float) -> list[str]:
    if pacing is None or pacing["target"] is None:
        return ["-", "-"]
    ratio = pacing["pacing_ratio"]
    if ratio is None:
        shown = "-"
    else:
        shown = f"{ratio:.2f}"
        shown = f"[red]{shown}[/]" if ratio < warning_ratio else shown
    return [f"{pacing['workable_leads']}/{pacing['target']}", shown]


def _window_table(report, window: str, warning_ratio: float):
    from rich.markup import escape
    from rich.table import Table

    with_marketing = window == "mtd"
    marketing = {m.rep: m.to_dict() for m in report.marketing}
    stats = report.windows[window]
    total = report.totals[window]
    span = "every day" if total.first_day is None else f"{total.first_day.isoformat()}..{total.last_day.isoformat()}"
    title = f"window {window} · leads workable {span} (rep's local days) · as of {_ts(report.as_of)}"
    table = Table(title=escape(title), title_justify="left")
    table.add_column("rep", no_wrap=True)
    for name in ("workable", "clocks", "within SLA", "median resp", "p95 resp", "attempts/lead", "connect", "pipeline"):
        table.add_column(name, justify="right")
    table.add_column("breaches")
    if with_marketing:
        table.add_column("month/target", justify="right")
        table.add_column("pacing", justify="right")

    def cells(s, pacing: dict[str, Any] | None) -> list[str]:
        out = [
            escape(s.rep),
            str(s.workable_leads),
            str(s.totals.clocks),
            _within(s),
            _duration(s.response_seconds_median),
            _duration(s.response_seconds_p95),
            _number(s.attempts_per_workable_lead),
            _percent(s.connect_rate),
            _percent(s.pipeline_conversion_rate),
            escape(_breaches(s.breaches())),
        ]
        if with_marketing:
            out += _marketing_cells(pacing, warning_ratio)
        return out

    for i, s in enumerate(stats):
        table.add_row(*cells(s, marketing.get(s.rep)), end_section=i == len(stats) - 1)
    table.add_row(*cells(total, report.marketing_total), style="bold")
    return table


# ----------------------------------------------------------------------------- the command


def _history_section(result) -> dict[str, Any]:
    return {
        "events": result.events,
        "invalid_lines": result.invalid,
        "duplicates": result.duplicates,
        "leads": result.leads,
        "workable_leads": result.workable,
        "first_event_at": _ts(result.first_event_at),
        "last_event_at": _ts(result.last_event_at),
        "as_of": _ts(result.as_of),
        "until": _ts(result.until),
        "wakeups_fired": result.ticks,
        "breach_events_emitted": result.emitted,
    }


def _policy_section(policy) -> dict[str, Any]:
    return {
        "response": policy.response.model_dump(mode="json"),
        "attempts": policy.attempts.model_dump(mode="json"),
        "marketing": policy.marketing.model_dump(mode="json"),
        "workable_threshold": policy.scoring.workable_threshold,
    }


def run(args: argparse.Namespace) -> int:
    import orjson
    from rich.console import Console

    from stream.policy import PolicyError, load_policy
    from stream.service.backtest import backtest_file, default_jobs
    from stream.service.history import FirstProblems
    from stream.service.scorer import build_scorer

    try:
        policy = load_policy(args.policy)
        scorer = build_scorer(policy)
    except PolicyError as exc:
        _err(str(exc))
        return EXIT_USAGE
    try:
        as_of = _instant("--as-of", args.as_of)
        until = _instant("--until", args.until)
    except ValueError as exc:
        return _fail(str(exc))
    if args.jobs is not None and args.jobs < 1:
        return _fail("--jobs: must be at least 1")

    first_problems = FirstProblems()
    breaches_out = None
    try:
        if args.breaches:
            try:
                breaches_out = open(args.breaches, "wb")  # noqa: SIM115 - closed below
            except OSError as exc:
                return _fail(f"{args.breaches}: {exc.strerror or exc}")
        try:
            result = backtest_file(
                args.file,
                policy,
                scorer=scorer,
                as_of=as_of,
                until=until,
                breaches_out=breaches_out,
                on_invalid=first_problems,
                jobs=args.jobs or default_jobs(),
            )
        except OSError as exc:
            return _fail(f"{exc.filename or args.file}: {exc.strerror or exc}")
        except (PolicyError, ValueError) as exc:
            return _fail(str(exc))
    finally:
        if breaches_out is not None:
            breaches_out.close()
    if result.invalid:
        _err(f"skipped {result.invalid} invalid line{'s' if result.invalid != 1 else ''}, e.g.:")
        for problem in first_problems.lines:
            _err(problem)
    if result.events == 0 and result.as_of is None:
        return _fail(f"{args.file}: no valid events (give --as-of to report on an empty history)")
    for why in result.rejected_reps:
        _err(f"ignored a reps record: {why}")
    if result.duplicates:
        _err(f"ignored {result.duplicates} duplicate event{'s' if result.duplicates != 1 else ''} (same event_id)")
    report = result.report()

    document = {
        **report.to_dict(),
        "history": _history_section(result),
        "policy": _policy_section(policy),
    }
    if args.json:
        try:
            Path(args.json).write_bytes(
                orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
            )
        except OSError as exc:
            return _fail(f"{args.json}: {exc.strerror or exc}")

    console = Console(width=CONSOLE_WIDTH, highlight=False, emoji=False)
    response = policy.response
    stages = ", ".join(f"{step.stage} {step.at:g}×" for step in response.escalation)
    console.print(
        f"backtest of {result.events} events ({result.duplicates} duplicate) over {result.leads} leads,"
        f" {result.workable} workable; {_ts(result.first_event_at)} .. {_ts(result.last_event_at)}",
        markup=False,
    )
    console.print(
        f"policy: deadline {response.deadline_seconds:g}s"
        f" ({'business' if response.business_hours else 'plain'} time), stages {stages};"
        f" attempts {policy.attempts.required} in {policy.attempts.window_days} days;"
        f" workable threshold {policy.scoring.workable_threshold:g}",
        markup=False,
    )
    for window in report.windows:
        console.print()
        console.print(_window_table(report, window, policy.marketing.pacing_warning_ratio))
    console.print()
    for line in _LEGEND:
        console.print(line, markup=False)
    if args.json:
        _err(f"wrote the report to {args.json}")
    if args.breaches:
        _err(f"wrote {result.breach_events} breach events to {args.breaches}")
    return 0
