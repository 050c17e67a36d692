"""Failover with and without hot standby replicas (``SLA_STANDBY_REPLICAS``).

Two workers of one consumer group share N open clocks (``lead-created``
events, never called, due a day later, produced once the group is stable),
with ``SLA_STANDBY_REPLICAS=1``: each keeps a standby copy of the other's
lead-table partitions. Once both have
counted the events and are idle (the standby copies caught up), one is
killed with SIGKILL and the survivor's ``/readyz`` is polled every 50 ms
until it is ready again *and* owns all 8 partitions
(``sla_assigned_partitions``). The time from the kill splits into the dead
member's session timeout (kill → the survivor's first not-ready answer:
the group noticed) and the rest (rebalance, restoring the dead worker's
partitions, rebuilding the deadline index). Then the same with
``SLA_STANDBY_REPLICAS=0``: the survivor restores those partitions from the
changelog.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import orjson

from bench.common import events_total, fmt, markdown_table, phase_durations, secs
from bench.harness import BenchError, Sampler, Worker, policy_toml, scratch_dir, unique_prefix
from bench.workload import iter_open_leads, produce

DEADLINE = 86_400.0
POLICY = policy_toml(DEADLINE, escalation='[{ at = 1.0, stage = "breach" }]', allowed_lateness_seconds=0)
PARTITIONS = 8


def _assigned(worker: Worker) -> float:
    return worker.scrape().get(("sla_assigned_partitions", ()), math.nan)


def _split(a: Worker, b: Worker, timeout: float = 300) -> None:
    """Until both are ready and own half of the partitions each (the group is stable)."""
    t0 = time.perf_counter()
    while True:
        try:
            pa, pb = _assigned(a), _assigned(b)
            ready = a.get("/readyz")[0] == 200 and b.get("/readyz")[0] == 200
        except (OSError, RuntimeError):
            pa = pb = math.nan
            ready = False
        if ready and pa > 0 and pb > 0 and pa + pb == PARTITIONS:
            return
        if time.perf_counter() - t0 > timeout:
            raise BenchError(
                f"standby: the two workers did not share the partitions within {timeout:.0f} s ({pa}+{pb})"
            )
        time.sleep(0.5)


def _wait_shared(a: Worker, b: Worker, clocks: int, timeout: float, log, stall: float = 300) -> float:
    """Until the two together counted N; returns the perf_counter then."""
    t0 = last = last_change = time.perf_counter()
    counted = -1.0
    while True:
        for w in (a, b):
            if w.proc is not None and w.proc.poll() is not None:
                raise BenchError(f"a worker exited with {w.proc.returncode}:\n{w.tail()}")
        try:
            now_counted = events_total(a.scrape()) + events_total(b.scrape())
        except (OSError, RuntimeError):
            now_counted = counted
        if now_counted != counted:
            counted, last_change = now_counted, time.perf_counter()
        if counted >= clocks:
            return time.perf_counter()
        if time.perf_counter() - t0 > timeout or time.perf_counter() - last_change > stall:
            raise BenchError(
                f"standby: the two workers counted {counted:,.0f} of {clocks:,} events, then nothing for "
                f"{time.perf_counter() - last_change:.0f} s (lag: {a.lag()} and {b.lag()})"
            )
        if time.perf_counter() - last > 60:
            log(f"    {counted:,.0f} of {clocks:,} counted")
            last = time.perf_counter()
        time.sleep(1.0)


def failover(bootstrap: str, workdir: Path, clocks: int, replicas: int, log=print, timeout: float = 3600) -> dict:
    prefix = unique_prefix(f"sb{replicas}")
    run_id = prefix.rstrip(".")
    env = {"SLA_STANDBY_REPLICAS": str(replicas)}
    a = Worker(bootstrap, scratch_dir(workdir, f"standby{replicas}-a"), POLICY, prefix, **env)
    b = Worker(bootstrap, scratch_dir(workdir, f"standby{replicas}-b"), POLICY, prefix, **env)
    a.create_topics()
    log(f"standby: {clocks:,} open clocks over two workers with SLA_STANDBY_REPLICAS={replicas}")
    out: dict = {"replicas": replicas, "clocks": clocks, "session_timeout": a.session_timeout}
    sa, sb = Sampler(a, interval=0.25), Sampler(b, interval=0.25)
    try:
        sa.start()
        sb.start()
        # The group settles first, then the clocks arrive: no rebalance while ingesting.
        a.start()
        b.start()
        a.wait_ready_phases(timeout=300)
        b.wait_ready_phases(timeout=300)
        _split(a, b)
        t0 = time.perf_counter()
        produce(bootstrap, iter_open_leads(a.topic, run_id, clocks, at=time.time() - 60))
        shared = _wait_shared(a, b, clocks, timeout, log)
        out["ingest_seconds"] = shared - t0
        idle_a = sa.wait_idle(shared, timeout=900)
        idle_b = sb.wait_idle(shared, timeout=900)
        out["settle_seconds"] = max(idle_a, idle_b) - shared
        ma, mb = a.scrape(), b.scrape()
        out["before"] = {
            name: {
                "partitions": m.get(("sla_assigned_partitions", ()), math.nan),
                "open": m.get(("sla_open_response_clocks", ()), math.nan),
                "rss_mib": w.rss_mib(),
            }
            for name, m, w in (("survivor", ma, a), ("killed", mb, b))
        }
        log(
            f"  ingested and idle after {secs(out['ingest_seconds'] + out['settle_seconds'])}; partitions "
            f"{out['before']['survivor']['partitions']:.0f} + {out['before']['killed']['partitions']:.0f}; killing one"
        )
        b.kill()
        t_kill = time.perf_counter()
        phases: list[tuple[str, float]] = []
        detected = None
        checked = t_kill
        while True:
            now = time.perf_counter()
            if now - t_kill > timeout:
                raise BenchError(f"standby: the survivor did not take over within {timeout:.0f} s:\n{a.tail()}")
            try:
                status, body = a.get("/readyz")
            except OSError:
                status, body = 0, b"{}"
            if status == 200:
                reason = "ready"
            else:
                try:
                    reason = orjson.loads(body).get("reason", "?")
                except ValueError:
                    reason = "?"
            if not phases or phases[-1][0] != reason:
                phases.append((reason, now - t_kill))
            if reason != "ready" and detected is None:
                detected = now - t_kill
            if reason == "ready" and detected is not None and _assigned(a) == PARTITIONS:
                ready = now - t_kill  # when /readyz answered 200 (checked with all partitions)
                break
            if reason == "ready" and detected is None and now - checked > 1.0:
                # A rebalance quicker than the polling would leave no not-ready answer.
                checked = now
                if _assigned(a) == PARTITIONS:
                    detected = ready = now - t_kill
                    break
            time.sleep(0.05)
        m = a.scrape()
        out.update(
            {
                "failover_seconds": ready,
                "detected_seconds": detected,
                "after_detection_seconds": ready - detected,
                "phases": phases,
                "open_after": m.get(("sla_open_response_clocks", ()), math.nan),
                "partitions_after": m.get(("sla_assigned_partitions", ()), math.nan),
            }
        )
        idle = sa.wait_idle(time.perf_counter(), timeout=900)
        out["rss_after_mib"] = a.rss_mib()
        out["rss_peak_survivor_mib"] = sa.peak_rss()
        out["settle_after_seconds"] = idle - t_kill
        log(
            f"  survivor ready with all {PARTITIONS} partitions {secs(ready)} after the kill "
            f"(noticed after {secs(detected)}; {secs(ready - detected)} after that)"
        )
    finally:
        for w in (a, b):
            w.stop()
        sa.stop()
        sb.stop()
    return out


def run(bootstrap: str, workdir: Path, clocks: int, log=print) -> dict:
    with_standby = failover(bootstrap, workdir, clocks, 1, log)
    return {"with": with_standby, "without": failover(bootstrap, workdir, clocks, 0, log)}


def headline(s: dict) -> dict:
    w, wo = s.get("with", {}), s.get("without", {})
    return {
        "standby.clocks": w.get("clocks", wo.get("clocks")),
        "standby.failover_ready_seconds": w.get("failover_seconds", math.nan),
        "standby.after_detection_seconds": w.get("after_detection_seconds", math.nan),
        "standby.session_timeout_seconds": w.get("detected_seconds", math.nan),
        "standby.failover_ready_seconds_without": wo.get("failover_seconds", math.nan),
        "standby.after_detection_seconds_without": wo.get("after_detection_seconds", math.nan),
        "standby.session_timeout_seconds_without": wo.get("detected_seconds", math.nan),
    }


def render(s: dict, h: dict) -> list[str]:
    rows = []
    for label, key in (("`SLA_STANDBY_REPLICAS=1`", "with"), ("`SLA_STANDBY_REPLICAS=0`", "without")):
        x = s.get(key)
        if not x:
            continue
        before = x["before"]
        phases = "; ".join(f"{r} {fmt(d, 2)} s" for r, _, d in phase_durations(x["phases"], x["failover_seconds"]))
        rows.append(
            [
                label,
                f"{before['survivor']['partitions']:.0f} + {before['killed']['partitions']:.0f}",
                f"{fmt(before['survivor']['open'])} + {fmt(before['killed']['open'])}",
                f"**{secs(x['failover_seconds'])}**",
                secs(x["detected_seconds"]),
                secs(x["after_detection_seconds"]),
                phases,
                fmt(x["open_after"]),
                f"{fmt(before['survivor']['rss_mib'])} → {fmt(x['rss_after_mib'])}",
            ]
        )
    any_x = s.get("with") or s.get("without") or {}
    return [
        "## Failover with hot standby replicas",
        "",
        f"Two workers of one consumer group share {fmt(any_x.get('clocks'))} open clocks (`lead-created` events, "
        "never called, due a day later; 8 partitions; produced once both workers were ready with 4 partitions "
        "each, so no rebalance happens while they ingest). Once both have counted them and are idle (standby copies "
        "caught up), one is killed with SIGKILL, and the survivor's `/readyz` is polled every 50 ms until it "
        f"answers 200 *and* `sla_assigned_partitions` is {PARTITIONS}. *Noticed* is the time until the survivor's "
        "first not-ready answer: the dead member's session timeout "
        f"({fmt(any_x.get('session_timeout'))} s) plus the rebalance's start; the rest is the rebalance, "
        "restoring the dead worker's partitions (with a standby: only the changelog's tail) and rebuilding "
        "the deadline index. The phases are `/readyz` reasons, timed from the kill.",
        "",
        markdown_table(
            [
                "standby replicas",
                "partitions before",
                "open clocks before",
                "kill → survivor ready",
                "noticed",
                "after that",
                "phases",
                "open clocks after",
                "survivor RSS (MiB)",
            ],
            rows,
        ),
        "",
    ]
