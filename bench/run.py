"""``make bench``: measure the SPEC §9 targets and write docs/benchmarks.md.

Each target is measured against a baseline taken in the same run:

1. throughput: one worker vs a raw aiokafka consume + decode loop;
2. deadline index: RSS vs a plain dict, sweep cost at 1M vs 10k open clocks;
3. breach latency: probes with many open clocks vs with none;
4. restart: a SIGKILLed worker with M open clocks vs a fresh worker.

Uses (or starts) the local broker on ``--kafka-port`` (default 39092, or
``SLA_BENCH_KAFKA_PORT``) and stops it afterwards if it started it. Every
topic it creates carries a ``bench-`` prefix and is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench.common import ROOT, code_version, loadavg, machine_facts, source_hash

SECTIONS = ("deadlines", "throughput", "breach", "restart")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections (repeatable)")
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="markdown report (default: %(default)s)")
    p.add_argument("--json", default=None, help="also write the raw results as JSON here")
    p.add_argument("--kafka-port", type=int, default=int(os.environ.get("SLA_BENCH_KAFKA_PORT", "39092")))
    p.add_argument("--bootstrap", default=None, help="use this broker instead of starting the local one")
    p.add_argument("--keep-kafka", action="store_true", help="leave a broker this run started running")
    p.add_argument("--workdir", default=None, help="worker data and logs (default: a temporary directory)")
    p.add_argument("--keep-workdir", action="store_true")
    g = p.add_argument_group("throughput")
    g.add_argument("--events", type=int, default=100_000, help="events for the throughput run (%(default)s)")
    g.add_argument(
        "--profile-events", type=int, default=10_000, help="events for the cProfile run; 0: none (%(default)s)"
    )
    g = p.add_argument_group("deadline index")
    g.add_argument("--index-leads", type=int, default=1_000_000, help="open clocks (%(default)s)")
    g.add_argument("--index-small", type=int, default=10_000, help="open clocks of the comparison (%(default)s)")
    g.add_argument("--index-repeats", type=int, default=200, help="timed sweeps (%(default)s)")
    g = p.add_argument_group("breach latency")
    g.add_argument("--breach-clocks", type=int, default=20_000, help="open clocks (%(default)s)")
    g.add_argument("--breach-seconds", type=float, default=30.0, help="length of each probe phase (%(default)s)")
    g.add_argument("--probe-rate", type=float, default=10.0, help="probe leads per second (%(default)s)")
    g.add_argument(
        "--other-rate", type=float, default=25.0, help="other leads per second, 3 events each (%(default)s)"
    )
    g = p.add_argument_group("restart")
    g.add_argument("--restart-clocks", type=int, default=50_000, help="open clocks when killed (%(default)s)")
    g.add_argument("--no-cold", action="store_true", help="skip the restart on an empty data directory")
    return p.parse_args(argv)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sections = args.only or list(SECTIONS)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # retries while new topics get leaders

    from bench import breach, deadlines, report, restart, throughput
    from bench.harness import PREFIXES, delete_topics, start_broker, stop_broker

    started = time.perf_counter()
    results: dict = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)]),
            "machine": machine_facts(),
            "code": code_version(),
            "source_start": source_hash(),
            "args": vars(args),
        }
    }
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="sla-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bootstrap, started_broker = args.bootstrap, False
    needs_kafka = any(s in sections for s in ("throughput", "breach", "restart"))
    try:
        if "deadlines" in sections:
            results["deadlines"] = deadlines.run(
                args.index_leads, args.index_small, repeats=args.index_repeats, log=log
            )
        if needs_kafka and bootstrap is None:
            log(f"broker: starting or reusing the local broker on port {args.kafka_port}")
            bootstrap, started_broker = start_broker(args.kafka_port)
        results["meta"]["bootstrap"] = bootstrap or "—"
        if "throughput" in sections:
            results["throughput"] = throughput.run(
                bootstrap, workdir, args.events, profile_events=args.profile_events, log=log
            )
        if "breach" in sections:
            results["breach"] = breach.run(
                bootstrap, workdir, args.breach_clocks, args.breach_seconds, args.probe_rate, args.other_rate, log=log
            )
        if "restart" in sections:
            results["restart"] = restart.run(bootstrap, workdir, args.restart_clocks, cold=not args.no_cold, log=log)
    finally:
        if bootstrap and PREFIXES:
            try:
                log(f"cleanup: deleted {delete_topics(bootstrap, PREFIXES)} benchmark topics")
            except Exception as exc:  # noqa: BLE001 - cleanup must not hide the real error
                log(f"cleanup: could not delete benchmark topics: {exc}")
        if started_broker and not args.keep_kafka:
            log("broker: stopping the broker this run started")
            stop_broker(args.kafka_port)
        if not args.keep_workdir and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["meta"]["seconds"] = time.perf_counter() - started
    results["meta"]["loadavg_end"] = loadavg()
    results["meta"]["source_end"] = source_hash()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report.render(results))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
