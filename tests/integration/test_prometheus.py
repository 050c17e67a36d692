"""The monitoring stack against real parts: a real Prometheus (Debian's
package) with the project's own configuration and rules scrapes two workers
fed with traffic. Every recording rule, every alert expression and every
Grafana panel query is evaluated through Prometheus's HTTP API; the per-rep
ratios must equal the workers' own /sla/reps figures."""

from __future__ import annotations

import math
from datetime import timedelta

import orjson
import pytest
import yaml

from tests.support import events as ev
from tests.support.grafana import dashboard_queries, substitute
from tests.support.kafka import ROOT, produce
from tests.support.prometheus import PrometheusProcess
from tests.support.worker import wait_for

RULES = ROOT / "deploy" / "prometheus" / "rules"
DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))

# Plain time, a 4 s deadline and a 7.2 s gap between attempts, so every kind
# of breach happens within seconds; every day is a business day, so the
# marketing SLA has a target to date whatever day the tests run.
POLICY = """
[response]
deadline_seconds = 4
business_hours = false
allowed_lateness_seconds = 1

[attempts]
required = 2
window_days = 1
max_gap_hours = 0.002

[marketing]
workable_leads_per_rep_per_month = 1000

[scoring]
workable_threshold = 0

[calendar]
timezone = "UTC"
working_hours = "00:00-24:00"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
holidays_country = ""

[[reps]]
rep_id = "r-1"
team = "east"
monthly_workable_target = 2

[[reps]]
rep_id = "r-2"
team = "west"

[[reps]]
rep_id = "r-3"
team = "west"
"""

RATIOS = {  # recording rule -> /sla/reps field
    "rep:sla_attempts_per_workable_lead:ratio": "attempts_per_workable_lead",
    "rep:sla_connect_rate:ratio": "connect_rate",
    "rep:sla_pipeline_conversion_rate:ratio": "pipeline_conversion_rate",
    "rep:sla_first_response_within_sla:ratio": "first_response_within_sla_ratio",
}

# Alerts this traffic makes true; the others must still parse, and the
# series they compare must have data.
FIRING = {
    "SlaWorkableLeadUncontacted",  # r-1's two leads never called
    "SlaAttemptCadenceBreached",  # one no-answer call and no second one
    "SlaMarketingBehindPace",  # r-2 and r-3 against 1000 a month
    "SlaFirstResponseComplianceLow",  # r-2: 3 of 12 within the deadline
    "SlaDeadLetterRateHigh",  # garbage on the lead topics
}


def traffic(topic) -> list[tuple]:
    t0 = ev.now() - timedelta(seconds=120)
    records = []

    def lead(lead_id: str, owner: str | None, *calls: tuple[float, str], opportunity: bool = False):
        records.append((topic("lead-created"), lead_id, ev.lead(lead_id, t0, owner=owner)))
        for seconds, outcome in calls:
            rep = owner or "r-1"
            records.append((topic("call-attempt"), lead_id, ev.call(lead_id, ev.later(t0, seconds), rep, outcome)))
        if opportunity:
            records.append((topic("opportunity-created"), lead_id, ev.opportunity(lead_id, ev.later(t0, 60))))

    for i in range(2):
        lead(f"E-ok-{i}", "r-1", (1, "connected"), opportunity=i == 0)
        lead(f"E-na-{i}", "r-1", (2, "no_answer"), (3, "connected"))
        lead(f"E-none-{i}", "r-1")  # uncontacted: overdue
    lead("E-gap", "r-1", (1, "no_answer"))  # one attempt, no second within the gap: cadence breach
    for i in range(12):
        late = i >= 3
        lead(f"W-{i}", "r-2", (20 if late else 2, "connected" if i % 2 else "busy"), (21, "no_answer"))
    lead("U-0", None, (1, "connected"), (2, "no_answer"))
    lead("U-1", None, (30, "voicemail"), (31, "connected"))
    garbage = [(topic("call-attempt"), f"bad-{i}", b"{not json") for i in range(5)]
    return records + garbage


@pytest.fixture
def stack(start_workers, kafka_bootstrap, tmp_path):
    workers = start_workers(POLICY, 2)
    prometheus = PrometheusProcess(tmp_path / "prometheus", [f"127.0.0.1:{w.port}" for w in workers]).start()
    yield workers, prometheus
    prometheus.stop()


def group_reps(worker) -> dict:
    status, body = worker.get("/sla/reps")
    assert status == 200
    return orjson.loads(body)


def settled(workers) -> dict:
    """/sla/reps once every clock of the traffic is decided and the report is complete."""

    def ready():
        report = group_reps(workers[0])
        total = report["windows"]["7d"]["total"]
        done = report["complete"] and total["workable_leads"] == 21 and total["clocks_pending"] == 0
        return report if done else None

    return wait_for(ready, timeout=90, message="every clock decided")


def recording_rules() -> list[str]:
    names = []
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names += [rule["record"] for rule in group["rules"] if "record" in rule]
    return names


def alert_rules() -> dict[str, str]:
    alerts = {}
    for path in sorted(RULES.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            alerts.update({rule["alert"]: rule["expr"] for rule in group["rules"] if "alert" in rule})
    return alerts


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_rules_alerts_and_dashboards_evaluate_on_real_data(stack, kafka_bootstrap):
    workers, prometheus = stack
    produce(kafka_bootstrap, traffic(workers[0].topic))
    report = settled(workers)
    today = report["breaches_today"]
    assert today["r-1"]["first_response"]["breach"] == 2 and today["r-2"]["first_response"]["breach"] == 9

    # Prometheus loaded every rule file without error.
    loaded = prometheus.rules()
    assert {r["name"] for r in loaded if r["type"] == "recording"} == set(recording_rules())
    assert {r["name"] for r in loaded if r["type"] == "alerting"} == set(alert_rules())
    assert all(r.get("health") != "err" for r in loaded), [r for r in loaded if r.get("health") == "err"]

    # The per-rep ratios, summed across both workers by the recording rules,
    # equal the figures the workers compute themselves.
    def expected() -> dict[tuple[str, str, str], float | None]:
        out = {}
        for window in ("7d", "30d", "mtd"):
            for row in report["windows"][window]["reps"]:
                for rule, field in RATIOS.items():
                    out[(rule, row["rep"], window)] = row[field]
        for m in report["marketing"]["reps"]:
            if m["target"]:
                out[("rep:sla_marketing_pacing:ratio", m["rep"], "")] = m["pacing_ratio"]
        return out

    def recorded() -> dict[tuple[str, str, str], float | None]:
        out = {}
        for rule in [*RATIOS, "rep:sla_marketing_pacing:ratio"]:
            for (rep, window), value in prometheus.values(rule, "rep", "window").items():
                out[(rule, rep, window)] = value
        return out

    want = expected()

    def agree():
        got = recorded()
        # A ratio with a zero denominator has no sample (the rules filter > 0).
        return all(close(got.get(key), value) for key, value in want.items()) and set(got) <= set(want)

    try:
        wait_for(agree, timeout=60, message="recording rules to equal /sla/reps")
    except AssertionError:
        got = recorded()
        diff = {k: (got.get(k), v) for k, v in want.items() if not close(got.get(k), v)}
        raise AssertionError(f"recorded vs /sla/reps differ: {diff}; extra: {set(got) - set(want)}") from None
    assert want[("rep:sla_connect_rate:ratio", "r-1", "7d")] == pytest.approx(4 / 7)
    assert want[("rep:sla_first_response_within_sla:ratio", "r-2", "mtd")] == pytest.approx(3 / 12)
    # Teams come with the per-rep series.
    teams = prometheus.values("rep:sla_connect_rate:ratio", "rep", "team")
    assert ("r-1", "east") in teams and ("r-2", "west") in teams and ("unassigned", "none") in teams

    # Every recording rule returns data.
    wait_for(
        lambda: all(prometheus.query(name) for name in recording_rules()),
        timeout=60,
        message="every recording rule to return data: "
        + ", ".join(n for n in recording_rules() if not prometheus.query(n)),
    )

    # Every alert expression parses; the ones this traffic makes true return data.
    alerts = alert_rules()
    assert FIRING <= set(alerts), sorted(set(FIRING) - set(alerts))
    for name, expr in alerts.items():
        prometheus.query(expr)  # raises naming the query if it does not parse or evaluate
    wait_for(
        lambda: all(prometheus.query(alerts[name]) for name in FIRING),
        timeout=120,
        message="alerts to fire: " + ", ".join(n for n in sorted(FIRING) if not prometheus.query(alerts[n])),
    )
    uncontacted = prometheus.values(alerts["SlaWorkableLeadUncontacted"], "rep", "team")
    assert set(uncontacted) == {("r-1", "east")}
    behind = {rep for rep, in prometheus.values(alerts["SlaMarketingBehindPace"], "rep")}
    assert behind == {"r-2", "r-3"}

    # Every Grafana panel query parses and returns data.
    queries = [q for path in DASHBOARDS for q in dashboard_queries(path)]
    assert queries

    def empty_panels() -> list[str]:
        return [q.name for q in queries if not prometheus.query(substitute(q.expr))]

    wait_for(lambda: not empty_panels(), timeout=60, message=f"every panel query to return data: {empty_panels()}")

    # A worker that stops is seen as down.
    workers[1].stop()
    wait_for(
        lambda: prometheus.query('up{job="sla-worker"} == 0'), timeout=30, message="the stopped worker to be down"
    )
