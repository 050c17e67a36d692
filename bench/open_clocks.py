"""Open clocks per worker (SPEC §9): one worker ingests N ``lead-created``
events (never called; each opens a response clock due a day later) and its
whole RSS is sampled from /proc every 0.25 s from spawn on, through the
ingestion and until it has settled; the peak is the figure (the target holds
"at every moment"), the RSS once idle is reported beside it. The worker log
is searched for Faust's ``producer buffer full`` warning (expected: none).

The loaded worker is handed on alive (``Loaded``) to the restart section
(bench/restart.py), so a million clocks are ingested once per run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import fmt, markdown_table, phase_durations, secs
from bench.harness import Sampler, Worker, policy_toml, scratch_dir, unique_prefix
from bench.workload import iter_open_leads, produce

DEADLINE = 86_400.0  # due a day after creation: nothing falls due during the run
POLICY = policy_toml(DEADLINE, escalation='[{ at = 1.0, stage = "breach" }]', allowed_lateness_seconds=0)
BUFFER_FULL = r"producer buffer full"


@dataclass
class Loaded:
    """The worker holding the clocks, still running, and its sampler."""

    worker: Worker
    sampler: Sampler
    prefix: str
    run_id: str
    clocks: int
    deadline: float = DEADLINE

    def close(self) -> None:
        try:
            self.worker.stop()
        finally:
            self.sampler.stop()


def run(bootstrap: str, workdir: Path, clocks: int, log=print, timeout: float = 7200) -> tuple[dict, Loaded]:
    prefix = unique_prefix("oc")
    run_id = prefix.rstrip(".")
    worker = Worker(bootstrap, scratch_dir(workdir, "open-clocks"), POLICY, prefix)
    worker.create_topics()
    log(f"open clocks: producing {clocks:,} lead-created events")
    t0 = time.perf_counter()
    produce(bootstrap, iter_open_leads(worker.topic, run_id, clocks, at=time.time() - 60))
    out: dict = {"clocks": clocks, "produce_seconds": time.perf_counter() - t0}
    sampler = Sampler(worker, interval=0.25).start()
    loaded = Loaded(worker, sampler, prefix, run_id, clocks)
    try:
        t_spawn = time.perf_counter()
        worker.start()
        out["ready_seconds"], out["phases"] = worker.wait_ready_phases(timeout=300)
        t_ready = time.perf_counter()
        at_ready = worker.counted()
        log(f"open clocks: worker ready in {secs(out['ready_seconds'])}; ingesting")
        reached, _ = worker.wait_counted(clocks, timeout, poll=5.0, log=log, every=60)
        idle = sampler.wait_idle(reached, timeout=1800)
        time.sleep(1.0)
        m = worker.scrape()
        t_end = time.perf_counter()
    except BaseException:
        loaded.close()
        raise
    out.update(
        {
            "counted_at_ready": at_ready,
            "ingest_seconds": reached - t_ready,
            "spawn_to_counted_seconds": reached - t_spawn,
            "events_per_second": (clocks - at_ready) / (reached - t_ready) if reached > t_ready else math.nan,
            "settle_seconds": idle - reached,
            "cpu_seconds": sampler.cpu_at(idle) - sampler.cpu_at(t_spawn),
            "open": m.get(("sla_open_response_clocks", ()), math.nan),
            "rss_peak_mib": sampler.peak_rss(t_spawn, t_end),
            "rss_peak_ingest_mib": sampler.peak_rss(t_spawn, reached),
            "rss_idle_mib": worker.rss_mib(),
            "buffer_full_warnings": worker.log_count(BUFFER_FULL),
            "rss_timeline": _timeline(sampler.rss_series(t_spawn, t_end), t_spawn, reached, idle),
        }
    )
    log(
        f"open clocks: {clocks:,} ingested in {secs(out['ingest_seconds'])} "
        f"({fmt(out['events_per_second'])}/s), settled {secs(out['settle_seconds'])} later; RSS peak "
        f"{fmt(out['rss_peak_mib'])} MiB, idle {fmt(out['rss_idle_mib'])} MiB; "
        f"{out['buffer_full_warnings']} 'producer buffer full' warnings"
    )
    return out, loaded


def _timeline(series: list[tuple[float, float]], t_spawn: float, reached: float, idle: float, rows: int = 10) -> list:
    """About ``rows`` points of (seconds since spawn, RSS MiB, what): evenly
    spread, plus the peak, the moment N was counted and the moment of idle."""
    if not series:
        return []
    span = series[-1][0] - series[0][0]
    step = span / rows if span > 0 else 1.0
    picked, next_t = [], series[0][0]
    for t, rss in series:
        if t >= next_t:
            picked.append((t, rss, ""))
            next_t = t + step
    peak = max(series, key=lambda x: x[1])
    picked.append((peak[0], peak[1], "peak"))
    for moment, what in ((reached, "all counted"), (idle, "idle")):
        near = min(series, key=lambda x: abs(x[0] - moment))
        picked.append((near[0], near[1], what))
    picked.sort()
    merged: list[list] = []
    for t, rss, what in picked:
        if merged and abs(merged[-1][0] - (t - t_spawn)) < 1e-9:
            merged[-1][2] = ", ".join(x for x in (merged[-1][2], what) if x)
            continue
        merged.append([t - t_spawn, rss, what])
    return merged


def headline(o: dict) -> dict:
    return {
        "open_clocks.clocks": o["clocks"],
        "open_clocks.open": o["open"],
        "open_clocks.rss_mb": o["rss_peak_mib"],
        "open_clocks.rss_idle_mb": o["rss_idle_mib"],
        "open_clocks.ingest_seconds": o["ingest_seconds"],
        "open_clocks.events_per_second": o["events_per_second"],
        "open_clocks.producer_buffer_full": o["buffer_full_warnings"],
    }


def render(o: dict, h: dict) -> list[str]:
    phases = "; ".join(f"{r} {fmt(d, 2)} s" for r, _, d in phase_durations(o.get("phases", []), o["ready_seconds"]))
    rows = [[fmt(t), fmt(rss), what] for t, rss, what in o.get("rss_timeline", [])]
    return [
        "## Open clocks per worker",
        "",
        f"{o['clocks']:,} `lead-created` events (one lead each, 200 owners, never called; a plain-time policy "
        f"with `deadline_seconds = {fmt(DEADLINE)}`, so every lead holds an open response clock and none falls "
        f"due) were produced ({secs(o['produce_seconds'])}) before one worker started. Spawn → ready "
        f"{secs(o['ready_seconds'])} ({phases}); from ready, all were counted in **{secs(o['ingest_seconds'])}** "
        f"({fmt(o['events_per_second'])} events/s; {fmt(o['counted_at_ready'])} before ready), and the worker was "
        f"idle {secs(o['settle_seconds'])} later. It then reported {fmt(o['open'])} open clocks "
        "(`sla_open_response_clocks`).",
        "",
        "Whole-worker RSS (`VmRSS` of the process, all threads, RocksDB's memory included) sampled every "
        f"0.25 s from spawn until idle: **peak {fmt(o['rss_peak_mib'])} MiB** (during ingestion "
        f"{fmt(o['rss_peak_ingest_mib'])} MiB), {fmt(o['rss_idle_mib'])} MiB idle afterwards. The same worker "
        "then goes on to the restart section, whose restarts are sampled too. Worker CPU from spawn to idle: "
        f"{fmt(o['cpu_seconds'])} s. `producer buffer full` warnings in its log: "
        f"**{o['buffer_full_warnings']}**.",
        "",
        markdown_table(["seconds since spawn", "RSS (MiB)", ""], rows),
        "",
    ]
