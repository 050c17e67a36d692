"""Throughput (SPEC §9): the same pre-produced input records read three
ways in one run, each timed the same way.

* **raw**: ``AIOKafkaConsumer`` (no group, earliest offset) + ``getmany`` +
  ``stream.service.ingest.decode`` (orjson + pydantic + key check) of every
  record, from the moment the consumer has started until N are decoded; in
  this process. Run first and last; the faster run is the baseline.
* **floor**: ``python -m bench.floor worker`` (bench/floor.py: a bare Faust
  agent with the worker's own Faust settings that decodes each record the
  same way and writes one value per record to a RocksDB table), with its
  own consumer group. Run before and after the worker; the mean is the
  baseline.
* **worker**: ``python -m stream worker``.

The floor and the worker are processes, timed alike: from ``/readyz`` 200
(events already counted then are left out of the count) until *idle*:
``sla_events_total`` (polled on ``/metrics`` once a second) reached N and
the trailing work is done, i.e. the last moment the process's CPU use over a
0.5 s window was above 10 % of a core (sampled from /proc every 0.1 s; idle
once 5 s pass without such a window). CPU per event is the process's CPU
time over that span divided by the events counted in it.
"""

from __future__ import annotations

import asyncio
import math
import pstats
import signal
import sys
import time
from pathlib import Path

from bench.common import (
    events_total,
    fmt,
    markdown_table,
    pct,
    phase_durations,
    profile_group,
    ratio,
    secs,
    us,
)
from bench.harness import Sampler, Worker, floor_worker, policy_toml, scratch_dir, topic_totals, unique_prefix
from bench.workload import pipeline_mix, produce
from stream.adapters.topics import LEAD_INPUTS

POLICY = policy_toml(3600, escalation='[{ at = 0.8, stage = "warning" }, { at = 1.0, stage = "breach" }]')
INPUT_TOPICS = set(LEAD_INPUTS)


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


def timed(proc: Worker, n: int, timeout: float, poll: float = 1.0, log=None) -> dict:
    """Start ``proc`` (a worker or the floor) and time it over the N records
    waiting for it: ready, N counted, idle. Stops it afterwards."""
    with Sampler(proc, interval=0.1) as sampler:
        t_spawn = time.perf_counter()
        proc.start()
        try:
            ready_s, phases = proc.wait_ready_phases(timeout=300)
            t_ready = time.perf_counter()
            threads_ready = proc.thread_cpu()
            at_ready = proc.counted()
            reached, polls = proc.wait_counted(n, timeout, poll=poll, log=log)
            t_end = sampler.wait_idle(reached, timeout=min(timeout, 600))
            threads_end = proc.thread_cpu()
            m = proc.scrape()
            rss = proc.rss_mib()
        finally:
            proc.stop()
    events = n - at_ready
    cpu = sampler.cpu_at(t_end) - sampler.cpu_at(t_ready)
    main_thread = threads_end.get(proc.pid, 0.0) - threads_ready.get(proc.pid, 0.0)
    threads_total = sum(v - threads_ready.get(tid, 0.0) for tid, v in threads_end.items())
    return {
        "events": n,
        "counted_at_ready": at_ready,
        "events_timed": events,
        "ready_seconds": ready_s,
        "phases": phases,
        "counted_seconds": reached - t_ready,
        "idle_seconds": t_end - t_ready,
        "trailing_seconds": t_end - reached,
        "never_idle": sampler.timed_out,
        "spawn_to_idle_seconds": t_end - t_spawn,
        "rate": events / (t_end - t_ready) if events > 0 else math.nan,
        "rate_counted": events / (reached - t_ready) if events > 0 and reached > t_ready else math.nan,
        "cpu_seconds": cpu,
        "cpu_per_event": cpu / events if events > 0 else math.nan,
        "cpu_share": cpu / (t_end - t_ready) if t_end > t_ready else math.nan,
        "main_thread_share": main_thread / threads_total if threads_total > 0 else math.nan,
        "threads": len(threads_end),
        "rss_mib": rss,
        "peak_rss_mib": sampler.peak_rss(),
        "invalid": events_total(m, results=("invalid",)),
        "duplicate": events_total(m, results=("duplicate",)),
        "polls": [(t - t_ready, c) for t, c in polls],
    }


def run(
    bootstrap: str, workdir: Path, events: int, timeout: float = 3600, profile_events: int = 0, log=print
) -> dict:
    prefix = unique_prefix("tp")
    app_id = f"{prefix}app".replace(".", "-")
    worker = Worker(bootstrap, scratch_dir(workdir, "throughput"), POLICY, prefix)
    worker.create_topics()
    records = pipeline_mix(worker.topic, prefix.rstrip("."), events, base=time.time() - 2000)
    n = len(records)
    log(f"throughput: producing {n:,} events to {prefix}*")
    t0 = time.perf_counter()
    produce(bootstrap, records)
    produce_s = time.perf_counter() - t0
    del records
    topics = {worker.topic(name): name for name in LEAD_INPUTS}

    def floor(i: int) -> dict:
        proc = floor_worker(bootstrap, scratch_dir(workdir, f"floor{i}"), POLICY, prefix, f"{app_id}-floor{i}")
        log(f"throughput: framework floor ({i}/2)")
        out = timed(proc, n, timeout, log=log)
        log(f"  floor: {fmt(out['rate'])} events/s, {us(out['cpu_per_event'])} CPU per event")
        return out

    log("throughput: raw aiokafka consume+decode loop (1/2)")
    raw1 = raw_loop(bootstrap, topics, n)
    log(f"  raw: {raw1['rate']:,.0f} events/s")
    floor1 = floor(1)
    log("throughput: worker")
    w = timed(worker, n, timeout, log=log)
    log(
        f"  worker: {fmt(w['rate'])} events/s until idle ({secs(w['idle_seconds'])}; "
        f"N counted after {secs(w['counted_seconds'])}), {us(w['cpu_per_event'])} CPU per event"
    )
    written = {k: v for k, v in topic_totals(bootstrap, prefix).items() if "-floor" not in k}
    floor2 = floor(2)
    log("throughput: raw aiokafka consume+decode loop (2/2)")
    raw2 = raw_loop(bootstrap, topics, n)
    log(f"  raw: {raw2['rate']:,.0f} events/s")
    result = {
        "events": n,
        "produce_seconds": produce_s,
        "raw": [raw1, raw2],
        "floor": [floor1, floor2],
        "worker": w,
        "prefix": prefix,
        "app_id": app_id,
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
    # SIGTERM (what ``timed`` ends with) lets Faust shut down and cProfile write its file.
    w = timed(worker, len(records), timeout=1800)
    if not out.exists():
        return {"worker": w, "summary": None, "path": str(out)}
    return {"worker": w, "summary": profile_summary(out), "path": str(out)}


# -- results ---------------------------------------------------------------------
def headline(t: dict) -> dict:
    """The flat keys of docs/benchmarks.json."""
    w = t["worker"]
    raw = max(t["raw"], key=lambda r: r["rate"])
    floors = [f["rate"] for f in t["floor"] if not math.isnan(f["rate"])]
    floor_rate = sum(floors) / len(floors) if floors else math.nan
    floor_cpu = [f["cpu_per_event"] for f in t["floor"] if not math.isnan(f["cpu_per_event"])]
    return {
        "throughput.events": t["events"],
        "throughput.events_per_second": w["rate"],
        "throughput.events_per_second_counted": w["rate_counted"],
        "throughput.trailing_seconds": w["trailing_seconds"],
        "throughput.ratio_to_floor": ratio(w["rate"], floor_rate),
        "throughput.ratio_to_raw": ratio(w["rate"], raw["rate"]),
        "throughput.cpu_us_per_event": 1e6 * w["cpu_per_event"],
        "floor.events_per_second": floor_rate,
        "floor.cpu_us_per_event": 1e6 * sum(floor_cpu) / len(floor_cpu) if floor_cpu else math.nan,
        "raw.events_per_second": raw["rate"],
        "raw.cpu_us_per_event": 1e6 * min(r["cpu_seconds"] / r["events"] for r in t["raw"]),
    }


def render(t: dict, h: dict) -> list[str]:
    w = t["worker"]

    def proc_row(name: str, x: dict) -> list[str]:
        return [
            name,
            f"{x['events_timed']:,.0f} (+{x['counted_at_ready']:,.0f} before ready)",
            secs(x["ready_seconds"]),
            secs(x["counted_seconds"]),
            secs(x["idle_seconds"]),
            fmt(x["rate"]),
            us(x["cpu_per_event"]),
            pct(x["cpu_share"]),
            fmt(x["peak_rss_mib"]),
        ]

    def raw_row(name: str, r: dict) -> list[str]:
        per_event = us(r["cpu_seconds"] / r["events"])
        return [name, f"{r['events']:,}", "—", secs(r["seconds"]), "—", fmt(r["rate"]), per_event, "—", "—"]

    rows = [
        raw_row("raw loop (1)", t["raw"][0]),
        proc_row("floor (1)", t["floor"][0]),
        proc_row("**worker**", w),
        proc_row("floor (2)", t["floor"][1]),
        raw_row("raw loop (2)", t["raw"][1]),
    ]
    out = [
        "## Throughput",
        "",
        f"{t['events']:,} valid events (per lead: a `lead-created`, a `content-downloaded` and three "
        "`call-attempt`s, the last one connected; 200 owners; `bench/workload.py` `pipeline_mix`) were produced "
        f"to 8-partition topics before anything read them ({secs(t['produce_seconds'])}). Policy: "
        "`workable_threshold = 0`, `deadline_seconds = 3600`, `business_hours = false`, so every lead opens a "
        "clock that its first call stops and no stage falls due during the run. The same records were then "
        "read five times, in this order:",
        "",
        "* **raw**: an `AIOKafkaConsumer` without a group reading the input topics from the earliest offset "
        "with `getmany`, calling `stream.service.ingest.decode` (orjson + pydantic `model_validate` + key "
        "check) on every record, in the benchmark's own process; timed from the moment the consumer has "
        "started until all N are decoded. The faster of the two runs is the baseline (the physical limit).",
        "* **framework floor**: `python -m bench.floor worker -l info` (`bench/floor.py`): a bare Faust agent "
        "with the worker's own Faust settings (`stream.bootstrap.faust_app`) that decodes each record the same "
        "way and writes it to a RocksDB-backed table (with its changelog), under its own consumer group. The "
        "mean of the two runs, one before and one after the worker, is the baseline.",
        "* **worker**: `python -m stream worker -l info` (RocksDB store, 8 partitions, fresh app id).",
        "",
        "The floor and the worker are timed alike: from `/readyz` 200 (events they had counted by then are "
        "left out) until **idle**: `sla_events_total` (over ok/duplicate/invalid, `/metrics` polled once a "
        "second, the crossing interpolated) reached N *and* the trailing work is done — the last moment the "
        "process's CPU over a 0.5 s window was above 10 % of a core (CPU time sampled from `/proc` every "
        "0.1 s; judged idle once 5 s pass without such a window). For the worker that includes the internal "
        "topics (`sla-emitted`, segment statistics, the changelog). CPU per event is the process's CPU time "
        "over that span (all threads) divided by the events counted in it.",
        "",
        markdown_table(
            [
                "run",
                "events timed",
                "spawn → ready",
                "until N counted",
                "until idle",
                "events/s (until idle)",
                "CPU per event",
                "CPU (of one core)",
                "peak RSS (MiB)",
            ],
            rows,
        ),
        "",
        f"Worker / floor: **{fmt(h['throughput.ratio_to_floor'])}** (SPEC target ≥ 0.8); worker / raw: "
        f"{fmt(h['throughput.ratio_to_raw'])}. Counted only until N was reached (before its trailing work), "
        f"the worker did {fmt(w['rate_counted'])} events/s; the trailing work took {secs(w['trailing_seconds'])}. "
        f"CPU per event: worker {us(w['cpu_per_event'])}, floor {fmt(h['floor.cpu_us_per_event'])} µs, raw "
        f"{fmt(h['raw.cpu_us_per_event'])} µs "
        f"({fmt(ratio(h['throughput.cpu_us_per_event'], h['floor.cpu_us_per_event']))}× "
        f"the floor's). {pct(w['main_thread_share'])} of the worker's CPU was on its main thread (the event "
        f"loop; {w['threads']} threads in all). Invalid: {w['invalid']:,.0f}, duplicate: {w['duplicate']:,.0f}.",
    ]
    never = [name for name, x in (("worker", w), ("floor (1)", t["floor"][0]), ("floor (2)", t["floor"][1]))
             if x.get("never_idle")]
    if never:
        out += ["", f"**Not idle within 600 s after N was counted: {', '.join(never)}**; its time ends at its last "
                "busy moment within those 600 s."]
    if w.get("phases"):
        phases = "; ".join(f"{r} {fmt(d, 2)} s" for r, _, d in phase_durations(w["phases"], w["ready_seconds"]))
        out += ["", f"Worker start-up phases (`/readyz` reasons): {phases}."]
    topics = t.get("topics") or {}
    if topics:
        inputs = sum(v for k, v in topics.items() if k in INPUT_TOPICS)
        written = {k: v for k, v in topics.items() if k not in INPUT_TOPICS and v}
        ordered = sorted(written.items(), key=lambda kv: -kv[1])
        app_id = t.get("app_id") or f"{t['prefix']}app".replace(".", "-")
        rows = [[f"`{k.replace(app_id, '<app id>')}`", f"{v:,}", fmt(v / max(1, inputs))] for k, v in ordered]
        out += [
            "",
            f"What the worker wrote while handling the {inputs:,} input records (end offsets of the run's "
            "topics):",
            "",
            markdown_table(["topic (without the run's prefix)", "records", "per input record"], rows),
        ]
    prof = t.get("profile")
    if prof and prof.get("summary"):
        out += profile_section(prof)
    out.append("")
    return out


def profile_section(prof: dict) -> list[str]:
    summ = prof["summary"]
    w = prof["worker"]
    framework = sum(share for g, _, share in summ["groups"] if g in ("faust", "mode", "aiokafka", "asyncio"))
    own = sum(share for g, _, share in summ["groups"] if g.startswith("stream") or g == "schemas")
    prom = sum(share for g, _, share in summ["groups"] if g == "prometheus_client")
    groups = [[g, fmt(t), pct(share)] for g, t, share in summ["groups"][:14]]
    top = [[f"`{x['function']}`", f"{x['calls']:,}", fmt(x["own"]), pct(x["share"])] for x in summ["top"][:12]]
    entry = sorted(summ["entry_points"].items(), key=lambda kv: -kv[1]["cumulative"])
    entries = [[f"`{k}`", f"{v['calls']:,}", fmt(v["cumulative"]), pct(v["share"])] for k, v in entry[:10]]
    return [
        "",
        f"### Where the worker's time goes (cProfile, {w['events']:,} events)",
        "",
        "A second worker over a fresh copy of the same mix, run under `python -m cProfile`, which profiles "
        "the main thread only: the event loop that runs the agents, the sweeper, the producer and the web "
        "server (the main thread's share of the worker's CPU in the timed run is given above). cProfile slows "
        f"everything down ({fmt(w['rate'])} events/s here), so read shares, not seconds.",
        "",
        f"Of the main thread's busy time ({fmt(summ['busy'])} s; it also sat {fmt(summ['idle'])} s in the "
        f"epoll wait), framework code (faust, mode, aiokafka, asyncio) has **{pct(framework)}** as own time, "
        f"this service's code (stream/, schemas/) {pct(own)}, and rendering `/metrics` (polled once a "
        f"second) {pct(prom)}. Cumulative shares below include callees, so they overlap.",
        "",
        markdown_table(["owner", "own time (s)", "share"], groups),
        "",
        "Entry points of this service (cumulative time, callees included):",
        "",
        markdown_table(["function", "calls", "cumulative (s)", "share"], entries),
        "",
        "Functions with the most own time:",
        "",
        markdown_table(["function", "calls", "own (s)", "share"], top),
    ]


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
    "lead_events", "emitted_stages", "rep_records", "put", "apply", "tick", "decode", "metrics", "sweep", "_emit",
    "settle", "rebuild",
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


