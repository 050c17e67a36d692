"""Throughput: one worker over N pre-produced events vs a raw aiokafka
consume + decode loop over the same topics, in the same run.

Raw: ``AIOKafkaConsumer`` (no group, from the earliest offset) + ``getmany``
+ ``stream.service.ingest.decode`` (orjson + pydantic ``model_validate``) of
every record, timed from the moment the consumer has started until N records
are decoded. Worker: ``python -m stream worker`` started after the events
are in Kafka, timed from ``/readyz`` 200 until the sum of
``sla_events_total`` over ok/duplicate/invalid reaches N (``/metrics`` polled).
"""

from __future__ import annotations

import asyncio
import pstats
import signal
import sys
import time
from pathlib import Path

from bench.common import events_total, profile_group
from bench.harness import Worker, policy_toml, scratch_dir, topic_totals, unique_prefix
from bench.workload import pipeline_mix, produce
from stream.adapters.topics import LEAD_INPUTS

POLICY = policy_toml(3600, escalation='[{ at = 0.8, stage = "warning" }, { at = 1.0, stage = "breach" }]')


async def _raw(bootstrap: str, topics: dict[str, str], n: int, timeout: float) -> dict:
    from aiokafka import AIOKafkaConsumer

    from stream.service.ingest import Rejected, decode

    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        cpu0, t0 = time.process_time(), time.perf_counter()
        count = invalid = 0
        while count < n and time.perf_counter() - t0 < timeout:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, records in batch.items():
                contract = topics[tp.topic]
                for r in records:
                    if isinstance(decode(contract, r.key, r.value), Rejected):
                        invalid += 1
                    count += 1
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
    finally:
        await consumer.stop()
    return {"events": count, "invalid": invalid, "seconds": seconds, "cpu_seconds": cpu, "rate": count / seconds}


def raw_loop(bootstrap: str, topics: dict[str, str], n: int, timeout: float = 600) -> dict:
    return asyncio.run(_raw(bootstrap, topics, n, timeout))


def run_worker(worker: Worker, n: int, timeout: float, poll: float = 1.0, measure_scrape: bool = True) -> dict:
    worker.start()
    cpu_start = worker.cpu()
    ready_s, phases = worker.wait_ready_phases(timeout=300)
    t_ready = time.perf_counter()
    cpu_ready = worker.cpu()
    threads_ready = worker.thread_cpu()
    first = events_total(worker.scrape())
    samples = [(0.0, first)]
    count = first
    while count < n:
        if time.perf_counter() - t_ready > timeout:
            raise RuntimeError(f"worker processed {count} of {n} events in {timeout}s:\n{worker.tail()}")
        time.sleep(poll)
        count = events_total(worker.scrape())
        samples.append((time.perf_counter() - t_ready, count))
    (t_prev, c_prev), (t_cur, c_cur) = samples[-2], samples[-1]
    # Interpolate the moment N was reached between the last two scrapes.
    seconds = t_prev + (t_cur - t_prev) * (n - c_prev) / (c_cur - c_prev) if c_cur > c_prev else t_cur
    cpu_end = worker.cpu()
    threads_end = worker.thread_cpu()
    by_thread = sorted((v - threads_ready.get(tid, 0.0) for tid, v in threads_end.items()), reverse=True)
    main_thread = threads_end.get(worker.pid, 0.0) - threads_ready.get(worker.pid, 0.0)
    m = worker.scrape()
    rss = worker.rss_mib()
    scrape = scrape_cost(worker) if measure_scrape else None
    return {
        "events": n,
        "seconds": seconds,
        "rate": n / seconds,
        "done_at_ready": first,
        "rate_after_ready": (n - first) / seconds,
        "ready_seconds": ready_s,
        "phases": phases,
        "cpu_seconds": cpu_end - cpu_ready,
        "cpu_before_ready": cpu_ready - cpu_start,
        "cpu_main_thread": main_thread,
        "cpu_other_threads": by_thread,
        "threads": len(threads_end),
        "rss_mib": rss,
        "invalid": events_total(m, results=("invalid",)),
        "duplicate": events_total(m, results=("duplicate",)),
        "samples": samples,
        "scrape": scrape,
    }


def scrape_cost(worker: Worker, times: int = 10) -> dict:
    """What one /metrics scrape costs the (now idle) worker: wall time seen
    by the client, worker CPU per scrape (idle CPU included), body size."""
    # Wait for the trailing work (internal topics) to finish first.
    settle = worker.wait_idle(timeout=120)
    idle0 = worker.cpu()
    time.sleep(2.0)
    idle_per_s = (worker.cpu() - idle0) / 2.0
    cpu0, t0 = worker.cpu(), time.perf_counter()
    size = 0
    for _ in range(times):
        size = len(worker.get("/metrics")[1])
    wall = time.perf_counter() - t0
    cpu = worker.cpu() - cpu0 - idle_per_s * wall
    return {
        "wall_ms": 1000 * wall / times,
        "cpu_ms": 1000 * cpu / times,
        "bytes": size,
        "idle_cpu_per_s": idle_per_s,
        "settle_seconds": settle,
    }


def profile_summary(path: Path, limit: int = 15) -> dict:
    """Own time in a cProfile dump by owner (package / module group), the
    functions with the most own time, and the cumulative time of a few entry
    points of this service. Shares are of the *busy* time: the epoll wait
    (the event loop idle) is left out and reported on its own."""
    stats = pstats.Stats(str(path)).stats
    groups: dict[str, float] = {}
    for (filename, _, name), v in stats.items():
        g = profile_group(filename, name)
        groups[g] = groups.get(g, 0.0) + v[2]
    idle = groups.pop(IDLE, 0.0)
    busy = sum(groups.values()) or 1.0
    busy_stats = [kv for kv in stats.items() if profile_group(kv[0][0], kv[0][2]) != IDLE]
    top = sorted(busy_stats, key=lambda kv: -kv[1][2])[:limit]
    entry = {}
    for (filename, _, name), v in stats.items():
        if "/stream/" in filename and name in ENTRY_POINTS:
            key = f"{filename.split('/stream/', 1)[1]}:{name}"
            entry[key] = {"calls": v[1], "cumulative": v[3], "share": v[3] / busy}
    return {
        "busy": busy,
        "idle": idle,
        "groups": sorted(((g, t, t / busy) for g, t in groups.items()), key=lambda x: -x[1]),
        "top": [
            {
                "function": f"{_short(f)}:{line}({name})",
                "calls": v[1],
                "own": v[2],
                "share": v[2] / busy,
                "cumulative": v[3],
            }
            for (f, line, name), v in top
        ],
        "entry_points": entry,
    }


IDLE = "C: epoll wait"
ENTRY_POINTS = {
    "lead_events", "sla_ticks", "store", "publish", "apply", "observe", "decode", "metrics", "fold", "sweep"
}


def _short(filename: str) -> str:
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1]
    if "/work/" in filename or "/stream/" in filename:
        for top in ("stream/", "schemas/"):
            if f"/{top}" in filename:
                return filename[filename.index(f"/{top}") + 1 :]
    if "/lib/python" in filename:
        return filename.split("/lib/", 1)[1]
    return filename


def run(
    bootstrap: str, workdir: Path, events: int, timeout: float = 900, profile_events: int = 0, log=print
) -> dict:
    prefix = unique_prefix("tp")
    wdir = scratch_dir(workdir, "throughput")
    worker = Worker(bootstrap, wdir, POLICY, prefix)
    worker.create_topics()
    topic = worker.topic
    records = pipeline_mix(topic, prefix.rstrip("."), events, base=time.time() - 2000)
    n = len(records)
    log(f"throughput: producing {n:,} events to {prefix}*")
    t0 = time.perf_counter()
    produce(bootstrap, records)
    produce_s = time.perf_counter() - t0
    del records
    topics = {topic(name): name for name in LEAD_INPUTS}
    log("throughput: raw aiokafka consume+decode loop (1/2)")
    raw1 = raw_loop(bootstrap, topics, n)
    log(f"  raw: {raw1['rate']:,.0f} events/s")
    log("throughput: worker")
    try:
        w = run_worker(worker, n, timeout)
    finally:
        worker.stop()
    log(f"  worker: {w['rate']:,.0f} events/s ({w['seconds']:.1f} s)")
    written = topic_totals(bootstrap, prefix)
    log("throughput: raw aiokafka consume+decode loop (2/2)")
    raw2 = raw_loop(bootstrap, topics, n)
    log(f"  raw: {raw2['rate']:,.0f} events/s")
    result = {
        "events": n,
        "produce_seconds": produce_s,
        "raw": [raw1, raw2],
        "worker": w,
        "prefix": prefix,
        "topics": written,
    }
    if profile_events:
        result["profile"] = run_profile(bootstrap, workdir, n=profile_events, log=log)
    return result


def run_profile(bootstrap: str, workdir: Path, n: int, log=print) -> dict:
    """The worker under cProfile over a smaller, fresh copy of the workload."""
    prefix = unique_prefix("pf")
    wdir = scratch_dir(workdir, "profile")
    out = wdir / "worker.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "stream", "worker", "-l", "info"]
    worker = Worker(bootstrap, wdir, POLICY, prefix, command=cmd)
    worker.create_topics()
    records = pipeline_mix(worker.topic, prefix.rstrip("."), n, base=time.time() - 2000)
    produce(bootstrap, records)
    log(f"throughput: worker under cProfile over {len(records):,} events")
    try:
        w = run_worker(worker, len(records), timeout=900, measure_scrape=False)
    finally:
        # SIGTERM lets Faust shut down and cProfile write its file.
        if worker.proc and worker.proc.poll() is None:
            worker.proc.send_signal(signal.SIGTERM)
            try:
                worker.proc.wait(60)
            except Exception:  # noqa: BLE001
                worker.kill()
    if not out.exists():
        return {"worker": w, "summary": None, "path": str(out)}
    return {"worker": w, "summary": profile_summary(out), "path": str(out)}
