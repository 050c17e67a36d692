"""``make bench``: every SPEC §9 target measured at full size, into docs/benchmarks.md and .json.

Sections (``--only`` picks some; every size has a flag):

* throughput: one worker vs the framework floor (bench/floor.py) vs a raw
  aiokafka loop over the same 100,000 records, counted until idle;
* burst: "Monday morning", 100,000 stages due in the same second;
* breach_latency: probes with 100,000 open clocks, under load;
* open_clocks: one worker ingests 1,000,000 open clocks, RSS sampled;
* restart: that worker SIGKILLed and restarted (data dir, empty data dir);
* standby: failover of two workers with and without standby replicas;
* scrape: ``/metrics`` with 2,000 reps, and breach latency while scraping;
* offline: ``backtest`` and ``analyze`` over 1,000,000 history events;
* hostile: floods of rep ids, duplicates, orphan events and heavy leads;
* deadlines: the deadline index in-process (an extra micro-benchmark).

Uses (or starts) the local broker on ``--kafka-port`` (default 39092, or
``SLA_BENCH_KAFKA_PORT``) and stops it afterwards if it started it. Every
topic it creates carries a ``bench-`` prefix and is deleted after its
section. The report is rewritten after every section, so a long run that is
interrupted still leaves what it measured.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from bench.common import ROOT, code_version, loadavg, machine_facts, source_hash

SECTIONS = (
    "throughput", "burst", "breach_latency", "open_clocks", "restart", "standby", "scrape", "offline", "hostile",
    "deadlines",
)
# The order they run in: cheap and broker-free first, the million-clock worker last.
RUN_ORDER = (
    "deadlines", "throughput", "burst", "breach_latency", "scrape", "hostile", "standby", "open_clocks", "offline",
)
NEEDS_KAFKA = {"throughput", "burst", "breach_latency", "open_clocks", "restart", "standby", "scrape", "hostile"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    p.add_argument("--only", action="append", choices=SECTIONS, help="run only these sections (repeatable)")
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"), help="markdown report (%(default)s)")
    p.add_argument("--json", default=str(ROOT / "docs" / "benchmarks.json"), help="results as JSON (%(default)s)")
    p.add_argument("--notes", default=str(ROOT / "bench" / "notes.md"), help="appended to the report (%(default)s)")
    p.add_argument("--kafka-port", type=int, default=int(os.environ.get("SLA_BENCH_KAFKA_PORT", "39092")))
    p.add_argument("--bootstrap", default=None, help="use this broker instead of starting the local one")
    p.add_argument("--keep-kafka", action="store_true", help="leave a broker this run started running")
    p.add_argument("--workdir", default=None, help="worker data and logs (default: a temporary directory)")
    p.add_argument("--keep-workdir", action="store_true", help="keep each section's worker data and logs")
    g = p.add_argument_group("throughput")
    g.add_argument("--throughput-events", "--events", type=int, default=100_000, help="events (%(default)s)")
    g.add_argument(
        "--profile-events", type=int, default=10_000, help="events for the cProfile run; 0: none (%(default)s)"
    )
    g = p.add_argument_group('"Monday morning" burst')
    g.add_argument("--burst-clocks", type=int, default=100_000, help="stages due in the same second (%(default)s)")
    g.add_argument(
        "--burst-lead-seconds", type=float, default=None,
        help="seconds from the start of the section to T, the second they fall due (default: 120 + clocks / 300)",
    )
    g = p.add_argument_group("breach latency")
    g.add_argument("--breach-clocks", type=int, default=100_000, help="open clocks (%(default)s)")
    g.add_argument("--breach-seconds", type=float, default=30.0, help="length of each probe phase (%(default)s)")
    g.add_argument("--probe-rate", type=float, default=10.0, help="probe leads per second (%(default)s)")
    g.add_argument("--other-rate", type=float, default=25.0, help="other leads per second, 3 events each (%(default)s)")
    g = p.add_argument_group("open clocks and restart")
    g.add_argument("--open-clocks", type=int, default=1_000_000, help="open clocks of one worker (%(default)s)")
    g.add_argument("--overdue", type=int, default=100, help="stages planted to fall due while it is down (%(default)s)")
    g.add_argument("--no-cold", action="store_true", help="skip the restart on an empty data directory")
    g.add_argument("--no-immediate", action="store_true", help="skip the restart right after a kill")
    g = p.add_argument_group("standby")
    g.add_argument("--standby-clocks", type=int, default=200_000, help="open clocks over two workers (%(default)s)")
    g = p.add_argument_group("/metrics scrape")
    g.add_argument("--scrape-reps", type=int, default=2_000, help="[[reps]] in the policy (%(default)s)")
    g.add_argument("--scrape-leads", type=int, default=20_000, help="leads spread over them (%(default)s)")
    g.add_argument("--scrapes", type=int, default=20, help="scrapes timed (%(default)s)")
    g.add_argument("--scrape-probe-seconds", type=float, default=20.0, help="each probe phase (%(default)s)")
    g.add_argument("--scrape-interval", type=float, default=0.0, help="pause between looping scrapes (%(default)s)")
    g = p.add_argument_group("hostile input")
    g.add_argument("--hostile-events", type=int, default=100_000, help="events per flood (%(default)s)")
    g = p.add_argument_group("offline")
    g.add_argument("--offline-events", type=int, default=1_000_000, help="history events (%(default)s)")
    g.add_argument(
        "--offline-workdir", default=str(Path(tempfile.gettempdir()) / "sla-bench-offline"),
        help="where the simulated history is kept and reused (%(default)s)",
    )
    g = p.add_argument_group("deadline index")
    g.add_argument("--index-leads", type=int, default=1_000_000, help="open clocks (%(default)s)")
    g.add_argument("--index-small", type=int, default=10_000, help="open clocks of the comparison (%(default)s)")
    g.add_argument("--index-repeats", type=int, default=200, help="timed sweeps (%(default)s)")
    return p.parse_args(argv)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


_OFFLINE = """
import inspect, json, sys
from pathlib import Path
from bench import offline
kwargs = {"events": int(sys.argv[1]), "workdir": Path(sys.argv[2])}
if "log" in inspect.signature(offline.run).parameters:
    kwargs["log"] = lambda m: print(f"  {m}", file=sys.stderr, flush=True)
print(json.dumps(offline.run(**kwargs)))
"""


def run_offline(events: int, workdir: Path) -> dict:
    """``bench.offline.run(events, workdir)`` (another engineer's module: its
    interface is ``run(events=1_000_000, workdir=Path) -> dict`` of
    ``offline.*`` keys), in a fresh interpreter: the peak memory it reports
    for a command includes the kernel's ``ru_maxrss`` of the child, which
    counts the RSS of the process that forked it, so that process must be a
    small one, not this benchmark after hours of work."""
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-c", _OFFLINE, str(events), str(workdir)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench.offline.run exited {proc.returncode} (its output is above)")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    chosen = set(args.only or SECTIONS)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # retries while new topics get leaders

    from bench import breach, burst, deadlines, hostile, open_clocks, report, restart, scrape, standby, throughput
    from bench.harness import PREFIXES, delete_topics, start_broker, stop_broker

    started = time.perf_counter()
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": shlex.join(["python", "-m", "bench.run", *(sys.argv[1:] if argv is None else argv)]),
        "machine": machine_facts(),
        "code": code_version(),
        "source_start": source_hash(),
        "args": vars(args),
        "sections": sorted(chosen, key=SECTIONS.index),
        "seconds_by_section": {},
    }
    flat: dict = {}
    detail: dict = {}
    errors: dict = {}
    out, json_path = Path(args.out), Path(args.json) if args.json else None
    notes = Path(args.notes) if args.notes else None

    def write() -> None:
        meta["seconds"] = time.perf_counter() - started
        meta["loadavg_end"] = loadavg()
        meta["source_end"] = source_hash()
        report.write({**flat, "errors": errors, "meta": meta, "detail": detail}, out, json_path, notes)

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="sla-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bootstrap, started_broker = args.bootstrap, False

    def section(name: str, measure) -> object:
        """Run one section: its results into ``detail``/``flat``, or its error into ``errors``."""
        log(f"== {name}")
        t0 = time.perf_counter()
        first_prefix = len(PREFIXES)
        value = None
        try:
            value = measure(workdir / name)
        except Exception as exc:  # noqa: BLE001 - one failed section must not lose the others
            errors[name] = f"{type(exc).__name__}: {exc}"
            log(f"{name} FAILED: {errors[name]}")
            traceback.print_exc()
        finally:
            meta["seconds_by_section"][name] = time.perf_counter() - t0
            if bootstrap and PREFIXES[first_prefix:] and name != "open_clocks":
                _cleanup(bootstrap, PREFIXES[first_prefix:])
            if not args.keep_workdir and name != "open_clocks":
                shutil.rmtree(workdir / name, ignore_errors=True)
        return value

    def record(name: str, result: dict) -> None:
        detail[name] = result
        try:
            flat.update(report.headline(name, result))
        except Exception as exc:  # noqa: BLE001
            errors[name] = f"summarizing the results failed: {type(exc).__name__}: {exc}"
        write()

    def _cleanup(bs: str, prefixes: list[str]) -> None:
        try:
            n = delete_topics(bs, prefixes)
            log(f"cleanup: deleted {n} benchmark topics")
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the real error
            log(f"cleanup: could not delete benchmark topics: {exc}")

    try:
        if chosen & NEEDS_KAFKA and bootstrap is None:
            log(f"broker: starting or reusing the local broker on port {args.kafka_port}")
            bootstrap, started_broker = start_broker(args.kafka_port)
        meta["bootstrap"] = bootstrap or "—"
        for name in RUN_ORDER:
            if name == "deadlines" and name in chosen:
                r = section(name, lambda _: deadlines.run(
                    args.index_leads, args.index_small, repeats=args.index_repeats, log=log))
            elif name == "throughput" and name in chosen:
                r = section(name, lambda wd: throughput.run(
                    bootstrap, wd, args.throughput_events, profile_events=args.profile_events, log=log))
            elif name == "burst" and name in chosen:
                r = section(name, lambda wd: burst.run(
                    bootstrap, wd, args.burst_clocks, lead_seconds=args.burst_lead_seconds, log=log))
            elif name == "breach_latency" and name in chosen:
                r = section(name, lambda wd: breach.run(
                    bootstrap, wd, args.breach_clocks, args.breach_seconds, args.probe_rate, args.other_rate,
                    log=log))
            elif name == "scrape" and name in chosen:
                r = section(name, lambda wd: scrape.run(
                    bootstrap, wd, args.scrape_reps, args.scrape_leads, scrapes=args.scrapes,
                    probe_seconds=args.scrape_probe_seconds, probe_rate=args.probe_rate,
                    interval=args.scrape_interval, log=log))
            elif name == "hostile" and name in chosen:
                r = section(name, lambda wd: hostile.run(bootstrap, wd, args.hostile_events, log=log))
            elif name == "standby" and name in chosen:
                r = section(name, lambda wd: standby.run(bootstrap, wd, args.standby_clocks, log=log))
            elif name == "open_clocks" and chosen & {"open_clocks", "restart"}:
                # The restart section reuses the loaded worker: one million-clock ingestion.
                first_prefix = len(PREFIXES)
                got = section("open_clocks", lambda wd: open_clocks.run(bootstrap, wd, args.open_clocks, log=log))
                if got is not None:
                    result, loaded = got
                    record("open_clocks", result)
                    if "restart" in chosen:
                        r = section("restart", lambda wd: restart.run(
                            bootstrap, wd, loaded, overdue=args.overdue, cold=not args.no_cold,
                            immediate=not args.no_immediate, log=log))
                        if r is not None:
                            record("restart", r)
                    loaded.close()
                elif "restart" in chosen:
                    errors["restart"] = "not run: the open-clocks section it continues failed"
                _cleanup(bootstrap, PREFIXES[first_prefix:])
                if not args.keep_workdir:
                    shutil.rmtree(workdir / "open_clocks", ignore_errors=True)
                write()
                continue
            elif name == "offline" and name in chosen:
                r = section(name, lambda _: run_offline(args.offline_events, Path(args.offline_workdir)))
            else:
                continue
            if r is not None:
                record(name, r)
            else:
                write()
    finally:
        if bootstrap and PREFIXES:
            _cleanup(bootstrap, PREFIXES)
        if started_broker and not args.keep_kafka:
            log("broker: stopping the broker this run started")
            stop_broker(args.kafka_port)
        if not args.keep_workdir and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        write()
        log(f"wrote {out}" + (f" and {json_path}" if json_path else ""))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
