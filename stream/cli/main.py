"""``python -m stream <command>``: every command of SPEC §8.

Commands are imported lazily so that ``due`` or ``analyze`` start fast and
never touch Kafka or Faust.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module, one-line help). Each module has ``register(parser)``
# adding its arguments and ``run(args) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "worker": ("stream.cli.worker", "run a Faust worker (Faust's own options pass through)"),
    "dev": ("stream.cli.dev", "local Kafka + topics + worker + simulator; Ctrl-C stops all"),
    "topics": ("stream.cli.topics", "create every topic with its partitions and configs"),
    "simulate": ("stream.cli.simulate", "publish realistic traffic"),
    "replay": ("stream.cli.replay", "publish recorded events from a JSON-lines file"),
    "analyze": ("stream.cli.analyze", "closed-loop segment profitability from history"),
    "backtest": ("stream.cli.backtest", "run the SLA rules offline over history"),
    "report": ("stream.cli.report", "the weekly SMarketing report (HTML or Markdown), live or from history"),
    "due": ("stream.cli.due", "when is a response due for a rep"),
    "tail": ("stream.cli.tail", "pretty-print sla-breaches live"),
    "reps": ("stream.cli.reps", "the per-rep SLA table in the terminal"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "worker":
        # Faust parses its own options; hand them over untouched.
        from stream.cli import worker

        return worker.run_faust(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m stream", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        parser.parse_args(argv)  # prints usage and exits
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    cmd = argparse.ArgumentParser(prog=f"python -m stream {argv[0]}", description=COMMANDS[argv[0]][1])
    module.register(cmd)
    args = cmd.parse_args(argv[1:])
    return int(module.run(args) or 0)
