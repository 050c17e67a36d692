"""Restart: time to /readyz 200 for a SIGKILLed worker holding M open clocks,
against a fresh worker with no state, in the same run.

The loaded worker ingests M lead-created events (clocks open, due in about
an hour) and K more whose breach falls due while the worker is down. It is
killed with SIGKILL, restarted on the same data directory, and timed from
spawn to ``/readyz`` 200 (the reasons /readyz gives on the way are recorded
as phases). Then: how soon after ready the K overdue breaches appear. With
``cold``, the worker is killed again and restarted on an empty data
directory (a new host: every table is restored from its changelog).
"""

from __future__ import annotations

import shutil
import time
from datetime import datetime
from pathlib import Path

import orjson

from bench.common import events_total, summarize
from bench.harness import Worker, policy_toml, scratch_dir, unique_prefix
from bench.workload import lead_created, open_leads, produce, rep_id

DEADLINE = 3600.0
POLICY = policy_toml(DEADLINE, escalation='[{ at = 1.0, stage = "breach" }]', allowed_lateness_seconds=0)


def spawn_to_ready(worker: Worker, timeout: float = 600) -> dict:
    t0 = time.perf_counter()
    worker.start()
    seconds, phases = worker.wait_ready_phases(timeout=timeout)
    return {"seconds": time.perf_counter() - t0, "phases": phases, "ready_wall": time.time(), "inner": seconds}


def fresh(bootstrap: str, workdir: Path, log=print) -> dict:
    worker = Worker(bootstrap, scratch_dir(workdir, "fresh"), POLICY, unique_prefix("fr"))
    worker.create_topics()
    try:
        out = spawn_to_ready(worker)
        out["rss_mib"] = worker.rss_mib()
    finally:
        worker.stop()
    log(f"  fresh worker ready in {out['seconds']:.1f} s")
    return out


def _overdue(worker: Worker, run: str, count: int, due_in: float) -> list:
    import random

    rng = random.Random(13)
    at = time.time() - DEADLINE + due_in
    out = []
    for i in range(count):
        lid = f"{run}-D{i:05d}"
        value = lead_created(lid, at, rep_id(i % 200), rng, f"{lid}-c")
        out.append((worker.topic("lead-created"), lid.encode(), orjson.dumps(value)))
    return out


def _wait_events(worker: Worker, n: int, timeout: float, log=None, every: float = 15) -> float:
    t0 = last = time.perf_counter()
    while True:
        count = events_total(worker.scrape())
        if count >= n:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"worker processed {count} of {n} events in {timeout}s:\n{worker.tail()}")
        if log and time.perf_counter() - last > every:
            log(f"    {count:,.0f} of {n:,} ingested")
            last = time.perf_counter()
        time.sleep(1.0)


def _breaches(bootstrap: str, topic: str, lead_prefix: str, want: int, timeout: float) -> list[dict]:
    from tests.support.kafka import consume

    def enough(records) -> bool:
        return sum(1 for r in records if r.key and r.key.decode().startswith(lead_prefix)) >= want

    records = consume(bootstrap, topic, timeout=timeout, until=enough)
    return [orjson.loads(r.value) for r in records if r.key and r.key.decode().startswith(lead_prefix)]


def loaded(bootstrap: str, workdir: Path, clocks: int, overdue: int = 100, cold: bool = True, log=print) -> dict:
    prefix = unique_prefix("rs")
    run = prefix.rstrip(".")
    worker = Worker(bootstrap, scratch_dir(workdir, "restart"), POLICY, prefix)
    worker.create_topics()
    session = worker.session_timeout
    out: dict = {"clocks": clocks, "overdue": overdue, "session_timeout": session}
    try:
        produce(bootstrap, open_leads(worker.topic, run, clocks, at=time.time() - 60))
        worker.start()
        worker.wait_ready_phases(timeout=300)
        log(f"  ingesting {clocks:,} open clocks")
        out["ingest_seconds"] = _wait_events(worker, clocks, timeout=1800, log=log)
        out["settle_seconds"] = worker.wait_idle()
        out["rss_idle_mib"] = worker.rss_mib()
        due_in = 10.0
        produce(bootstrap, _overdue(worker, run, overdue, due_in))
        due_at = time.time() + due_in - 0.5  # the records' event times were taken a moment ago
        _wait_events(worker, clocks + overdue, timeout=120)
        m = worker.scrape()
        out["open_before_kill"] = m.get(("sla_open_response_clocks", ()), float("nan"))
        out["rss_before_kill_mib"] = worker.rss_mib()
        # Valid only if the overdue stages really fall due while the worker is down.
        out["overdue_valid"] = time.time() < due_at - 0.5
        if not out["overdue_valid"]:
            log("  warning: the overdue leads fell due before the kill; that check is void this run")
        worker.kill()
        killed_at = time.time()
        log(f"  SIGKILLed with {out['open_before_kill']:,.0f} open clocks; {overdue} breaches fall due while down")
        # Restart once the stages are overdue and the dead member's session has
        # expired, so that spawn -> ready measures this worker, not that timeout.
        time.sleep(max(0.0, due_at + 1.0 - time.time(), killed_at + session + 1.0 - time.time()))
        out["down_seconds"] = time.time() - killed_at
        warm = spawn_to_ready(worker)
        log(f"  restarted (same data dir, {out['down_seconds']:.0f} s after the kill) ready in {warm['seconds']:.1f} s")
        m = worker.scrape()
        warm["open_after_ready"] = m.get(("sla_open_response_clocks", ()), float("nan"))
        warm["rss_mib"] = worker.rss_mib()
        found = _breaches(bootstrap, worker.topic("sla-breaches"), f"{run}-D", overdue, timeout=120)
        stages = [b for b in found if b.get("stage") == "breach"]
        detected = [datetime.fromisoformat(b["detected_at"]).timestamp() for b in stages]
        warm["overdue_breaches"] = len({b["lead_id"] for b in stages})
        warm["overdue_events"] = len(stages)
        warm["overdue_after_ready"] = summarize([d - warm["ready_wall"] for d in detected])
        warm["other_breaches"] = _count_other(bootstrap, worker, f"{run}-O")
        worker.wait_idle()
        warm["rss_settled_mib"] = worker.rss_mib()
        out["warm"] = warm
        if cold:
            worker.kill()
            killed_at = time.time()
            shutil.rmtree(worker.workdir / "data", ignore_errors=True)
            time.sleep(max(0.0, killed_at + session + 1.0 - time.time()))
            c = spawn_to_ready(worker, timeout=1800)
            m = worker.scrape()
            c["open_after_ready"] = m.get(("sla_open_response_clocks", ()), float("nan"))
            c["rss_mib"] = worker.rss_mib()
            log(f"  restarted on an empty data dir ready in {c['seconds']:.1f} s")
            out["cold"] = c
        # For the record: a restart right after a kill pays the rest of the
        # dead member's session before the partitions are handed over.
        worker.kill()
        quick = spawn_to_ready(worker, timeout=1800)
        log(f"  restarted right after a kill: ready in {quick['seconds']:.1f} s")
        out["immediate"] = quick
    finally:
        worker.stop()
    return out


def _count_other(bootstrap: str, worker: Worker, lead_prefix: str) -> int:
    """Breach events of the M clocks that must not be due yet (expected 0)."""
    from tests.support.kafka import consume

    records = consume(bootstrap, worker.topic("sla-breaches"), timeout=3)
    return sum(1 for r in records if r.key and r.key.decode().startswith(lead_prefix))


def run(bootstrap: str, workdir: Path, clocks: int, cold: bool = True, log=print) -> dict:
    log("restart: fresh worker (no state) baseline")
    base1 = fresh(bootstrap, workdir, log)
    log(f"restart: worker with {clocks:,} open clocks")
    load = loaded(bootstrap, workdir, clocks, cold=cold, log=log)
    log("restart: fresh worker (no state) baseline again")
    base2 = fresh(bootstrap, workdir, log)
    return {"fresh": [base1, base2], "loaded": load}
