""""Monday morning" (SPEC §9): N open clocks whose stages fall due in the same second.

N leads are created "over the weekend": their ``lead-created`` events carry
``occurred_at = T - deadline`` (in the past), never called, under a
plain-time policy with ``allowed_lateness_seconds = 0`` and the single stage
``[{at = 1.0, stage = "breach"}]``, so every one of them falls due at the
same instant T. One worker ingests them all well before T and settles
(idle); if that is not done before T the section fails and says how much
later T must be (``--burst-lead-seconds``). Then nothing happens until the
sweeper finds the N stages due at T. For each breach event of those leads
the emission lag is the Kafka record's timestamp (CreateTime, set by the
worker's producer when it sent the event) minus the breach's ``deadline``
field (its due time: T). Every stage must be emitted: ``burst.emitted`` counts
the distinct leads with a breach event and must equal N.
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime
from pathlib import Path

import orjson

from bench.common import fmt, markdown_table, phase_durations, secs, summarize
from bench.harness import BenchError, Sampler, Worker, policy_toml, scratch_dir, unique_prefix
from bench.workload import iter_open_leads, produce

DEADLINE = 86_400.0  # the leads were created a day before T
MARGIN = 2.0  # seconds the worker must be idle before T


def auto_lead_seconds(clocks: int) -> float:
    """How long before T the run starts producing: time to produce, ingest
    and settle N lead-created events, with room to spare."""
    return 120.0 + clocks / 300.0


def _instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


async def _end_total(consumer, tps) -> int:
    ends = await consumer.end_offsets(tps)
    return sum(ends.values())


async def _wait_records(
    bootstrap: str, topic: str, partitions: int, want: int, timeout: float, stall: float
) -> tuple[int, float]:
    """Poll the end offsets of ``topic`` until its partitions hold ``want``
    records, ``timeout`` passes, or nothing is added for ``stall`` seconds;
    returns (records, seconds waited). Costs the worker nothing."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        t0 = last_change = time.perf_counter()
        total = await _end_total(consumer, tps)
        while total < want and time.perf_counter() - t0 < timeout and time.perf_counter() - last_change < stall:
            await asyncio.sleep(0.5)
            now_total = await _end_total(consumer, tps)
            if now_total != total:
                last_change = time.perf_counter()
            total = now_total
        return total, time.perf_counter() - t0
    finally:
        await consumer.stop()


def breach_lags(records, lead_prefix: str) -> dict:
    """From ``sla-breaches`` records (with ``.timestamp`` in ms and
    ``.value``): per first_response ``breach`` event of leads whose id
    starts with ``lead_prefix``, record timestamp − deadline and detected_at −
    deadline in seconds, the record timestamps, and the distinct leads."""
    lags, detected, stamps, leads, other = [], [], [], set(), 0
    for r in records:
        b = orjson.loads(r.value)
        lead = str(b.get("lead_id", ""))
        if not lead.startswith(lead_prefix):
            continue
        if b.get("breach_type") != "first_response" or b.get("stage") != "breach":
            other += 1
            continue
        due = _instant(b["deadline"])
        stamp = r.timestamp / 1000
        lags.append(stamp - due)
        detected.append(_instant(b["detected_at"]) - due)
        stamps.append(stamp)
        leads.add(lead)
    return {"lags": lags, "detected": detected, "stamps": stamps, "leads": leads, "other_stages": other}


def run(bootstrap: str, workdir: Path, clocks: int, lead_seconds: float | None = None, log=print,
        timeout: float = 3600) -> dict:
    from tests.support.kafka import consume

    lead = lead_seconds if lead_seconds else auto_lead_seconds(clocks)
    deadline = max(DEADLINE, 2 * lead)
    prefix = unique_prefix("mm")
    run_id = prefix.rstrip(".")
    policy = policy_toml(deadline, escalation='[{ at = 1.0, stage = "breach" }]', allowed_lateness_seconds=0)
    worker = Worker(bootstrap, scratch_dir(workdir, "burst"), policy, prefix)
    worker.create_topics()
    t_start = time.time()
    due = float(math.ceil(t_start + lead))
    log(
        f"burst: {clocks:,} leads falling due at T = {datetime.fromtimestamp(due).strftime('%H:%M:%S')} "
        f"({lead:.0f} s from now); producing"
    )
    t0 = time.perf_counter()
    produce(bootstrap, iter_open_leads(worker.topic, run_id, clocks, at=due - deadline))
    out: dict = {
        "clocks": clocks,
        "lead_seconds": lead,
        "deadline_seconds": deadline,
        "produce_seconds": time.perf_counter() - t0,
    }
    topic = worker.topic("sla-breaches")
    with Sampler(worker, interval=0.25) as sampler:
        worker.start()
        try:
            out["ready_seconds"], out["phases"] = worker.wait_ready_phases(timeout=300)
            t_ready = time.perf_counter()
            try:
                reached, _ = worker.wait_counted(clocks, max(1.0, due - MARGIN - time.time()), poll=2.0, log=log)
            except BenchError as exc:
                needed = (time.time() - t_start) * 2 + 60
                raise BenchError(
                    f"burst: the worker had not counted the {clocks:,} leads before T; rerun with a later T: "
                    f"--burst-lead-seconds {max(needed, 2 * lead):.0f} (was {lead:.0f}). {exc}"
                ) from None
            out["ingest_seconds"] = reached - t_ready
            try:
                # Idle must be known (IDLE_QUIET s without a busy moment) before T.
                left = due - MARGIN - time.time()
                if left <= 0:
                    raise BenchError("T came first")
                idle = sampler.wait_idle(reached, timeout=left, strict=True)
            except BenchError as exc:
                needed = (time.time() - t_start) * 1.5 + 60
                raise BenchError(
                    f"burst: the worker had not ingested the {clocks:,} leads and settled (idle) by {MARGIN:g} s "
                    f"before T ({exc}), so their stages would not all fall due in one second of a waiting "
                    f"worker; rerun with a later T: --burst-lead-seconds {max(needed, 2 * lead):.0f} (was {lead:.0f})"
                ) from None
            out["settle_seconds"] = idle - reached
            m = worker.scrape()
            out["open_before"] = m.get(("sla_open_response_clocks", ()), math.nan)
            out["rss_before_mib"] = worker.rss_mib()
            out["peak_rss_ingest_mib"] = sampler.peak_rss()
            margin = due - time.time()
            out["margin_seconds"] = margin
            partitions = int(worker.env["SLA_PARTITIONS"])
            before, _ = asyncio.run(_wait_records(bootstrap, topic, partitions, 0, 0, 0))
            out["breaches_before"] = before
            log(f"  ingested in {secs(out['ingest_seconds'])}, idle {margin:.0f} s before T; waiting for T")
            time.sleep(max(0.0, due - time.time()))
            t_due = time.perf_counter()
            total, waited = asyncio.run(
                _wait_records(bootstrap, topic, partitions, before + clocks, timeout, stall=120)
            )
            out["wait_seconds"] = waited
            idle_after = sampler.wait_idle(time.perf_counter(), timeout=900)
            out["settle_after_seconds"] = idle_after - t_due
            out["peak_rss_mib"] = sampler.peak_rss(t_due)
            out["cpu_seconds_after_due"] = sampler.cpu_at(idle_after) - sampler.cpu_at(t_due)
            m = worker.scrape()
            out["open_after"] = m.get(("sla_open_response_clocks", ()), math.nan)
            out["buffer_full_warnings"] = worker.log_count(r"producer buffer full")
        finally:
            worker.stop()
    log(f"  {total - before:,} breach events written; reading them")
    records = consume(bootstrap, topic, timeout=300, until=lambda rs: len(rs) >= total)
    found = breach_lags(records, f"{run_id}-O")
    out["due"] = due
    out["events"] = len(found["lags"])
    out["emitted"] = len(found["leads"])
    out["other_stages"] = found["other_stages"]
    out["lag"] = summarize(found["lags"])
    out["detected_lag"] = summarize(found["detected"])
    out["first_seconds"] = min(found["stamps"]) - due if found["stamps"] else math.nan
    out["last_seconds"] = max(found["stamps"]) - due if found["stamps"] else math.nan
    out["timestamp_types"] = sorted({r.timestamp_type for r in records})
    # Emitted per second after T (by record timestamp), for the timeline.
    per_second: dict[int, int] = {}
    for stamp in found["stamps"]:
        k = int(math.floor(stamp - due))
        per_second[k] = per_second.get(k, 0) + 1
    out["per_second"] = sorted(per_second.items())
    log(
        f"  emitted {out['emitted']:,} of {clocks:,}: lag p50 {secs(out['lag']['p50'])}, p99 "
        f"{secs(out['lag']['p99'])}, max {secs(out['lag']['max'])}"
    )
    return out


def headline(b: dict) -> dict:
    return {
        "burst.clocks": b["clocks"],
        "burst.emitted": b["emitted"],
        "burst.events": b["events"],
        "burst.p50_seconds": b["lag"]["p50"],
        "burst.p90_seconds": b["lag"]["p90"],
        "burst.p99_seconds": b["lag"]["p99"],
        "burst.max_seconds": b["lag"]["max"],
        "burst.emission_seconds": b["last_seconds"],
        "burst.ingest_seconds": b["ingest_seconds"],
        "burst.rss_peak_mb": b["peak_rss_mib"],
    }


def render(b: dict, h: dict) -> list[str]:
    lag, det = b["lag"], b["detected_lag"]
    rows = [
        ["record timestamp − deadline", *(secs(lag[k]) for k in ("min", "p50", "p90", "p99", "max"))],
        ["`detected_at` − deadline", *(secs(det[k]) for k in ("min", "p50", "p90", "p99", "max"))],
    ]
    timeline = b.get("per_second") or []
    cumulative, shown = 0, []
    for second, count in timeline:
        cumulative += count
        shown.append([f"T+{second} s … T+{second + 1} s", f"{count:,}", f"{cumulative:,}"])
    if len(shown) > 16:
        shown = shown[:8] + [["…", "…", "…"]] + shown[-7:]
    phases = "; ".join(f"{r} {fmt(d, 2)} s" for r, _, d in phase_durations(b.get("phases", []), b["ready_seconds"]))
    types = b.get("timestamp_types", [])
    stamp_note = (
        "All records carry CreateTime stamps." if types == [0] else f"Timestamp types seen: {types} (0 = CreateTime)."
    )
    return [
        '## "Monday morning" burst',
        "",
        f"{b['clocks']:,} leads created \"over the weekend\": `lead-created` events with `occurred_at` = T − "
        f"{fmt(b['deadline_seconds'])} s, never called, under a plain-time policy (`deadline_seconds = "
        f"{fmt(b['deadline_seconds'])}`, `allowed_lateness_seconds = 0`, single stage "
        '`[{at = 1.0, stage = "breach"}]`, every lead workable), so all of them fall due at the same instant T '
        f"(chosen {fmt(b['lead_seconds'])} s after the run started). One worker ingested them "
        f"({secs(b['ingest_seconds'])} from ready; spawn → ready {secs(b['ready_seconds'])}: {phases}), settled "
        f"({secs(b['settle_seconds'])} more until idle) and then waited with "
        f"{fmt(b.get('open_before'))} open clocks, {fmt(b['margin_seconds'])} s before T. At T the sweeper finds "
        "them all due. For each breach event of those leads the emission lag is the Kafka record timestamp "
        "(CreateTime, set by the worker's producer when it sent the event) minus the event's `deadline` "
        f"(= T); `detected_at` is the sweep's own clock reading, for comparison. {stamp_note}",
        "",
        markdown_table(["lag", "min", "p50", "p90", "p99", "max"], rows),
        "",
        f"Emitted: **{b['emitted']:,} of {b['clocks']:,}** leads ({b['events']:,} breach events; other stages of "
        f"these leads: {b['other_stages']}). The first went out {secs(b['first_seconds'])} after T, the last "
        f"{secs(b['last_seconds'])} after T; the worker was idle again {secs(b['settle_after_seconds'])} after T "
        f"(the `sla-emitted` records and the leads' state updates trail the breach events), having used "
        f"{fmt(b['cpu_seconds_after_due'])} CPU-seconds since T. Open clocks after: {fmt(b.get('open_after'))} "
        f"(breached, still uncontacted). RSS: {fmt(b['rss_before_mib'])} MiB waiting, peak "
        f"{fmt(b['peak_rss_mib'])} MiB after T. `producer buffer full` warnings: {b['buffer_full_warnings']}.",
        "",
        "Breach events per second after T (by record timestamp):",
        "",
        markdown_table(["second", "events", "cumulative"], shown),
        "",
    ]
