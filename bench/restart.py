"""Restart (SPEC §9): a SIGKILLed worker holding the open clocks of the
open-clocks section (bench/open_clocks.py) back to ``/readyz`` 200.

Before the kill, K more leads are planted whose breach falls due while the
worker is down. The worker is killed with SIGKILL, restarted on the same
data directory once those stages are overdue and the dead member's Kafka
session has expired (so spawn → ready measures the worker, not that
timeout), and timed from spawn to ``/readyz`` 200 (the not-ready reasons on
the way are the phases). Then: the K overdue stages must be emitted (when,
relative to ready) and no breach of the other clocks, which are not due,
may appear. Next the worker is killed again, its data directory wiped, and
restarted: every table restored from its changelog. Last, a kill and an
immediate restart, which pays the rest of the dead member's session. The
baseline is a fresh worker with no state, before and after. RSS is sampled
throughout (the same sampler as the open-clocks section).
"""

from __future__ import annotations

import math
import random
import shutil
import time
from datetime import datetime
from pathlib import Path

import orjson

from bench.common import fmt, markdown_table, phase_durations, ratio, secs, summarize
from bench.harness import Worker, policy_toml, scratch_dir, unique_prefix
from bench.open_clocks import BUFFER_FULL, Loaded
from bench.workload import lead_created, produce, rep_id

DUE_IN = 20.0  # the planted leads fall due this long after they are produced


def spawn_to_ready(worker: Worker, timeout: float = 600) -> dict:
    t0 = time.perf_counter()
    worker.start()
    seconds, phases = worker.wait_ready_phases(timeout=timeout)
    t1 = time.perf_counter()
    return {"seconds": t1 - t0, "phases": phases, "ready_wall": time.time(), "inner": seconds, "t_spawn": t0,
            "t_ready": t1}


def fresh(bootstrap: str, workdir: Path, log=print) -> dict:
    policy = policy_toml(3600, escalation='[{ at = 1.0, stage = "breach" }]', allowed_lateness_seconds=0)
    worker = Worker(bootstrap, scratch_dir(workdir, "fresh"), policy, unique_prefix("fr"))
    worker.create_topics()
    try:
        out = spawn_to_ready(worker)
        out["rss_mib"] = worker.rss_mib()
    finally:
        worker.stop()
    log(f"  fresh worker ready in {out['seconds']:.1f} s")
    return out


def _overdue(worker: Worker, run: str, count: int, deadline: float, due_in: float) -> list:
    rng = random.Random(13)
    at = time.time() - deadline + due_in
    out = []
    for i in range(count):
        lid = f"{run}-D{i:05d}"
        value = lead_created(lid, at, rep_id(i % 200), rng, f"{lid}-c")
        out.append((worker.topic("lead-created"), lid.encode(), orjson.dumps(value)))
    return out


def _breaches(bootstrap: str, topic: str, timeout: float, until=None) -> list:
    from tests.support.kafka import consume

    return consume(bootstrap, topic, timeout=timeout, until=until)


def _settle(loaded: Loaded, start: dict, timeout: float = 900) -> None:
    """Wait until the restarted worker is idle; note its RSS then and its peak since spawn."""
    sampler = loaded.sampler
    end = sampler.wait_idle(start["t_ready"], timeout=timeout)
    start["settle_seconds"] = end - start["t_ready"]
    start["rss_settled_mib"] = loaded.worker.rss_mib()
    start["rss_peak_mib"] = sampler.peak_rss(start["t_spawn"], time.perf_counter())
    start["buffer_full_warnings"] = loaded.worker.log_count(BUFFER_FULL, [loaded.worker.starts])


def after_load(bootstrap: str, loaded: Loaded, overdue: int = 100, cold: bool = True, immediate: bool = True,
               log=print) -> dict:
    worker, run = loaded.worker, loaded.run_id
    session = worker.session_timeout
    out: dict = {"clocks": loaded.clocks, "overdue": overdue, "session_timeout": session}
    topic = worker.topic("sla-breaches")
    produce(bootstrap, _overdue(worker, run, overdue, loaded.deadline, DUE_IN))
    due_at = time.time() + DUE_IN - 0.5  # the records' event times were taken a moment ago
    worker.wait_counted(loaded.clocks + overdue, timeout=300, poll=1.0)
    m = worker.scrape()
    out["open_before_kill"] = m.get(("sla_open_response_clocks", ()), math.nan)
    out["rss_before_kill_mib"] = worker.rss_mib()
    # Valid only if the planted stages really fall due while the worker is down.
    out["overdue_valid"] = time.time() < due_at - 0.5
    if not out["overdue_valid"]:
        log("  warning: the planted leads fell due before the kill; the overdue check is void this run")
    worker.kill()
    killed_at = time.time()
    log(f"  SIGKILLed with {out['open_before_kill']:,.0f} open clocks; {overdue} stages fall due while it is down")
    time.sleep(max(0.0, due_at + 1.0 - time.time(), killed_at + session + 1.0 - time.time()))
    out["down_seconds"] = time.time() - killed_at
    warm = spawn_to_ready(worker, timeout=1800)
    log(f"  restarted on its data dir {out['down_seconds']:.0f} s after the kill: ready in {warm['seconds']:.1f} s")
    warm["open_after_ready"] = worker.scrape().get(("sla_open_response_clocks", ()), math.nan)

    def enough(records) -> bool:
        return sum(1 for r in records if r.key and r.key.decode().startswith(f"{run}-D")) >= overdue

    records = _breaches(bootstrap, topic, timeout=120, until=enough)
    planted = [orjson.loads(r.value) for r in records if r.key and r.key.decode().startswith(f"{run}-D")]
    stages = [b for b in planted if b.get("stage") == "breach"]
    detected = [datetime.fromisoformat(b["detected_at"]).timestamp() for b in stages]
    warm["overdue_breaches"] = len({b["lead_id"] for b in stages})
    warm["overdue_events"] = len(stages)
    warm["overdue_after_ready"] = summarize([d - warm["ready_wall"] for d in detected])
    _settle(loaded, warm)
    # Breach events of the clocks that are not due: none may exist.
    records = _breaches(bootstrap, topic, timeout=5)
    warm["false_breaches"] = sum(1 for r in records if r.key and r.key.decode().startswith(f"{run}-O"))
    out["warm"] = warm
    if cold:
        worker.kill()
        killed_at = time.time()
        shutil.rmtree(worker.workdir / "data", ignore_errors=True)
        time.sleep(max(0.0, killed_at + session + 1.0 - time.time()))
        c = spawn_to_ready(worker, timeout=3600)
        c["open_after_ready"] = worker.scrape().get(("sla_open_response_clocks", ()), math.nan)
        log(f"  restarted on an empty data dir (restore from the changelogs): ready in {c['seconds']:.1f} s")
        _settle(loaded, c)
        out["cold"] = c
    if immediate:
        worker.kill()
        quick = spawn_to_ready(worker, timeout=1800)
        quick["open_after_ready"] = worker.scrape().get(("sla_open_response_clocks", ()), math.nan)
        log(f"  restarted right after a kill: ready in {quick['seconds']:.1f} s")
        _settle(loaded, quick)
        out["immediate"] = quick
    return out


def run(bootstrap: str, workdir: Path, loaded: Loaded, overdue: int = 100, cold: bool = True,
        immediate: bool = True, log=print) -> dict:
    """Restarts of the loaded worker, between two fresh-worker baselines;
    stops the loaded worker at the end."""
    try:
        log("restart: fresh worker (no state) baseline")
        base1 = fresh(bootstrap, workdir, log)
        log(f"restart: the worker with {loaded.clocks:,} open clocks")
        load = after_load(bootstrap, loaded, overdue, cold=cold, immediate=immediate, log=log)
    finally:
        loaded.close()
    log("restart: fresh worker (no state) baseline again")
    base2 = fresh(bootstrap, workdir, log)
    return {"fresh": [base1, base2], "loaded": load}


def headline(r: dict) -> dict:
    load = r["loaded"]
    warm = load.get("warm", {})
    fresh_s = sorted(f["seconds"] for f in r["fresh"])
    valid = load.get("overdue_valid", False)
    peaks = [load[k]["rss_peak_mib"] for k in ("warm", "cold", "immediate") if k in load]
    return {
        "restart.open_clocks": load["open_before_kill"],
        "restart.ready_seconds": warm.get("seconds", math.nan),
        "restart.down_seconds": load.get("down_seconds", math.nan),
        "restart.session_timeout_seconds": load["session_timeout"],
        "restart.overdue": load["overdue"],
        "restart.overdue_emitted": warm.get("overdue_breaches", math.nan) if valid else math.nan,
        "restart.overdue_missing": load["overdue"] - warm.get("overdue_breaches", 0) if valid else math.nan,
        "restart.false_breaches": warm.get("false_breaches", math.nan),
        "restart.empty_dir_ready_seconds": load["cold"]["seconds"] if "cold" in load else math.nan,
        "restart.immediate_ready_seconds": load["immediate"]["seconds"] if "immediate" in load else math.nan,
        "restart.fresh_ready_seconds": sum(fresh_s) / len(fresh_s) if fresh_s else math.nan,
        "restart.rss_peak_mb": max(peaks) if peaks else math.nan,
    }


def render(r: dict, h: dict) -> list[str]:
    load = r["loaded"]
    session = load.get("session_timeout", 10)

    def phases_text(x: dict) -> str:
        return "; ".join(f"{reason} {fmt(d, 2)} s" for reason, _, d in phase_durations(x["phases"], x["inner"]))

    rows = []
    for i, f in enumerate(r["fresh"]):
        rows.append(
            [f"fresh worker, no state ({i + 1})", "0", secs(f["seconds"]), phases_text(f), "—", fmt(f["rss_mib"])]
        )
    kinds = (
        ("warm", f"SIGKILL, restart on the same data dir {fmt(load.get('down_seconds', math.nan))} s later"),
        ("cold", f"SIGKILL, data dir wiped, restart {fmt(session + 1)} s later (restore from the changelogs)"),
        ("immediate", "SIGKILL, restart at once (same data dir)"),
    )
    for kind, label in kinds:
        if kind in load:
            k = load[kind]
            rows.append(
                [
                    label,
                    fmt(k.get("open_after_ready")),
                    f"**{secs(k['seconds'])}**" if kind == "warm" else secs(k["seconds"]),
                    phases_text(k),
                    secs(k.get("settle_seconds")),
                    f"{fmt(k.get('rss_settled_mib'))} (peak {fmt(k.get('rss_peak_mib'))})",
                ]
            )
    out = [
        "## Restart",
        "",
        f"The worker of the open-clocks section, holding {fmt(load['open_before_kill'])} open clocks (the "
        f"{load['clocks']:,} plus {load['overdue']} planted leads whose breach falls due {fmt(DUE_IN)} s after "
        f"they were produced, i.e. while the worker is down), is killed with SIGKILL and started again on the "
        f"same data directory once those stages are overdue and the dead member's Kafka session "
        f"({fmt(session)} s) has expired, so that spawn → `/readyz` 200 measures the worker, not that timeout "
        "(the last row shows a restart at once, which pays the rest of it). The phases are the not-ready "
        "reasons `/readyz` gave on the way (polled every 50 ms). The baseline is a fresh worker with no state, "
        "before and after. RSS is sampled every 0.25 s throughout; *settled* is the time from ready until "
        "idle.",
        "",
        markdown_table(
            ["start", "open clocks after ready", "spawn → ready", "phases", "ready → idle", "RSS idle (peak), MiB"],
            rows,
        ),
        "",
    ]
    if "warm" in load:
        w = load["warm"]
        after = w["overdue_after_ready"]
        if load.get("overdue_valid", True):
            overdue = (
                f"The {load['overdue']} stages that fell due during the outage were emitted {secs(after['min'])} to "
                f"{secs(after['max'])} after `/readyz` turned 200 (`detected_at`; p50 {secs(after['p50'])}; "
                f"negative: before it): {w['overdue_breaches']} distinct leads, {w['overdue_events']} events."
            )
        else:
            overdue = (
                f"The {load['overdue']} leads meant to fall due during the outage were already due before the kill "
                "(the worker was slow to count them), so that check is void in this run."
            )
        fresh_s = h.get("restart.fresh_ready_seconds", math.nan)
        out += [
            f"Restart on its data dir: **{secs(w['seconds'])}** from spawn to ready, "
            f"{fmt(ratio(w['seconds'], fresh_s))}× "
            f"a fresh worker's {secs(fresh_s)}. {overdue} Breach events of the clocks that were not due: "
            f"**{w['false_breaches']}** (must be 0).",
            "",
        ]
    return out
