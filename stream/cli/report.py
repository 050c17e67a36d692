"""``python -m stream report``: the weekly SMarketing report (docs/report.md).

Live from the running workers (``--url``), or offline from a history file
(``--history FILE``) through the same replay as ``backtest``. Writes one
self-contained HTML file (``--format html``, the default) or a Markdown
summary for chat (``--format md``) to ``--output`` or stdout. Exit status 1
when the workers cannot be reached, 2 for a bad option, policy or file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from stream.cli.common import add_policy_argument

EXIT_UNREACHABLE = 1
EXIT_USAGE = 2


def register(parser: argparse.ArgumentParser) -> None:
    port = os.environ.get("SLA_WEB_PORT", "6066")
    parser.add_argument("--history", metavar="FILE", help="report offline on this history (JSON lines) instead")
    parser.add_argument(
        "--week", metavar="YYYY-Www", help="the ISO week to report on (default: the last complete week)"
    )
    parser.add_argument("--format", choices=("html", "md"), default="html", help="html (default) or md")
    parser.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    parser.add_argument("--url", default=f"http://127.0.0.1:{port}", help="a worker's base URL (live mode)")
    parser.add_argument(
        "--token",
        default=os.environ.get("SLA_HTTP_TOKEN") or None,
        help="bearer token for the worker's HTTP API (default: $SLA_HTTP_TOKEN)",
    )
    parser.add_argument("--jobs", metavar="N", type=int, default=None, help="processes for --history (see backtest)")
    add_policy_argument(parser)


def _err(text: str) -> None:
    print(f"report: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from stream.policy import PolicyError, load_policy
    from stream.report.html import render_html
    from stream.report.markdown import render_markdown
    from stream.report.sources import from_history, from_workers, http_fetch
    from stream.report.weekly import Week
    from stream.service.backtest import default_jobs
    from stream.service.history import FirstProblems

    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    try:
        week = Week.parse(args.week) if args.week else None
    except ValueError as exc:
        _err(f"--week: {exc}")
        return EXIT_USAGE
    if args.jobs is not None and args.jobs < 1:
        _err("--jobs: must be at least 1")
        return EXIT_USAGE

    if args.history:
        problems = FirstProblems()
        try:
            report, result = from_history(
                args.history, policy, week=week, jobs=args.jobs or default_jobs(), on_invalid=problems
            )
        except OSError as exc:
            _err(f"{exc.filename or args.history}: {exc.strerror or exc}")
            return EXIT_USAGE
        except (PolicyError, ValueError) as exc:
            _err(str(exc))
            return EXIT_USAGE
        if result.invalid:
            _err(f"skipped {result.invalid} invalid line{'s' if result.invalid != 1 else ''}, e.g.:")
            for line in problems.lines:
                print(line, file=sys.stderr)
    else:
        try:
            report = from_workers(args.url, policy, week=week, fetch=http_fetch(args.token))
        except OSError as exc:
            _err(f"cannot reach a worker at {args.url}: {exc}")
            return EXIT_UNREACHABLE
        except (KeyError, TypeError, ValueError) as exc:
            _err(f"unexpected answer from {args.url}: {exc}")
            return EXIT_UNREACHABLE

    text = render_html(report) if args.format == "html" else render_markdown(report)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            _err(f"{args.output}: {exc.strerror or exc}")
            return EXIT_USAGE
        print(f"wrote the {report.week} report to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
