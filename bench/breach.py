"""Breach latency: ``detected_at - deadline`` of breach events under load.

A worker with a 5 s plain-time deadline, no lateness and a single ``breach``
stage. A probe phase runs for ``seconds``: *probe* leads created at a steady
rate and never called, plus other traffic (leads called a second after
creation, and downloads). That is the baseline, with no other open clocks.
Then ``clocks`` leads are created at once and never called (they all fall due
together: the *burst*). Once their breaches are out and the worker is idle
again, those clocks stay open (uncontacted; their attempt-cadence wakeups lie
days ahead), and the same probe phase runs again. The headline figure is the
probes' latency in that second phase: clocks falling due one by one while the
index holds ``clocks`` open clocks and traffic flows. The
``sla_timer_lag_seconds`` histogram is read before and after each phase.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from datetime import datetime
from pathlib import Path

import orjson

from bench.common import (
    fmt,
    histogram_buckets,
    histogram_delta,
    histogram_quantile,
    markdown_table,
    ms,
    pct,
    secs,
    summarize,
)
from bench.harness import Worker, policy_toml, scratch_dir, unique_prefix
from bench.workload import call, download, lead_created, open_leads, produce_async, rep_id

DEADLINE = 5.0
POLICY = policy_toml(DEADLINE, escalation='[{ at = 1.0, stage = "breach" }]', allowed_lateness_seconds=0)


def _instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def latencies(breaches: list[tuple[float, dict]], lead_prefix: str) -> tuple[list[float], list[float]]:
    """(detected_at - deadline, received - deadline) in seconds of the
    first_response breach events of leads whose id starts with ``lead_prefix``."""
    detected, received = [], []
    for seen, b in breaches:
        if b.get("breach_type") != "first_response" or b.get("stage") != "breach":
            continue
        if not str(b.get("lead_id", "")).startswith(lead_prefix):
            continue
        due = _instant(b["deadline"])
        detected.append(_instant(b["detected_at"]) - due)
        received.append(seen - due)
    return detected, received


async def _watch(bootstrap: str, topic: str, out: list, stop: asyncio.Event) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", fetch_max_wait_ms=50
    )
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for records in batch.values():
                out.extend((now, orjson.loads(r.value)) for r in records)
    finally:
        await consumer.stop()


async def _trickle(
    bootstrap: str,
    worker: Worker,
    tag: str,
    seconds: float,
    probe_rate: float,
    other_rate: float,
) -> tuple[int, int]:
    """Probes (never called) and other traffic at steady rates, event time =
    now; returns (probes, other events) sent. Lead ids start with ``tag``.
    Other traffic, per lead: created, called a second later, and a download
    on an earlier such lead."""
    from aiokafka import AIOKafkaProducer

    rng = random.Random(5)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    await producer.start()
    probes = sent = k = 0
    tick = 0.05
    start = time.time()

    async def send(topic: str, lid: str, value: dict) -> None:
        await producer.send(worker.topic(topic), key=lid.encode(), value=orjson.dumps(value))

    try:
        while time.time() - start < seconds:
            t = time.time()
            for _ in range(max(0, int((t - start) * probe_rate) - probes)):
                lid = f"{tag}P{probes:06d}"
                owner = rep_id(rng.randrange(200))
                await send("lead-created", lid, lead_created(lid, time.time(), owner, rng, f"{lid}-c"))
                probes += 1
            for _ in range(max(0, int((t - start) * other_rate) - k)):
                lid = f"{tag}B{k:07d}"
                now = time.time()
                rep = rep_id(rng.randrange(200))
                await send("lead-created", lid, lead_created(lid, now, rep, rng, f"{lid}-c"))
                await send("call-attempt", lid, call(lid, now + 1, rep, "connected", f"{lid}-a"))
                sent += 2
                if k:
                    oid = f"{tag}B{rng.randrange(k):07d}"
                    await send("content-downloaded", oid, download(oid, now, "ebook", f"{oid}-d{k}"))
                    sent += 1
                k += 1
            await asyncio.sleep(max(0.0, tick - (time.time() - t)))
        await producer.flush()
    finally:
        await producer.stop()
    return probes, sent


async def _probe_phase(
    bootstrap: str,
    worker: Worker,
    tag: str,
    breaches: list,
    seconds: float,
    probe_rate: float,
    other_rate: float,
    log,
) -> dict:
    before = await asyncio.to_thread(worker.scrape)
    open_clocks = before.get(("sla_open_response_clocks", ()), float("nan"))
    log(
        f"  {seconds:.0f} s of probes at {probe_rate:g}/s + other traffic at {other_rate:g} leads/s "
        f"with {open_clocks:,.0f} open clocks"
    )
    cpu0 = worker.cpu()
    probes, other = await _trickle(bootstrap, worker, tag, seconds, probe_rate, other_rate)
    cpu_s = worker.cpu() - cpu0
    # The last probes' breaches fall due DEADLINE s after they were created.
    wait_until = time.perf_counter() + DEADLINE + 30
    while time.perf_counter() < wait_until:
        if len(latencies(breaches, f"{tag}P")[0]) >= probes:
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(1.0)
    after = await asyncio.to_thread(worker.scrape)
    delta = histogram_delta(
        histogram_buckets(after, "sla_timer_lag_seconds", breach_type="first_response"),
        histogram_buckets(before, "sla_timer_lag_seconds", breach_type="first_response"),
    )
    detected, received = latencies(breaches, f"{tag}P")
    return {
        "open_clocks": open_clocks,
        "seconds": seconds,
        "probes": probes,
        "other_events": other,
        "detected": summarize(detected),
        "received": summarize(received),
        "missing": probes - len(detected),
        "worker_cpu_share": cpu_s / seconds,
        "timer_lag_hist": {
            "count": delta[-1][1] if delta else 0,
            "p50": histogram_quantile(delta, 0.5),
            "p99": histogram_quantile(delta, 0.99),
            "buckets": delta,
        },
        # Leads called one second after creation: a breach here means the call
        # was read after the deadline had passed (then a retraction follows).
        "called_breached": sum(
            1 for _, b in breaches if str(b.get("lead_id", "")).startswith(f"{tag}B") and b.get("stage") == "breach"
        ),
        "called_retracted": sum(
            1 for _, b in breaches if str(b.get("lead_id", "")).startswith(f"{tag}B") and b.get("stage") == "retracted"
        ),
    }


async def _scenario(
    bootstrap: str, worker: Worker, clocks: int, seconds: float, probe_rate: float, other_rate: float, log
) -> dict:
    run = worker.prefix.rstrip(".")
    breaches: list[tuple[float, dict]] = []
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(bootstrap, worker.topic("sla-breaches"), breaches, stop))
    try:
        log("  baseline: no open clocks but the probes' own")
        baseline = await _probe_phase(
            bootstrap, worker, f"{run}-base-", breaches, seconds, probe_rate, other_rate, log
        )
        load = open_leads(worker.topic, run, clocks, at=time.time())
        t0 = time.perf_counter()
        await produce_async(bootstrap, load)
        log(f"  burst: {clocks:,} leads produced in {time.perf_counter() - t0:.1f} s; waiting for their breaches")
        del load
        while True:
            if len(latencies(breaches, f"{run}-O")[0]) >= clocks:
                break
            if time.perf_counter() - t0 > 900:
                raise RuntimeError(f"burst: not all of {clocks} breaches after 900 s")
            await asyncio.sleep(1.0)
        burst_s = time.perf_counter() - t0
        # The internal topics (segment evidence, changelogs) trail the burst:
        # measure the steady state, not that backlog.
        settle_s = await asyncio.to_thread(worker.wait_idle)
        log(f"  burst breaches out after {burst_s:.1f} s; worker idle {settle_s:.1f} s later")
        loaded = await _probe_phase(
            bootstrap, worker, f"{run}-load-", breaches, seconds, probe_rate, other_rate, log
        )
    finally:
        stop.set()
        await watcher
    burst_detected, burst_received = latencies(breaches, f"{run}-O")
    return {
        "clocks": clocks,
        "burst_seconds": burst_s,
        "settle_seconds": settle_s,
        "burst_detected": summarize(burst_detected),
        "burst_received": summarize(burst_received),
        "baseline": baseline,
        "loaded": loaded,
    }


def run(
    bootstrap: str, workdir: Path, clocks: int, seconds: float, probe_rate: float, other_rate: float, log=print
) -> dict:
    prefix = unique_prefix("br")
    worker = Worker(bootstrap, scratch_dir(workdir, "breach"), POLICY, prefix)
    worker.create_topics()
    log(f"breach latency: worker with a {DEADLINE:g} s deadline, {clocks:,} open clocks")
    worker.start()
    try:
        worker.wait_ready_phases(timeout=300)
        result = asyncio.run(_scenario(bootstrap, worker, clocks, seconds, probe_rate, other_rate, log))
        result["rss_mib"] = worker.rss_mib()
    finally:
        worker.stop()
    return result


def headline(b: dict) -> dict:
    loaded, base = b["loaded"], b["baseline"]
    return {
        "breach_latency.open_clocks": loaded["open_clocks"],
        "breach_latency.p50_ms": 1000 * loaded["detected"]["p50"],
        "breach_latency.p99_ms": 1000 * loaded["detected"]["p99"],
        "breach_latency.max_ms": 1000 * loaded["detected"]["max"],
        "breach_latency.baseline_p99_ms": 1000 * base["detected"]["p99"],
        "breach_latency.missing": loaded["missing"] + base["missing"],
    }


def render(b: dict, h: dict) -> list[str]:
    def row(name: str, phase: dict) -> list[str]:
        det, rec, hist = phase["detected"], phase["received"], phase["timer_lag_hist"]
        return [
            name,
            fmt(int(phase["open_clocks"])),
            f"{phase['probes']:,}",
            ms(det["p50"]),
            ms(det["p99"]),
            ms(det["max"]),
            ms(rec["p99"]),
            f"{ms(hist['p50'])} / {ms(hist['p99'])}",
            pct(phase["worker_cpu_share"]),
        ]

    base, loaded = b["baseline"], b["loaded"]
    bd = b["burst_detected"]
    rate = loaded["other_events"] / loaded["seconds"] + loaded["probes"] / loaded["seconds"]
    return [
        "## Steady breach latency",
        "",
        "A worker with `deadline_seconds = 5`, `business_hours = false`, `allowed_lateness_seconds = 0` and "
        'a single stage `[{at = 1.0, stage = "breach"}]`. A reader on `sla-breaches` notes when each breach '
        "arrives. Latency is `detected_at − deadline` of each breach event (the emission time minus the due "
        "time, SPEC §9); *received* is the reader's clock minus the deadline (same machine, same clock).",
        "",
        f"1. **baseline**: for {fmt(base['seconds'])} s, *probe* leads created at a steady rate "
        f"({fmt(base['probes'] / base['seconds'])}/s) and never called, plus other traffic: leads created, "
        "called one second later and sent a download, "
        f"{fmt(base['other_events'] / base['seconds'])} events/s; no other clocks open.",
        f"2. **burst**: {b['clocks']:,} leads created at once and never called; all fall due about together. "
        f"Their breaches took {secs(b['burst_seconds'])} to all come out: p50 {secs(bd['p50'])}, p99 "
        f"{secs(bd['p99'])}, max {secs(bd['max'])} late. This is a backlog test, not the target: leads the worker "
        "had not yet ingested when they fell due breach on ingestion. The worker was busy for another "
        f"{secs(b.get('settle_seconds', math.nan))} with the internal topics that trail such a burst (segment "
        "evidence, changelogs); the next phase starts once it is idle.",
        f"3. **loaded**: the burst's {b['clocks']:,} clocks stay open (uncontacted; their attempt-cadence "
        "wakeups are days away) and the same probe phase runs again — about "
        f"{fmt(rate)} events/s in all.",
        "",
        markdown_table(
            [
                "phase",
                "open clocks",
                "probes",
                "p50",
                "p99",
                "max",
                "received p99",
                "`sla_timer_lag_seconds` p50 / p99",
                "worker CPU",
            ],
            [row("baseline", base), row("loaded", loaded)],
        ),
        "",
        f"Missing probe breaches: baseline {base['missing']}, loaded {loaded['missing']}. Leads called one "
        "second after creation that were breached anyway (their call was read after the deadline; a "
        f"`retracted` event follows): baseline {base['called_breached']} "
        f"({base['called_retracted']} retracted), loaded {loaded['called_breached']} "
        f"({loaded['called_retracted']} retracted), of about {fmt(base['other_events'] // 3)} and "
        f"{fmt(loaded['other_events'] // 3)} such leads. The histogram quantiles are Prometheus-style "
        "interpolations inside buckets (…, 0.05, 0.1, 0.25, …), so they are coarser than the exact figures "
        "from the events.",
        "",
    ]
