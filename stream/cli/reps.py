"""``python -m stream reps``: the per-rep SLA table in the terminal, as any
worker serves it at ``/sla/reps`` (the whole group's numbers).

Two layouts: the wide one (every column) when it fits the terminal, else a
compact one that fits 80 columns, one line per rep; ``--wide`` and
``--compact`` choose. Windows are whole local days in each rep's own time
zone, so ``mtd`` is each rep's own month: the table says so under it.
"""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
import urllib.request

import orjson

# (header, report key, format): the compact layout, 10 columns within 80 characters
COMPACT = (
    ("work", "workable_leads", "n"),
    ("in SLA", "first_response_within_sla_ratio", "%"),
    ("median", "response_seconds_median", "s"),
    ("p95", "response_seconds_p95", "s"),
    ("att/l", "attempts_per_workable_lead", "f"),
    ("conn", "connect_rate", "%"),
    ("pipe", "pipeline_conversion_rate", "%"),
)
WIDE = (
    ("workable", "workable_leads", "n"),
    ("clocks", "clocks", "n"),
    ("within SLA", "first_response_within_sla_ratio", "%"),
    ("median resp", "response_seconds_median", "s"),
    ("p95 resp", "response_seconds_p95", "s"),
    ("attempts/lead", "attempts_per_workable_lead", "f"),
    ("connect", "connect_rate", "%"),
    ("pipeline", "pipeline_conversion_rate", "%"),
)
STAGES = (("warning", "warn"), ("breach", "breach"), ("escalation", "esc"))
LEGEND = {
    "work": "workable leads",
    "in SLA": "first responses within SLA",
    "att/l": "attempts per workable lead",
    "conn": "connect rate",
    "pipe": "pipeline conversion",
    "open": "uncontacted now",
    "pace": "marketing pacing",
}
REP_WIDTH = 14


def register(parser: argparse.ArgumentParser) -> None:
    port = os.environ.get("SLA_WEB_PORT", "6066")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}", help="a worker's base URL")
    parser.add_argument(
        "--token",
        default=os.environ.get("SLA_HTTP_TOKEN") or None,
        help="bearer token for the worker's HTTP API (default: $SLA_HTTP_TOKEN)",
    )
    parser.add_argument("--window", default="mtd", choices=("7d", "30d", "mtd", "all"))
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument("--wide", action="store_true", help="every column, whatever the terminal's width")
    layout.add_argument("--compact", action="store_true", help="the 80-column layout, whatever the width")
    parser.add_argument("--json", action="store_true", help="print the raw JSON instead")


def _cell(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "%":
        return f"{100 * value:.0f}%"
    if kind == "s":
        return _duration(value)
    if kind == "f":
        return f"{value:.1f}"
    return str(value)


def _duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s / 60:.0f}m"
    if s < 2 * 86400:
        return f"{s / 3600:.1f}h"
    return f"{s / 86400:.1f}d"


def _stages(breaches: dict | None) -> dict[str, int]:
    out = {stage: 0 for stage, _ in STAGES}
    for stages in (breaches or {}).values():
        for stage, n in stages.items():
            if stage in out:
                out[stage] += n
    return out


def _rows(report: dict, window: str) -> list[dict]:
    """The window's rows (reps, then the total) with the uncontacted and pacing figures joined in."""
    section = report["windows"][window]
    pacing = {m["rep"]: m for m in report["marketing"]["reps"]}
    pacing["total"] = report["marketing"]["total"]
    uncontacted = report.get("uncontacted", {})
    total_open = {
        "open": sum(v["open"] for v in uncontacted.values()),
        "oldest_seconds": max((v["oldest_seconds"] for v in uncontacted.values()), default=None),
    }
    rows = []
    for s in section["reps"] + [section["total"]]:
        rep = s["rep"]
        waiting = total_open if rep == "total" else uncontacted.get(rep, {})
        rows.append(
            {
                **s,
                "open": waiting.get("open", 0),
                "oldest_seconds": waiting.get("oldest_seconds"),
                "marketing": pacing.get(rep, {}),
                "stages": _stages(s.get("breaches")),
            }
        )
    return rows


def render(report: dict, window: str, wide: bool):
    from rich import box
    from rich.table import Table

    months = sorted({m["month"] for m in report["marketing"]["reps"] if m.get("month")})
    title = f"window {window} · as of {report['as_of']}"
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    table.add_column("rep", no_wrap=True, max_width=None if wide else REP_WIDTH, overflow="ellipsis")
    columns = WIDE if wide else COMPACT
    for name, _, _ in columns:
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("open", justify="right", no_wrap=True)
    if wide:
        table.add_column("oldest", justify="right", no_wrap=True)
        for _, short in STAGES:
            table.add_column(short, justify="right", no_wrap=True)
        table.add_column("month", no_wrap=True)
        table.add_column("target", justify="right", no_wrap=True)
        table.add_column("expected", justify="right", no_wrap=True)
    table.add_column("pace", justify="right", no_wrap=True)
    rows = _rows(report, window)
    for i, row in enumerate(rows):
        m = row["marketing"]
        cells = [row["rep"], *(_cell(row.get(key), kind) for _, key, kind in columns), str(row["open"])]
        if wide:
            cells.append(_cell(row["oldest_seconds"], "s") if row["open"] else "–")
            cells += [str(row["stages"][stage]) for stage, _ in STAGES]
            cells += [m.get("month") or "", _cell(m.get("target"), "n"), _number(m.get("expected_to_date"))]
        cells.append(_cell(m.get("pacing_ratio"), "%"))
        table.add_row(*cells, style="bold" if i == len(rows) - 1 else None, end_section=i == len(rows) - 2)
    notes = ["windows are whole local days in each rep's time zone"]
    if window == "mtd" and len(months) > 1:
        notes.append(f"reps are in different months ({', '.join(months)})")
    if wide:
        notes.append("warn/breach/esc: breach events of the window's leads, by stage")
    else:
        notes.append("; ".join(f"{k}: {v}" for k, v in LEGEND.items()) + " (--wide: all columns)")
    table.caption = "\n".join(notes)
    table.caption_justify = "left"
    return table


def _number(value) -> str:
    return "–" if value is None else f"{value:.0f}"


def natural_width(console, table) -> int:
    """How wide ``table`` wants to be, whatever the console's width."""
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update_width(10_000), table).maximum


def choose_table(report: dict, window: str, console, wide: bool = False, compact: bool = False):
    """The wide table when asked or when it fits the console, else the compact one."""
    if compact:
        return render(report, window, wide=False)
    table = render(report, window, wide=True)
    if wide or natural_width(console, table) <= console.width:
        return table
    return render(report, window, wide=False)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from stream.adapters.access import bearer_headers

    try:
        request = urllib.request.Request(f"{args.url.rstrip('/')}/sla/reps", headers=bearer_headers(args.token))
        with urllib.request.urlopen(request, timeout=10) as resp:
            body = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        print(f"cannot reach a worker at {args.url}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(body.decode() + "\n")
        return 0
    report = orjson.loads(body)
    console = Console()
    table = choose_table(report, args.window, console, wide=args.wide, compact=args.compact)
    # --wide keeps one line per rep even on a narrow terminal (for `less -S`).
    console.print(table, width=max(console.width, natural_width(console, table)) if args.wide else None)
    if not report.get("complete", True):
        console.print(f"[red]partial: no answer from {', '.join(report['missing_workers'])}[/]")
    return 0
