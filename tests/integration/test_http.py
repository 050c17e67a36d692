"""The worker's HTTP pages: /sla/reps is complete whichever worker answers,
/wallboard renders, and /metrics passes promtool."""

import os
import shutil
import subprocess
import sys

import orjson

from tests.support import events as ev
from tests.support.kafka import produce
from tests.support.worker import wait_for

POLICY = """
[response]
deadline_seconds = 3600
business_hours = false
[scoring]
workable_threshold = 0
[[reps]]
rep_id = "r-1"
timezone = "UTC"
monthly_workable_target = 10
[[reps]]
rep_id = "r-2"
timezone = "Europe/Berlin"
"""


def reps(worker) -> dict:
    status, body = worker.get("/sla/reps")
    assert status == 200
    return orjson.loads(body)


def metric_sum(workers, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples over ``workers`` whose labels include ``labels``."""
    total = 0.0
    for worker in workers:
        for (sample, sample_labels), value in worker.metrics().items():
            if sample == name and set(labels.items()) <= set(sample_labels):
                total += value
    return total


def test_rep_table_wallboard_and_metrics(start_workers, kafka_bootstrap):
    w1, w2 = start_workers(POLICY, 2)
    t0 = ev.now()
    records = []
    for i in range(12):
        owner = "r-1" if i % 3 else "r-2"
        records.append(
            (w1.topic("lead-created"), f"H{i}", ev.lead(f"H{i}", ev.later(t0, -120), owner=owner, email=f"h{i}@x.test"))
        )
        if i % 2:
            records.append((w1.topic("call-attempt"), f"H{i}", ev.call(f"H{i}", ev.later(t0, -60), outcome="connected")))
    produce(kafka_bootstrap, records)

    def total(worker):
        report = reps(worker)
        return report["complete"] and report["windows"]["7d"]["total"]["workable_leads"] == 12

    wait_for(lambda: total(w1) and total(w2), timeout=60, message="both workers to report all 12 leads")
    a, b = reps(w1), reps(w2)
    assert a["windows"] == b["windows"]
    by_rep = {s["rep"]: s for s in a["windows"]["7d"]["reps"]}
    assert by_rep["r-1"]["workable_leads"] == 8 and by_rep["r-2"]["workable_leads"] == 4
    assert a["windows"]["7d"]["total"]["connect_rate"] == 0.5
    assert a["windows"]["7d"]["total"]["first_response_within_sla_ratio"] == 1.0
    assert sum(v["open"] for v in a["uncontacted"].values()) == 6
    # The uncontacted leads themselves, oldest first, with no personal data.
    waiting = a["uncontacted_leads"]
    assert sorted(lead["lead_id"] for lead in waiting) == [f"H{i}" for i in (0, 10, 2, 4, 6, 8)]
    assert all(lead["rep"] in ("r-1", "r-2") and lead["due_in_seconds"] > 0 for lead in waiting)
    assert b"@x.test" not in orjson.dumps(a)
    status, body = w2.get("/sla/reps/buckets")
    merged = orjson.loads(body)
    assert status == 200 and merged["complete"]
    assert sum(b["workable_leads"] for b in merged["buckets"]) == 12
    targets = {m["rep"]: m["target"] for m in a["marketing"]["reps"]}
    assert targets["r-1"] == 10

    # The buckets live in memory and are rebuilt from the lead table: after
    # w2 dies, w1 takes its partitions and still reports every lead.
    def open_clocks(worker):
        return {rep: v["open"] for rep, v in reps(worker)["uncontacted"].items()}

    expected_open = open_clocks(w1)
    w2.kill()
    wait_for(lambda: total(w1) and open_clocks(w1) == expected_open, timeout=60, message="w1 alone")
    assert metric_sum([w1], "sla_rep_workable_leads", window="7d") == 12
    w2.start().wait_ready()
    wait_for(lambda: total(w1) and total(w2), timeout=60, message="both workers again")

    # Each worker exports its own partitions' share: the sums across workers
    # are the group's figures, with nothing counted twice after the rebalance.
    def shares(name: str, **labels) -> list[float]:
        return [metric_sum([w], name, **labels) for w in (w1, w2)]

    wait_for(lambda: sum(shares("sla_assigned_partitions")) == 4, timeout=30, message="4 partitions assigned")
    assert shares("sla_worker_ready") == [1, 1]
    workable = shares("sla_rep_workable_leads", window="7d")
    assert sum(workable) == 12 and all(workable), workable
    assert sum(shares("sla_rep_workable_leads", rep="r-1", window="mtd")) == 8
    assert sum(shares("sla_rep_connected_leads", window="30d")) == 6
    assert sum(shares("sla_uncontacted_workable_leads")) == 6
    assert sum(shares("sla_open_response_clocks")) == 6
    assert shares("sla_marketing_target", rep="r-1") == [10, 10]

    status, page = w2.get("/wallboard")
    assert status == 200 and b"<table" in page and b"r-1" in page and b"@x.test" not in page

    table = subprocess.run(
        [sys.executable, "-m", "stream", "reps", "--url", w1.url(""), "--window", "7d"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert table.returncode == 0, table.stderr
    assert "r-1" in table.stdout and "r-2" in table.stdout and "total" in table.stdout

    status, metrics = w1.get("/metrics")
    assert status == 200
    promtool = shutil.which("promtool")
    assert promtool, "promtool is installed by `make install` (Debian package prometheus)"
    check = subprocess.run([promtool, "check", "metrics"], input=metrics, capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
