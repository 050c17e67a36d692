"""The worker scores leads with the segments file and learns segment
verdicts live from outcomes."""

from datetime import timedelta

import orjson

from tests.support import events as ev
from tests.support.kafka import consume, produce, values
from tests.support.worker import wait_for

SEGMENTS = [
    {"segment": "paid|1-10|unknown", "leads": 400, "mature_leads": 400, "opportunities": 2, "value_per_lead": 5.0,
     "cost_per_lead": 50.0, "profitable": False},
    {"segment": "web|51-200|vp", "leads": 300, "mature_leads": 300, "opportunities": 60, "value_per_lead": 900.0,
     "cost_per_lead": 40.0, "profitable": True},
]


def policy(segments_path, threshold=50):
    return f"""
[response]
deadline_seconds = 3600
business_hours = false
[scoring]
workable_threshold = {threshold}
segments_file = "{segments_path}"
min_age_days = 0
min_mature_leads = 10
smoothing_leads = 5
"""


def test_the_worker_scores_leads_with_the_segments_file(make_worker, kafka_bootstrap, tmp_path):
    path = tmp_path / "segments.json"
    path.write_bytes(orjson.dumps(SEGMENTS))
    w = make_worker(policy(path))
    w.create_topics()
    w.start().wait_ready()
    t0 = ev.now()
    produce(
        kafka_bootstrap,
        [
            (w.topic("lead-created"), "S1", ev.lead("S1", t0, source="paid", company_size=5)),
            (w.topic("content-downloaded"), "S1", ev.download("S1", ev.later(t0, 5), "demo_request")),
            (w.topic("lead-created"), "S2", ev.lead("S2", t0, source="web", company_size=120, persona="vp")),
            (w.topic("content-downloaded"), "S2", ev.download("S2", ev.later(t0, 5), "pricing")),
        ],
    )
    scored = values(consume(kafka_bootstrap, w.topic("lead-scored"), 20, until=lambda r: len(r) >= 4))
    by = {(s["lead_id"], s["occurred_at"] == ev.ts(t0)): s for s in scored}
    unprofitable = by[("S1", False)]
    assert unprofitable["workable"] is False
    assert any("unprofitable" in r for r in unprofitable["reasons"])
    assert unprofitable["segment"] == "paid|1-10|unknown"
    good = by[("S2", False)]
    assert good["workable"] is True and good["score"] >= 50
    assert any("pricing" in r for r in good["reasons"])
    # Only the workable lead has a response clock.
    assert orjson.loads(w.get("/sla/leads/S2")[1])["response_clocks"]
    assert orjson.loads(w.get("/sla/leads/S1")[1])["response_clocks"] == []
    assert w.metric("sla_leads_scored_total", rep="unassigned", workable="false") >= 1


def test_segment_verdicts_move_with_live_evidence(make_worker, kafka_bootstrap, tmp_path):
    path = tmp_path / "segments.json"
    path.write_bytes(orjson.dumps(SEGMENTS))
    w = make_worker(policy(path, threshold=0))
    w.create_topics()
    w.start().wait_ready()
    # Leads of two days ago (cohorts mature by whole UTC days), then one
    # event of today that moves the segment's watermark past them.
    t0 = ev.now() - timedelta(days=2)
    # A segment the file does not know: every new lead turns into a large deal.
    records = []
    for i in range(40):
        lead_id = f"N{i}"
        records.append((w.topic("lead-created"), lead_id, ev.lead(lead_id, t0, source="event", company_size=2000)))
        records.append((w.topic("call-attempt"), lead_id, ev.call(lead_id, ev.later(t0, 30), outcome="connected")))
        records.append((w.topic("opportunity-created"), lead_id, ev.opportunity(lead_id, ev.later(t0, 60), 50000)))
    records.append((w.topic("lead-created"), "N-today", ev.lead("N-today", ev.now(), source="event", company_size=2000)))
    produce(kafka_bootstrap, records)

    def verdict():
        rows = orjson.loads(w.get("/sla/segments")[1])["segments"]
        mine = [row for row in rows if row["segment"] == "event|1001+|unknown"]
        return mine[0]["profitable"] if mine else None

    assert wait_for(verdict, timeout=60, message="a profitable verdict") is True
