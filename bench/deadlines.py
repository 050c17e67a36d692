"""The deadline index in-process: memory per open clock and the cost of a sweep.

Each measurement runs in a fresh interpreter (``python -m bench.deadlines
--mode ... --leads N``, one JSON line on stdout) so that RSS growth belongs
to one structure only:

* ``dict``: the baseline, ``{lead_id: wakeup}`` for N leads;
* ``index``: ``DeadlineIndex`` with N leads scheduled and their clocks open
  (``schedule`` + ``set_open``, as the lead agent does), then a sweep over
  every partition (``pop_due``, as the sweeper does) with ``due`` of the N
  leads due, repeated, against a full scan of the wakeups (what an O(open)
  sweep would cost).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import subprocess
import sys
import time

from bench.common import ROOT, rss_kib

PARTITIONS = 8
REPS = 500


def lead_id(i: int) -> str:
    # 18 characters, like a Salesforce lead id.
    return f"00Q{i:015d}"


def _build_dict(n: int, now: float, rng: random.Random) -> dict:
    return {lead_id(i): now + rng.uniform(60, 86_400) for i in range(n)}


def _build_index(n: int, now: float, rng: random.Random):
    from stream.service.deadlines import DeadlineIndex

    index = DeadlineIndex()
    for i in range(n):
        lid = lead_id(i)
        p = i % PARTITIONS
        index.schedule(p, lid, now + rng.uniform(60, 86_400))
        started = now - rng.uniform(0, 3_600)
        index.set_open(p, lid, (started, f"r-{i % REPS:04d}", started + 300))
    return index


def sweep_cost(index, n: int, due: int, repeats: int, now: float, rng: random.Random) -> dict:
    """Seconds per sweep (pop_due on every partition) with ``due`` leads due;
    the due leads are rescheduled into the past before each sweep (not timed)."""
    times, idle = [], []
    for _ in range(repeats):
        chosen = rng.sample(range(n), due)
        for i in chosen:
            index.schedule(i % PARTITIONS, lead_id(i), now - rng.uniform(0.001, 1.0))
        t0 = time.perf_counter()
        popped = 0
        for p in range(PARTITIONS):
            popped += len(index.pop_due(p, now))
        times.append(time.perf_counter() - t0)
        if popped != due:
            raise RuntimeError(f"expected {due} due leads, popped {popped}")
        # Put them back in the future, as a tick that fired a stage would.
        for i in chosen:
            index.schedule(i % PARTITIONS, lead_id(i), now + rng.uniform(60, 86_400))
        t0 = time.perf_counter()
        for p in range(PARTITIONS):
            index.pop_due(p, now)
        idle.append(time.perf_counter() - t0)
    return {
        "sweep_median_s": statistics.median(times),
        "sweep_p90_s": sorted(times)[int(0.9 * (len(times) - 1))],
        "sweep_idle_median_s": statistics.median(idle),
    }


def scan_cost(index, now: float, repeats: int = 5) -> float:
    """Seconds for an O(open) sweep: look at every lead's wakeup."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for part in index._partitions.values():  # noqa: SLF001 - a benchmark of the structure
            [lead for lead, at in part.wakeup.items() if at <= now]
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(mode: str, n: int, due: int, repeats: int, seed: int = 3) -> dict:
    rng = random.Random(seed)
    now = time.time()
    gc.collect()
    before = rss_kib()
    t0 = time.perf_counter()
    if mode == "dict":
        built = _build_dict(n, now, rng)
    elif mode == "index":
        built = _build_index(n, now, rng)
    else:
        raise ValueError(mode)
    build_s = time.perf_counter() - t0
    gc.collect()
    after = rss_kib()
    out = {
        "mode": mode,
        "leads": n,
        "rss_before_kib": before,
        "rss_growth_kib": after - before,
        "bytes_per_lead": 1024 * (after - before) / n,
        "build_s": build_s,
    }
    if mode == "index":
        out["open_clocks"] = built.open_clocks
        out.update(sweep_cost(built, n, due, repeats, now, rng))
        out["scan_s"] = scan_cost(built, now)
        out["due"] = due
        out["repeats"] = repeats
    return out


def run_isolated(mode: str, n: int, due: int = 100, repeats: int = 200) -> dict:
    """``measure`` in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.deadlines", "--mode", mode, "--leads", str(n), "--due", str(due)]
        + ["--repeats", str(repeats)],
        capture_output=True,
        text=True,
        check=True,
        cwd=str(ROOT),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(leads: int, small: int, due: int = 100, repeats: int = 200, log=print) -> dict:
    log(f"deadline index: dict baseline, {leads:,} leads")
    base = run_isolated("dict", leads, due, repeats)
    log(f"deadline index: DeadlineIndex, {leads:,} leads")
    big = run_isolated("index", leads, due, repeats)
    log(f"deadline index: DeadlineIndex, {small:,} leads")
    little = run_isolated("index", small, due, repeats)
    return {"dict": base, "index": big, "small": little}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("dict", "index"), required=True)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.mode, args.leads, args.due, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
