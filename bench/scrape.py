"""``/metrics`` with 2,000 reps (SPEC §9): one scrape ≤ 100 ms of worker
CPU, and breach emission not delayed by scrapes.

A worker whose policy lists R ``[[reps]]`` (with teams and time zones)
ingests L leads spread over those reps (each: created, a download, a first
call one second later that stops its clock, a connected call later), so
every rep has series in every window. Once it is idle, its idle CPU rate is
measured over 5 s, then S scrapes are made back to back; the worker's CPU
per scrape is its CPU time over them (from /proc) minus the idle rate over
the same wall time, divided by S. Then probe leads (created at a steady
rate, never called, 5 s deadline, no lateness) measure the breach latency
(``detected_at − deadline``, as in bench/breach.py) twice: with nobody
scraping, and while a thread scrapes ``/metrics`` in a loop.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from bench.breach import DEADLINE, _probe_phase, _watch
from bench.common import fmt, markdown_table, ms, pct, summarize
from bench.harness import Worker, policy_toml, scratch_dir, unique_prefix
from bench.workload import pipeline_mix, produce, rep_id

TEAMS = 20
ZONES = ("America/New_York", "America/Los_Angeles", "Europe/Berlin", "Europe/London", "Asia/Tokyo",
         "Australia/Sydney")
CALLS_PER_LEAD = 2


def policy(reps: int) -> str:
    """A plain-time policy (5 s deadline, single breach stage, no lateness,
    every lead workable) with ``reps`` ``[[reps]]`` entries."""
    text = policy_toml(DEADLINE, escalation='[{ at = 1.0, stage = "breach" }]', allowed_lateness_seconds=0)
    entries = [
        f'[[reps]]\nrep_id = "{rep_id(i)}"\nteam = "team-{i % TEAMS:02d}"\ntimezone = "{ZONES[i % len(ZONES)]}"\n'
        for i in range(reps)
    ]
    return text + "\n" + "\n".join(entries)


def scrape_cost(worker: Worker, scrapes: int, idle_seconds: float = 5.0) -> dict:
    c0, t0 = worker.cpu(), time.perf_counter()
    time.sleep(idle_seconds)
    idle_rate = (worker.cpu() - c0) / (time.perf_counter() - t0)
    per = []
    cpu_start, t_start = worker.cpu(), time.perf_counter()
    body = b""
    for _ in range(scrapes):
        ca, ta = worker.cpu(), time.perf_counter()
        status, body = worker.get("/metrics")
        cb, tb = worker.cpu(), time.perf_counter()
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        per.append({"wall": tb - ta, "cpu": cb - ca})
    wall = time.perf_counter() - t_start
    cpu = worker.cpu() - cpu_start
    lines = body.decode().splitlines()
    return {
        "scrapes": scrapes,
        "idle_cpu_per_s": idle_rate,
        "cpu_ms": 1000 * (cpu - idle_rate * wall) / scrapes,
        "cpu_ms_raw": 1000 * cpu / scrapes,
        "cpu_ms_max": 1000 * max(p["cpu"] for p in per),
        "wall_ms": 1000 * wall / scrapes,
        "wall": summarize([p["wall"] for p in per]),
        "bytes": len(body),
        "lines": len(lines),
        "samples": sum(1 for line in lines if line and not line.startswith("#")),
    }


async def _latency(bootstrap: str, worker: Worker, seconds: float, rate: float, interval: float, log) -> dict:
    run = worker.prefix.rstrip(".")
    breaches: list = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(bootstrap, worker.topic("sla-breaches"), breaches, stop))
    try:
        log("  probes, nobody scraping")
        quiet = await _probe_phase(bootstrap, worker, f"{run}-quiet-", breaches, seconds, rate, 0.0, log)
        done = threading.Event()
        count = [0]

        def scrape_loop() -> None:
            while not done.is_set():
                try:
                    worker.get("/metrics")
                    count[0] += 1
                except OSError:
                    pass
                if interval:
                    done.wait(interval)

        log("  probes while /metrics is scraped in a loop")
        thread = threading.Thread(target=scrape_loop, daemon=True, name="bench-scraper")
        t0 = time.perf_counter()
        thread.start()
        try:
            scraping = await _probe_phase(bootstrap, worker, f"{run}-scrape-", breaches, seconds, rate, 0.0, log)
        finally:
            done.set()
            thread.join(30)
        scraping["scrapes"] = count[0]
        scraping["scrape_seconds"] = time.perf_counter() - t0
    finally:
        stop.set()
        await watcher
    return {"quiet": quiet, "scraping": scraping}


def run(
    bootstrap: str,
    workdir: Path,
    reps: int,
    leads: int,
    scrapes: int = 20,
    probe_seconds: float = 20.0,
    probe_rate: float = 10.0,
    interval: float = 0.0,
    log=print,
    timeout: float = 3600,
) -> dict:
    prefix = unique_prefix("sc")
    worker = Worker(bootstrap, scratch_dir(workdir, "scrape"), policy(reps), prefix)
    worker.create_topics()
    per_lead = 2 + CALLS_PER_LEAD
    base = time.time() - 600 * CALLS_PER_LEAD - leads * 0.001 - 120
    records = pipeline_mix(
        worker.topic, prefix.rstrip("."), leads * per_lead, base=base, reps=reps, calls_per_lead=CALLS_PER_LEAD,
        first_call_after=1.0,
    )
    log(f"scrape: {leads:,} leads ({len(records):,} events) over {reps:,} reps")
    produce(bootstrap, records)
    n = len(records)
    del records
    out: dict = {"reps": reps, "leads": leads, "events": n}
    worker.start()
    try:
        out["ready_seconds"], _ = worker.wait_ready_phases(timeout=300)
        t_ready = time.perf_counter()
        reached, _ = worker.wait_counted(n, timeout, poll=2.0, log=log, every=60)
        out["ingest_seconds"] = reached - t_ready
        out["settle_seconds"] = worker.wait_idle(timeout=900)
        out["rss_mib"] = worker.rss_mib()
        out["cost"] = scrape_cost(worker, scrapes)
        c = out["cost"]
        log(
            f"  one scrape: {ms(c['cpu_ms'] / 1000)} worker CPU, {ms(c['wall_ms'] / 1000)} wall, "
            f"{fmt(c['bytes'] / 1024)} KiB, {c['lines']:,} lines"
        )
        out.update(asyncio.run(_latency(bootstrap, worker, probe_seconds, probe_rate, interval, log)))
        out["interval"] = interval
        log(
            f"  breach p99: {ms(out['quiet']['detected']['p99'])} quiet, "
            f"{ms(out['scraping']['detected']['p99'])} while scraping ({out['scraping']['scrapes']} scrapes)"
        )
    finally:
        worker.stop()
    return out


def headline(s: dict) -> dict:
    c = s["cost"]
    return {
        "scrape.reps": s["reps"],
        "scrape.leads": s["leads"],
        "scrape.cpu_ms": c["cpu_ms"],
        "scrape.cpu_ms_max": c["cpu_ms_max"],
        "scrape.wall_ms": c["wall_ms"],
        "scrape.bytes": c["bytes"],
        "scrape.lines": c["lines"],
        "scrape.breach_p99_ms_quiet": 1000 * s["quiet"]["detected"]["p99"],
        "scrape.breach_p99_ms_scraping": 1000 * s["scraping"]["detected"]["p99"],
        "scrape.breach_missing": s["quiet"]["missing"] + s["scraping"]["missing"],
    }


def render(s: dict, h: dict) -> list[str]:
    c = s["cost"]
    q, sc = s["quiet"], s["scraping"]

    def row(name: str, p: dict, scrapes: str) -> list[str]:
        d = p["detected"]
        return [name, f"{p['probes']:,}", ms(d["p50"]), ms(d["p99"]), ms(d["max"]), str(p["missing"]), scrapes,
                pct(p["worker_cpu_share"])]

    per_s = sc.get("scrapes", 0) / sc["scrape_seconds"] if sc.get("scrape_seconds") else float("nan")
    how = "back to back" if not s.get("interval") else f"every {fmt(s['interval'])} s"
    return [
        "## `/metrics` with many reps",
        "",
        f"A worker whose policy lists {s['reps']:,} `[[reps]]` ({TEAMS} teams, {len(ZONES)} time zones) ingested "
        f"{s['leads']:,} leads spread over them ({s['events']:,} events: per lead a `lead-created`, a download, a "
        f"first call one second later and a connected call; {fmt(s['ingest_seconds'])} s from ready), so every rep "
        "has its per-rep series in every window. Once idle (RSS "
        f"{fmt(s['rss_mib'])} MiB), its idle CPU was measured over 5 s "
        f"({pct(c['idle_cpu_per_s'])} of a core), then {c['scrapes']} scrapes were made back to back. Worker CPU "
        "per scrape = its CPU time over them (`/proc`, 10 ms ticks) minus the idle rate × their wall time, "
        "divided by their number.",
        "",
        markdown_table(
            ["worker CPU per scrape", "without subtracting idle", "largest single scrape", "wall per scrape (client)",
             "body", "lines (samples)"],
            [[f"**{ms(c['cpu_ms'] / 1000)}**", ms(c["cpu_ms_raw"] / 1000), ms(c["cpu_ms_max"] / 1000),
              ms(c["wall_ms"] / 1000), f"{fmt(c['bytes'] / 1024)} KiB", f"{c['lines']:,} ({c['samples']:,})"]],
        ),
        "",
        f"Breach emission with and without scrapes: probe leads at {fmt(q['probes'] / q['seconds'])}/s for "
        f"{fmt(q['seconds'])} s (never called; 5 s deadline, no lateness), latency = `detected_at − deadline`, "
        f"first with nobody scraping, then while a thread scraped `/metrics` {how} ({sc.get('scrapes', 0):,} "
        f"scrapes, {fmt(per_s)}/s).",
        "",
        markdown_table(
            ["phase", "probes", "p50", "p99", "max", "missing", "scrapes", "worker CPU"],
            [row("nobody scraping", q, "0"), row("scraping in a loop", sc, f"{sc.get('scrapes', 0):,}")],
        ),
        "",
    ]
