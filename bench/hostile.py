"""Hostile input (issue: bounded resources): what four floods cost one worker.

One worker (the default limits: ``SLA_MAX_REP_LABELS`` 2,000,
``SLA_DEDUPE_IDS_PER_LEAD`` 1,024, ``SLA_MAX_EVENTS_PER_LEAD`` 1,000) takes,
one after the other, each flood waiting for the previous to be counted and
the worker idle, with its RSS read before and after:

* ``reps``: N ``lead-created`` of N distinct rep ids none of which is in
  the roster (each lead workable, never called);
* ``duplicates``: one ``call-attempt`` sent N times with the same event id;
* ``orphans``: N ``call-attempt`` of N leads that never get a ``lead-created``;
* ``heavy``: L leads with N/L events each (a ``lead-created``, then calls).

It reports the label values ``/metrics`` shows, what went to dead-letter,
the size of ``/metrics`` and of the largest lead-table changelog record.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import orjson

from bench.common import fmt, markdown_table
from bench.harness import Worker, policy_toml, scratch_dir, unique_prefix
from bench.workload import call, lead_created, produce

HEAVY_LEADS = 20


def _records(worker: Worker, run: str, kind: str, n: int, at: float) -> list:
    rng = random.Random(7)
    enc = orjson.dumps
    if kind == "reps":
        topic = worker.topic("lead-created")
        return [
            (topic, f"{run}-R{i}".encode(), enc(lead_created(f"{run}-R{i}", at, f"flood-{i}", rng, f"{run}-rc{i}")))
            for i in range(n)
        ]
    topic = worker.topic("call-attempt")
    if kind == "duplicates":
        value = enc(call(f"{run}-D", at, "r-0001", "no_answer", f"{run}-same"))
        return [(topic, f"{run}-D".encode(), value) for _ in range(n)]
    if kind == "orphans":
        return [
            (topic, f"{run}-O{i}".encode(), enc(call(f"{run}-O{i}", at + i * 0.001, "r-0001", "busy", f"{run}-o{i}")))
            for i in range(n)
        ]
    per = n // HEAVY_LEADS
    out = []
    for j in range(HEAVY_LEADS):
        lead = f"{run}-H{j}"
        out.append((worker.topic("lead-created"), lead.encode(), enc(lead_created(lead, at, "r-0001", rng, f"{lead}-c"))))
        out += [
            (topic, lead.encode(), enc(call(lead, at + 1 + i, "r-0001", "no_answer", f"{lead}-k{i}")))
            for i in range(per - 1)
        ]
    return out


def _labels(metrics: dict) -> set[str]:
    return {dict(labels).get("rep") for (_, labels) in metrics} - {None}


def _dead_letters(metrics: dict) -> float:
    return sum(v for (name, labels), v in metrics.items()
               if name == "sla_events_total" and dict(labels).get("result") == "invalid")


async def _largest_changelog_record(bootstrap: str, topic: str) -> int:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await client.start()
    try:
        tps = [TopicPartition(topic, p) for p in sorted(client.partitions_for_topic(topic) or ())]
        if not tps:
            await client._client.force_metadata_update()
            tps = [TopicPartition(topic, p) for p in sorted(client.partitions_for_topic(topic) or ())]
        client.assign(tps)
        await client.seek_to_beginning(*tps)
        ends = await client.end_offsets(tps)
        largest = 0
        while [tp for tp in tps if await client.position(tp) < ends[tp]]:
            for records in (await client.getmany(timeout_ms=1000, max_records=5000)).values():
                largest = max([largest, *(len(r.value or b"") for r in records)])
        return largest
    finally:
        await client.stop()


def run(bootstrap: str, workdir: Path, events: int = 100_000, log=print, timeout: float = 3600) -> dict:
    prefix = unique_prefix("ho")
    run_id = prefix.rstrip(".")
    # One day to respond: nothing falls due while the floods are measured.
    worker = Worker(bootstrap, scratch_dir(workdir, "hostile"), policy_toml(86_400), prefix)
    worker.create_topics()
    worker.start()
    out: dict = {"events": events, "phases": []}
    try:
        worker.wait_ready_phases(timeout=300)
        worker.wait_idle(timeout=120)
        out["rss_start_mib"] = worker.rss_mib()
        counted = worker.counted()
        now = time.time()
        for kind in ("reps", "duplicates", "orphans", "heavy"):
            records = _records(worker, run_id, kind, events, now - 60)
            n = len(records)
            log(f"hostile: {kind}, {n:,} events")
            before = worker.rss_mib()
            t0 = time.perf_counter()
            produce(bootstrap, records)
            del records
            counted += n
            reached, _ = worker.wait_counted(counted, timeout, poll=2.0, log=log, every=60)
            seconds = reached - t0
            worker.wait_idle(timeout=300)
            metrics = worker.scrape()
            status, body = worker.get("/metrics")
            phase = {
                "kind": kind,
                "events": n,
                "seconds": seconds,
                "rss_before_mib": before,
                "rss_after_mib": worker.rss_mib(),
                "rep_labels": len(_labels(metrics)),
                "dead_letters": _dead_letters(metrics),
                "metrics_bytes": len(body) if status == 200 else None,
                "ready": worker.get("/readyz")[0] == 200,
            }
            out["phases"].append(phase)
            log(f"  RSS {fmt(phase['rss_before_mib'])} -> {fmt(phase['rss_after_mib'])} MiB, "
                f"{phase['rep_labels']} rep labels, {phase['dead_letters']:.0f} dead letters")
        changelog = worker.topic(f"{worker.env['SLA_APP_ID']}-leads-changelog")
        out["largest_changelog_record_bytes"] = asyncio.run(_largest_changelog_record(bootstrap, changelog))
        out["data_dir_mib"] = sum(f.stat().st_size for f in Path(worker.env["SLA_DATA_DIR"]).rglob("*")
                                  if f.is_file()) / 2**20
    finally:
        worker.stop()
    return out


def headline(s: dict) -> dict:
    h = {"hostile.events": s["events"], "hostile.rss_start_mib": s["rss_start_mib"],
         "hostile.largest_changelog_record_bytes": s["largest_changelog_record_bytes"]}
    for p in s["phases"]:
        h[f"hostile.{p['kind']}.rss_growth_mib"] = p["rss_after_mib"] - p["rss_before_mib"]
        h[f"hostile.{p['kind']}.rep_labels"] = p["rep_labels"]
    return h


def render(s: dict, h: dict) -> list[str]:
    rows = [
        [p["kind"], f"{p['events']:,}", fmt(p["seconds"]), fmt(p["rss_before_mib"]), fmt(p["rss_after_mib"]),
         fmt(p["rss_after_mib"] - p["rss_before_mib"]), str(p["rep_labels"]), f"{p['dead_letters']:,.0f}",
         fmt((p["metrics_bytes"] or 0) / 1024), "yes" if p["ready"] else "NO"]
        for p in s["phases"]
    ]
    return [
        "## Hostile input",
        "",
        f"One worker with the default limits took four floods of {s['events']:,} events one after the other "
        "(bench/hostile.py; what each limit evicts and what that means: docs/limits.md). RSS at start "
        f"{fmt(s['rss_start_mib'])} MiB; dead letters and rep labels are cumulative.",
        "",
        markdown_table(
            ["flood", "events", "s", "RSS before MiB", "RSS after MiB", "growth MiB", "rep labels", "dead letters",
             "/metrics KiB", "ready"],
            rows,
        ),
        "",
        f"Largest lead-table changelog record: {s['largest_changelog_record_bytes']:,} bytes; data directory "
        f"{fmt(s['data_dir_mib'])} MiB.",
        "",
    ]
