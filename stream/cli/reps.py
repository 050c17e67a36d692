"""``python -m stream reps``: the per-rep SLA table in the terminal, as any
worker serves it at ``/sla/reps`` (the whole group's numbers)."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

import orjson

COLUMNS = (
    ("workable", "workable_leads", "n"),
    ("clocks", "clocks", "n"),
    ("within SLA", "first_response_within_sla_ratio", "%"),
    ("median resp", "response_seconds_median", "s"),
    ("p95 resp", "response_seconds_p95", "s"),
    ("attempts/lead", "attempts_per_workable_lead", "f"),
    ("connect", "connect_rate", "%"),
    ("pipeline", "pipeline_conversion_rate", "%"),
)


def register(parser: argparse.ArgumentParser) -> None:
    port = os.environ.get("SLA_WEB_PORT", "6066")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}", help="a worker's base URL")
    parser.add_argument("--window", default="mtd", choices=("7d", "30d", "mtd", "all"))
    parser.add_argument("--json", action="store_true", help="print the raw JSON instead")


def _cell(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "%":
        return f"{100 * value:.0f}%"
    if kind == "s":
        return f"{value:.0f}s" if value < 120 else f"{value / 60:.1f}m" if value < 7200 else f"{value / 3600:.1f}h"
    if kind == "f":
        return f"{value:.2f}"
    return str(value)


def render(report: dict, window: str):
    from rich.table import Table

    section = report["windows"][window]
    pacing = {m["rep"]: m for m in report["marketing"]["reps"]}
    uncontacted = report.get("uncontacted", {})
    table = Table(title=f"window {window} · as of {report['as_of']}", title_justify="left")
    table.add_column("rep", no_wrap=True)
    for name, _, _ in COLUMNS:
        table.add_column(name, justify="right")
    table.add_column("uncontacted", justify="right")
    table.add_column("breaches")
    table.add_column("pacing", justify="right")
    rows = section["reps"] + [section["total"]]
    for i, s in enumerate(rows):
        breaches = ", ".join(
            f"{kind} {stage} {n}" for kind, stages in sorted((s.get("breaches") or {}).items()) for stage, n in sorted(stages.items())
        )
        rep = s["rep"]
        table.add_row(
            rep,
            *(_cell(s.get(key), kind) for _, key, kind in COLUMNS),
            str(uncontacted.get(rep, {}).get("open", 0)) if rep != "total" else str(
                sum(v["open"] for v in uncontacted.values())
            ),
            breaches or "–",
            _cell(pacing.get(rep, {}).get("pacing_ratio"), "%") if rep != "total" else _cell(
                report["marketing"]["total"].get("pacing_ratio"), "%"
            ),
            style="bold" if i == len(rows) - 1 else None,
        )
    return table


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    try:
        with urllib.request.urlopen(f"{args.url.rstrip('/')}/sla/reps", timeout=10) as resp:
            body = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        print(f"cannot reach a worker at {args.url}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(body.decode() + "\n")
        return 0
    report = orjson.loads(body)
    console = Console()
    console.print(render(report, args.window))
    if not report.get("complete", True):
        console.print(f"[red]partial: no answer from {', '.join(report['missing_workers'])}[/]")
    return 0
