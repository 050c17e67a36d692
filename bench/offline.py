"""The offline commands at full scale (SPEC §9): ``backtest`` and ``analyze``
over a simulated history of ``events`` events, against a baseline that only
reads and validates the same file.

Each command runs as its own process (``python -m stream ...``, the way a
user runs it); its wall-clock seconds and peak memory are measured from the
outside. Peak memory is the largest sum of VmRSS over the process and its
children, sampled every 20 ms (``backtest`` forks one process per CPU: their
shared pages count once per process, so the figure errs high), or the
kernel's peak for the process if larger.

The history comes from the project's simulator (``stream.service.simulation``,
what ``python -m stream simulate --history-out`` writes): 200 reps, about
4 events per lead, cut at exactly ``events`` lead events after the roster.
It is written once per (events, seed) into ``workdir`` and reused.

``python -m bench.offline --events N`` prints the figures as JSON;
``python -m bench.offline read FILE`` is the baseline itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.common import ROOT, rss_kib

REPS = 200
SEED = 20_260_105
START = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a Monday
EVENTS_PER_LEAD = 4.0  # the simulator's mean, a little under: enough leads for `events`
DAYS = 60  # simulated days the history spans (the "about 1M events, 60 days")
SAMPLE_SECONDS = 0.02


def history_path(workdir: Path, events: int, seed: int = SEED) -> Path:
    return workdir / f"history-{events}-{seed}.jsonl"


def write_history(path: Path, events: int, seed: int = SEED, days: float = DAYS) -> int:
    """Write the roster and the first ``events`` lead events of a simulation
    to ``path``; returns how many lead events were written (fewer only if the
    simulation ran out)."""
    from stream.service.simulation import Simulation, to_history_lines

    rate = events / EVENTS_PER_LEAD / (days * 1440)
    sim = Simulation(seed, START, reps=REPS, leads_per_minute=rate)
    written = 0
    partial = path.with_suffix(".partial")
    with open(partial, "w", encoding="utf-8") as out:
        for line in to_history_lines((), roster=sim.roster()):
            out.write(line)
        for item in sim.events(until=START + timedelta(days=days * 2)):
            if written >= events:
                break
            out.write(next(to_history_lines([item])))
            written += 1
    partial.rename(path)
    return written


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return out


def _tree_rss_kib(pid: int) -> int:
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            total += rss_kib(p)
            todo += _children(p)
        except (OSError, ValueError):
            continue
    return total


def measure(command: list[str]) -> dict:
    """Run ``command``; its wall seconds and peak memory in MiB: the larger of
    the sampled process-tree RSS and the kernel's own peak for the process
    (``wait4``'s ``ru_maxrss``, which a run too short to sample still has)."""
    errors = tempfile.TemporaryFile()  # not a pipe: a chatty command must never block on it
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
    peak_kib = 0
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        peak_kib = max(peak_kib, _tree_rss_kib(proc.pid))
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    errors.seek(0)
    stderr = errors.read().decode(errors="replace")
    errors.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {proc.returncode}:\n{stderr[-2000:]}")
    return {"seconds": seconds, "rss_mb": max(peak_kib, usage.ru_maxrss) / 1024}


def run(events: int = 1_000_000, workdir: Path | None = None, jobs: int | None = None, log=print) -> dict:
    """Generate (or reuse) the history and measure the baseline, ``backtest``
    and ``analyze`` on it. ``jobs``: backtest's ``--jobs`` (default: its own)."""
    workdir = Path(workdir) if workdir is not None else Path.cwd()
    workdir.mkdir(parents=True, exist_ok=True)
    path = history_path(workdir, events)
    if not path.exists():
        log(f"offline: simulating {events} events into {path}")
        write_history(path, events)
    lead_events = sum(1 for line in open(path, "rb") if b'"topic":"reps"' not in line)
    python = sys.executable
    log("offline: baseline (read and validate)")
    read = measure([python, "-m", "bench.offline", "read", str(path)])
    backtest_cmd = [python, "-m", "stream", "backtest", str(path), "--json", str(workdir / "backtest.json")]
    if jobs is not None:
        backtest_cmd += ["--jobs", str(jobs)]
    log("offline: backtest")
    backtest = measure(backtest_cmd)
    log("offline: analyze")
    analyze = measure([python, "-m", "stream", "analyze", str(path), "--output", str(workdir / "segments.json")])
    return {
        "offline.events": lead_events,
        "offline.history_mb": path.stat().st_size / 2**20,
        "offline.read_seconds": read["seconds"],
        "offline.read_rss_mb": read["rss_mb"],
        "offline.backtest_seconds": backtest["seconds"],
        "offline.backtest_rss_mb": backtest["rss_mb"],
        "offline.backtest_ratio": backtest["seconds"] / read["seconds"],
        "offline.backtest_jobs": jobs,
        "offline.analyze_seconds": analyze["seconds"],
        "offline.analyze_rss_mb": analyze["rss_mb"],
        "offline.analyze_ratio": analyze["seconds"] / read["seconds"],
        "offline.cpus": len(os.sched_getaffinity(0)),
    }


def read_only(path: str) -> int:
    """The baseline: read the file and validate every line, as the commands do, and nothing else."""
    from stream.service.history import ScanCounts, scan_history

    counts = ScanCounts()
    for _ in scan_history(path, counts):
        pass
    print(json.dumps({"events": counts.events, "reps": counts.reps, "invalid": counts.invalid}))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["read"]:
        return read_only(argv[1])
    parser = argparse.ArgumentParser(prog="python -m bench.offline", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="lead events in the history (%(default)s)")
    parser.add_argument(
        "--workdir", default=str(Path(tempfile.gettempdir()) / "sla-bench-offline"), help="where the history is kept"
    )
    parser.add_argument("--jobs", type=int, default=None, help="backtest --jobs (default: the command's own)")
    args = parser.parse_args(argv)
    results = run(args.events, Path(args.workdir), args.jobs, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
