"""Hostile input stays within bounds (docs/limits.md): a flood of distinct
rep ids, of one duplicated event, of events for leads never created, and
leads with many more events than the per-lead limit. The worker stays
ready, every record is counted once, the label cap holds without losing a
lead from the totals, and what is over a limit goes to ``dead-letter``
with a reason. (``make bench`` measures the memory of the same floods at
100,000 events each.)"""

from __future__ import annotations

import orjson

from tests.support import events as ev
from tests.support.kafka import consume, produce, values
from tests.support.worker import wait_for

POLICY = ev.QUIET_POLICY + """
[[reps]]
rep_id = "r-roster"
team = "blue"
timezone = "UTC"
"""
REPS, DUPLICATES, ORPHANS = 1_500, 2_000, 1_500
HEAVY_LEADS, HEAVY_EVENTS, LIMIT = 2, 300, 100
LABELS = 25


def counted(worker) -> float:
    return sum(v for (name, _), v in worker.metrics().items() if name == "sla_events_total")


def series(worker, name: str) -> dict[tuple, float]:
    return {labels: v for (n, labels), v in worker.metrics().items() if n == name}


def test_floods_stay_within_the_limits_and_every_record_is_accounted_for(make_worker, kafka_bootstrap):
    worker = make_worker(
        POLICY,
        SLA_MAX_REP_LABELS=str(LABELS),
        SLA_MAX_EVENTS_PER_LEAD=str(LIMIT),
        SLA_DEDUPE_IDS_PER_LEAD="16",
    )
    worker.create_topics()
    worker.start().wait_ready()
    t = ev.later(ev.now(), -600)
    lead_topic, call_topic = worker.topic("lead-created"), worker.topic("call-attempt")
    # Every lead-created first: lead topics are read side by side, and a call
    # ahead of its lead-created would fill a heavy lead before it exists.
    created = [(lead_topic, f"R{i}", ev.lead(f"R{i}", t, owner=f"flood-{i}")) for i in range(REPS)]
    created.append((lead_topic, "R-roster", ev.lead("R-roster", t, owner="r-roster")))
    created += [(lead_topic, f"H{j}", ev.lead(f"H{j}", t, owner="r-roster")) for j in range(HEAVY_LEADS)]
    produce(kafka_bootstrap, created)
    wait_for(lambda: counted(worker) >= len(created), timeout=120, message=f"{len(created)} leads counted")
    same = ev.call("D", t, rep="r-roster")
    records = [(call_topic, "D", same) for _ in range(DUPLICATES)]
    records += [(call_topic, f"O{i}", ev.call(f"O{i}", ev.later(t, i), rep="r-roster")) for i in range(ORPHANS)]
    for j in range(HEAVY_LEADS):
        records += [(call_topic, f"H{j}", ev.call(f"H{j}", ev.later(t, 1 + i))) for i in range(HEAVY_EVENTS - 1)]
    produce(kafka_bootstrap, records)
    records += created
    wait_for(lambda: counted(worker) >= len(records), timeout=180, message=f"{len(records)} events counted")

    events = series(worker, "sla_events_total")
    by_result = {}
    for labels, v in events.items():
        by_result[dict(labels)["result"]] = by_result.get(dict(labels)["result"], 0) + v
    over = HEAVY_LEADS * (HEAVY_EVENTS - LIMIT)
    assert by_result == {"ok": len(records) - (DUPLICATES - 1) - over, "duplicate": DUPLICATES - 1, "invalid": over}
    assert worker.get("/readyz")[0] == 200

    # The label cap: the roster rep, at most LABELS others, then `other`;
    # the totals still count every workable lead.
    workable = {dict(labels)["rep"]: v for labels, v in series(worker, "sla_rep_workable_leads").items()
                if dict(labels)["window"] == "7d"}
    others = set(workable) - {"r-roster", "other", "unassigned"}
    assert len(others) == LABELS and "other" in workable
    assert sum(workable.values()) == REPS + 1 + HEAVY_LEADS
    assert {dict(labels)["rep"] for labels in series(worker, "sla_rep_info")} <= {*workable, "unassigned"}

    # Duplicates: one call kept, whatever the repeats; orphans open no clock.
    status, body = worker.get("/sla/leads/D")
    lead = orjson.loads(body)
    assert status == 200 and len(lead["calls"]) == 1 and not lead["exists"]
    assert sum(series(worker, "sla_open_response_clocks").values()) == REPS + 1

    # A heavy lead keeps LIMIT facts; the rest are dead letters saying why.
    for j in range(HEAVY_LEADS):
        lead = orjson.loads(worker.get(f"/sla/leads/H{j}")[1])
        assert len(lead["owners"]) + len(lead["calls"]) == LIMIT
    letters = values(consume(kafka_bootstrap, worker.topic("dead-letter"), until=lambda r: len(r) >= over))
    assert len(letters) == over
    assert all("SLA_MAX_EVENTS_PER_LEAD" in d["error"] and d["key"] in ("H0", "H1") for d in letters)
    # The throttled log: not one warning per dead letter.
    warnings = [line for line in worker.log_path.read_text().splitlines() if "WARNING" in line and "dead-letter " in line]
    assert len(warnings) < over / 4
