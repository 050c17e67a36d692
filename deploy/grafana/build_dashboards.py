"""Writes the provisioned Grafana dashboards in deploy/grafana/dashboards/.

    python3 deploy/grafana/build_dashboards.py           # rewrite the JSON files
    python3 deploy/grafana/build_dashboards.py --check   # exit 1 when they differ

Grafana loads the JSON; this script is where it is edited, so every panel
shares one datasource, one colour scheme, and the deadlines of
deploy/policy/default.toml. tests/unit/deploy/test_grafana.py fails when the
JSON drifts from it. docs/dashboards.md explains every panel.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "deploy" / "grafana" / "dashboards"
POLICY = ROOT / "deploy" / "policy" / "default.toml"

DS = {"type": "prometheus", "uid": "prometheus"}  # deploy/grafana/provisioning/datasources/prometheus.yml
GREEN, AMBER, RED, NEUTRAL = "green", "orange", "red", "text"
WITHIN_SLA_RED, WITHIN_SLA_AMBER = 0.8, 0.9  # share of clocks answered in time: red below, amber below

TEAM = 'team=~"$team"'
MTD = f'window="mtd", {TEAM}'
# The team of every rep of the selected teams. One team per rep even while workers
# disagree after a roster change (as in deploy/prometheus/rules/sla-recording.yml).
REP_TEAM = f"topk by (rep) (1, max by (rep, team) (sla_rep_info{{{TEAM}}}))"
ZERO_PER_REP = f"0 * {REP_TEAM}"
BREACHES = 'sla_breaches_total{stage="breach"}'
FIRING = 'count(ALERTS{alertname=~"Sla.*", alertstate="firing"}) or on () vector(0)'
# A quantile of no observations (a rep without responses in the range) is NaN: show a dash.
NAN_AS_DASH = {"type": "special", "options": {"match": "nan", "result": {"index": 0, "text": "–"}}}


def with_team(vector: str) -> str:
    """A rep-labelled `vector` (no team label) with each rep's team, only the selected teams."""
    return f"{vector} * on (rep) group_left (team) {REP_TEAM}"


def or_zero(expr: str) -> str:
    """0 when `expr` has no series at all (and nothing added when it has some)."""
    return f"{expr} or on () vector(0)"


def increase_since(counter: str, window: str) -> str:
    """The counter's increase over `window`, counting series born inside it with their whole
    value: increase() cannot see a series' first increment (it is born at 1)."""
    return f"(({counter} unless {counter} offset {window}) or increase({counter}[{window}]))"


def response_quantile(q: float, by: str) -> str:
    buckets = "increase(sla_first_response_seconds_bucket[$__range])"
    return f"histogram_quantile({q}, sum by ({by}) ({with_team(buckets)}))"


def team_ratio(numerator: str, denominator: str) -> str:
    """Σ numerator ÷ Σ denominator over every worker and rep of the teams, month to date."""
    return f"sum({numerator}{{{MTD}}}) / (sum({denominator}{{{MTD}}}) > 0)"


def steps(first: str, *then) -> dict:
    """steps(GREEN, 240, AMBER, 300, RED): a colour, then (value, colour from that value) pairs."""
    pairs = [{"color": colour, "value": value} for value, colour in zip(then[::2], then[1::2])]
    return {"mode": "absolute", "steps": [{"color": first, "value": None}, *pairs]}


def target(ref: str, expr: str, legend: str = "__auto", instant: bool = False, table: bool = False) -> dict:
    return {
        "datasource": DS,
        "editorMode": "code",
        "expr": expr,
        "format": "table" if table else "time_series",
        "instant": instant,
        "legendFormat": legend,
        "range": not instant,
        "refId": ref,
    }


def panel(kind: str, title: str, description: str, targets: list[dict], **extra) -> dict:
    return {"type": kind, "title": title, "description": description, "datasource": DS, "targets": targets, **extra}


def override(name: str, **properties) -> dict:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def stat(title, description, expr, unit="short", thresholds=None, decimals=None, time_from=None) -> dict:
    """A big number; coloured background when it has thresholds, plain text otherwise."""
    defaults = {
        "color": {"mode": "thresholds"},
        "mappings": [NAN_AS_DASH],
        "noValue": "–",
        "thresholds": thresholds or steps(NEUTRAL),
        "unit": unit,
    }
    if decimals is not None or unit == "percentunit":
        defaults["decimals"] = 0 if decimals is None else decimals
    out = panel(
        "stat",
        title,
        description,
        [target("A", expr, instant=True)],
        fieldConfig={"defaults": defaults, "overrides": []},
        options={
            "colorMode": "value" if thresholds is None else "background",
            "graphMode": "none",
            "justifyMode": "center",
            "orientation": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showPercentChange": False,
            "text": {"titleSize": 20},
            "textMode": "value",
            "wideLayout": True,
        },
    )
    if time_from:
        out["timeFrom"] = time_from
    return out


def timeseries(title, description, targets, unit="short", overrides=(), bars=False, stacked=False) -> dict:
    custom = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if bars else 10,
        "lineWidth": 2,
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"group": "A", "mode": "normal" if stacked else "none"},
    }
    return panel(
        "timeseries",
        title,
        description,
        targets,
        fieldConfig={
            "defaults": {"color": {"mode": "palette-classic"}, "custom": custom, "min": 0, "unit": unit},
            "overrides": list(overrides),
        },
        options={
            "legend": {"calcs": ["lastNotNull", "max"], "displayMode": "table", "placement": "bottom",
                       "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )  # fmt: skip


def alert_list() -> dict:
    return {
        "type": "alertlist",
        "title": "SLA alerts",
        "description": "Prometheus alerts named Sla* (deploy/prometheus/rules/sla-alerts.yml), firing or pending.",
        "options": {
            "alertInstanceLabelFilter": "",
            "alertName": "Sla",
            "dashboardAlerts": False,
            "datasource": "Prometheus",
            "groupBy": [],
            "groupMode": "default",
            "maxItems": 20,
            "showInactiveAlerts": False,
            "showInstances": True,
            "sortOrder": 3,
            "stateFilter": {"error": True, "firing": True, "noData": False, "normal": False, "pending": True},
            "viewMode": "list",
        },
    }


def row(title: str) -> dict:
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


class Layout:
    """Panels with ids in order and their places on Grafana's 24-column grid."""

    def __init__(self) -> None:
        self.panels: list[dict] = []

    def add(self, item: dict, x: int, y: int, w: int, h: int) -> None:
        self.panels.append({"id": len(self.panels) + 1, **item, "gridPos": {"h": h, "w": w, "x": x, "y": y}})


def dashboard(uid, title, description, panels, time, variables=(), link_to=None) -> dict:
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    links = [{"icon": "dashboard", "title": link_to[1], "type": "link", "url": f"/d/{link_to[0]}"}] if link_to else []
    return {
        "annotations": {"list": [builtin]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "links": links,
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": 41,
        "tags": ["sla", "smarketing"],
        "templating": {"list": list(variables)},
        "time": time,
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
    }


def policy_seconds() -> tuple[float, float, float]:
    """(warning stage, deadline) in SLA seconds and the pacing warning ratio of the default policy."""
    policy = tomllib.loads(POLICY.read_text())
    response, marketing = policy.get("response", {}), policy.get("marketing", {})
    deadline = response.get("deadline_seconds", 300)
    warning = next((s["at"] for s in response.get("escalation", []) if s.get("stage") == "warning"), 0.8)
    return round(deadline * warning, 3), deadline, marketing.get("pacing_warning_ratio", 0.8)


def wallboard() -> dict:
    warning, deadline, pacing_warning = policy_seconds()
    fast = steps(GREEN, warning, AMBER, deadline, RED)
    pacing = steps(RED, pacing_warning, AMBER, 1, GREEN)
    within = steps(RED, WITHIN_SLA_RED, AMBER, WITHIN_SLA_AMBER, GREEN)
    none_waiting = steps(GREEN, 1, AMBER)
    none_late = steps(GREEN, 1, RED)
    uncontacted = f"rep:sla_uncontacted_workable_leads:sum{{{TEAM}}}"
    overdue = f"rep:sla_overdue_response_clocks:sum{{{TEAM}}}"
    expected = f"rep:sla_marketing_expected_to_date:max{{{TEAM}}}"
    layout = Layout()

    headline = [
        stat("Workable leads (MTD)", "Leads that became workable this month (each rep's time zone) while owned "
             "by a rep of the selected teams.", f"sum(rep:sla_workable_leads:sum{{{MTD}}})"),
        stat("Monthly target", "The Marketing SLA: this month's workable-lead targets of the selected teams' reps.",
             f"sum(rep:sla_marketing_target:max{{{TEAM}}})"),
        stat("Pacing", "Workable leads this month ÷ the target expected by today (target × elapsed business days "
             f"÷ business days in the month), over reps with a target. Amber below 100%, red below "
             f"{pacing_warning:.0%}.",
             f"sum(rep:sla_workable_leads:sum{{{MTD}}} and on (rep, team) {expected}) / (sum({expected}) > 0)",
             "percentunit", pacing),
        stat("Median first response", "Median time from a lead becoming workable to its first call attempt, over "
             "the dashboard's range, in SLA-clock (business) time.", response_quantile(0.5, "le"), "s", fast),
        stat("p95 first response", "95th percentile of the first-response time over the dashboard's range, in "
             "SLA-clock (business) time.", response_quantile(0.95, "le"), "s", fast),
        stat("Within SLA (MTD)", "Share of this month's decided response clocks answered within the deadline.",
             team_ratio("sla_rep_response_clocks_within_sla", "sla_rep_response_clocks"), "percentunit", within),
        stat("Attempts per workable lead", "Call attempts on this month's workable leads ÷ those leads.",
             team_ratio("sla_rep_attempts", "sla_rep_workable_leads"), "none", decimals=1),
        stat("Connect rate", "This month's workable leads with at least one connected call ÷ workable leads.",
             team_ratio("sla_rep_connected_leads", "sla_rep_workable_leads"), "percentunit"),
        stat("Pipeline conversion", "This month's workable leads with an opportunity created ÷ workable leads.",
             team_ratio("sla_rep_pipeline_leads", "sla_rep_workable_leads"), "percentunit"),
        stat("Uncontacted now", "Workable leads waiting for their first call attempt (open response clocks).",
             or_zero(f"sum({uncontacted})"), "short", none_waiting),
        stat("Overdue now", "Open response clocks past their breach stage in SLA time: late, not merely waiting "
             "for business hours.", or_zero(f"sum({overdue})"), "short", none_late),
        stat("Breaches today", "Breach-stage events of every type (first response, attempt cadence, marketing) "
             "since midnight; later retractions are not subtracted.",
             or_zero(f"round(sum({with_team(increase_since(BREACHES, '$__range'))}))"), "short", none_late,
             time_from="now/d"),
    ]  # fmt: skip
    for i, item in enumerate(headline):
        layout.add(item, 4 * (i % 6), 5 * (i // 6), 4, 5)

    # One row per rep: instant queries that all return exactly {rep, team}, merged on those labels.
    columns = [
        ("Workable MTD", f"sum by (rep, team) (rep:sla_workable_leads:sum{{{MTD}}})", {}),
        ("Target", f"max by (rep, team) (rep:sla_marketing_target:max{{{TEAM}}})", {}),
        ("Pacing", f"max by (rep, team) (rep:sla_marketing_pacing:ratio{{{TEAM}}})",
         {"unit": "percentunit", "decimals": 0, "thresholds": pacing}),
        ("Median response", response_quantile(0.5, "le, rep, team"), {"unit": "s", "decimals": 0, "thresholds": fast}),
        ("p95 response", response_quantile(0.95, "le, rep, team"), {"unit": "s", "decimals": 0, "thresholds": fast}),
        ("Within SLA", f"max by (rep, team) (rep:sla_first_response_within_sla:ratio{{{MTD}}})",
         {"unit": "percentunit", "decimals": 0, "thresholds": within}),
        ("Attempts / lead", f"max by (rep, team) (rep:sla_attempts_per_workable_lead:ratio{{{MTD}}})",
         {"decimals": 1}),
        ("Connect rate", f"max by (rep, team) (rep:sla_connect_rate:ratio{{{MTD}}})",
         {"unit": "percentunit", "decimals": 0}),
        ("Pipeline conv.", f"max by (rep, team) (rep:sla_pipeline_conversion_rate:ratio{{{MTD}}})",
         {"unit": "percentunit", "decimals": 0}),
        ("Uncontacted", f"sum by (rep, team) ({uncontacted}) or {ZERO_PER_REP}", {"thresholds": none_waiting}),
        ("Overdue", f"sum by (rep, team) ({overdue}) or {ZERO_PER_REP}", {"thresholds": none_late}),
        ("Oldest waiting", f"max by (rep, team) (rep:sla_oldest_uncontacted_seconds:max{{{TEAM}}}) or {ZERO_PER_REP}",
         {"unit": "dtdurations", "mappings": [{"type": "value", "options": {"0": {"index": 0, "text": "–"}}}]}),
    ]  # fmt: skip
    refs = [chr(ord("A") + i) for i in range(len(columns))]
    overrides = [override("Rep", **{"custom.width": 160})]
    for name, _, properties in columns:
        properties = dict(properties)
        if "thresholds" in properties:
            properties["color"] = {"mode": "thresholds"}
            properties["custom.cellOptions"] = {"mode": "basic", "type": "color-background"}
        if properties:
            overrides.append(override(name, **properties))
    table = panel(
        "table",
        "Per rep",
        "One row per rep of the selected teams. Workable leads, pacing, within SLA, attempts, connects and "
        "pipeline are month to date (cohort of leads that became workable this month); response times cover the "
        "dashboard's range; uncontacted, overdue and oldest waiting are now.",
        [target(ref, expr, instant=True, table=True) for ref, (_, expr, _) in zip(refs, columns)],
        fieldConfig={
            "defaults": {
                "color": {"mode": "thresholds"},
                "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False},
                "mappings": [NAN_AS_DASH],
                "noValue": "–",
                "thresholds": steps(NEUTRAL),
                "unit": "short",
            },
            "overrides": overrides,
        },
        options={
            "cellHeight": "lg",
            "footer": {"countRows": False, "fields": "", "reducer": ["sum"], "show": False},
            "showHeader": True,
            "sortBy": [{"desc": True, "displayName": "Overdue"}],
        },
        transformations=[
            {"id": "merge", "options": {}},
            {
                "id": "organize",
                "options": {
                    "excludeByName": {"Time": True},
                    "indexByName": {"rep": 0, "team": 1, **{f"Value #{ref}": i + 2 for i, ref in enumerate(refs)}},
                    "renameByName": {
                        "rep": "Rep",
                        "team": "Team",
                        **{f"Value #{ref}": name for ref, (name, _, _) in zip(refs, columns)},
                    },
                },
            },
        ],
    )
    layout.add(table, 0, 10, 24, 12)

    per_rep_today = f"round(sum by (rep) ({with_team(increase_since(BREACHES, '$__range'))}))"
    breaches = panel(
        "bargauge",
        "Breaches today by rep",
        "Breach-stage events of every type since midnight, per rep of the selected teams.",
        [target("A", f"sort_desc({per_rep_today} or sum by (rep) ({ZERO_PER_REP}))", legend="{{rep}}",
                instant=True)],
        fieldConfig={
            "defaults": {"color": {"mode": "thresholds"}, "decimals": 0, "min": 0, "thresholds": none_late,
                         "unit": "short"},
            "overrides": [],
        },
        options={
            "displayMode": "basic",
            "maxVizHeight": 36,
            "minVizHeight": 16,
            "minVizWidth": 8,
            "namePlacement": "left",
            "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "showUnfilled": True,
            "sizing": "auto",
            "valueMode": "color",
        },
        timeFrom="now/d",
    )  # fmt: skip
    layout.add(breaches, 0, 22, 8, 11)
    waiting = timeseries(
        "Uncontacted and overdue",
        "Workable leads waiting for a first call, and those of them past their breach stage, over the range.",
        [
            target("A", or_zero(f"sum({uncontacted})"), legend="uncontacted"),
            target("B", or_zero(f"sum({overdue})"), legend="overdue"),
        ],
        overrides=[
            override("uncontacted", color={"fixedColor": AMBER, "mode": "fixed"}),
            override("overdue", color={"fixedColor": RED, "mode": "fixed"}),
        ],
    )
    layout.add(waiting, 8, 22, 9, 11)
    layout.add(stat("Firing SLA alerts", "Prometheus alerts named Sla* firing now.", FIRING, "short",
                    steps(GREEN, 1, RED)), 17, 22, 7, 4)  # fmt: skip
    layout.add(alert_list(), 17, 26, 7, 7)

    team = {
        "allValue": ".*",
        "current": {"text": ["All"], "value": ["$__all"]},
        "datasource": DS,
        "definition": "label_values(sla_rep_info, team)",
        "hide": 0,
        "includeAll": True,
        "label": "Team",
        "multi": True,
        "name": "team",
        "options": [],
        "query": {
            "qryType": 1,
            "query": "label_values(sla_rep_info, team)",
            "refId": "PrometheusVariableQueryEditor-VariableQuery",
        },
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "type": "query",
    }
    return dashboard(
        "sla-wallboard",
        "SLA wallboard",
        "The Sales & Marketing SLA per rep, month to date: workable leads against target, first-response times, "
        "attempts, connects, pipeline, and who is waiting for a call now.",
        layout.panels,
        {"from": "now/M", "to": "now"},
        variables=[team],
        link_to=("sla-service-health", "SLA service health"),
    )


def service_health() -> dict:
    workers = 'job="sla-worker"'
    layout = Layout()
    headline = [
        stat("Workers up", "Worker targets Prometheus scrapes successfully.", f"sum(up{{{workers}}})",
             thresholds=steps(RED, 1, GREEN)),
        stat("Workers ready", "Workers whose /readyz answers 200 (tables recovered, not rebalancing).",
             "sum(sla:workers_ready:sum)", thresholds=steps(RED, 1, GREEN)),
        stat("Assigned partitions", "Lead-topic partitions processed (active, not standby) by all workers; "
             "SLA_PARTITIONS when the group is complete.", "sum(sla_assigned_partitions)"),
        stat("Consumer lag", "Input records not processed yet, all topics and workers.",
             "sum(sla:consumer_lag_records:sum)", thresholds=steps(GREEN, 1000, AMBER, 10000, RED)),
        stat("Dead-letter ratio (5m)", "Share of input records dead-lettered (invalid) over the last 5 minutes; "
             "0 without input.", or_zero("sla:dead_letter:ratio_rate5m"), "percentunit",
             steps(GREEN, 0.01, AMBER, 0.05, RED), decimals=1),
        stat("Firing SLA alerts", "Prometheus alerts named Sla* firing now.", FIRING,
             thresholds=steps(GREEN, 1, RED)),
    ]  # fmt: skip
    for i, item in enumerate(headline):
        layout.add(item, 4 * i, 0, 4, 4)

    state = panel(
        "state-timeline",
        "Workers up and ready",
        "Each worker: scraped by Prometheus (up) and ready (/readyz answers 200).",
        [target("A", f"max by (instance) (up{{{workers}}})", legend="{{instance}} up"),
         target("B", "max by (instance) (sla_worker_ready)", legend="{{instance}} ready")],
        fieldConfig={
            "defaults": {
                "color": {"mode": "thresholds"},
                "custom": {"fillOpacity": 80, "lineWidth": 0},
                "mappings": [{"type": "value", "options": {"0": {"color": RED, "index": 0, "text": "no"},
                                                           "1": {"color": GREEN, "index": 1, "text": "yes"}}}],
                "thresholds": steps(RED, 1, GREEN),
            },
            "overrides": [],
        },
        options={"alignValue": "center", "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
                 "mergeValues": True, "rowHeight": 0.8, "showValue": "auto",
                 "tooltip": {"mode": "single", "sort": "none"}},
    )  # fmt: skip
    # rows of panels, each a panel or (title, description, targets, timeseries options), under an optional row title
    sections = [
        ("Input", [
            ("Input rate by topic and result", "Records per second by input topic and result: ok, invalid "
             "(dead-lettered) or duplicate (an event_id seen before, ignored).",
             [target("A", "sum by (topic, result) (sla:events:rate5m)", legend="{{topic}} {{result}}")],
             {"unit": "cps"}),
            ("Dead letters", "Invalid input records sent to dead-letter: per second (left axis) and as a share "
             "of all input (right axis).",
             [target("A", or_zero('sum(sla:events:rate5m{result="invalid"})'), legend="dead-lettered/s"),
              target("B", or_zero("sla:dead_letter:ratio_rate5m"), legend="ratio")],
             {"unit": "cps", "overrides": [override("ratio", unit="percentunit",
                                                    **{"custom.axisPlacement": "right"})]}),
        ]),
        (None, [
            ("Consumer lag by topic", "Records of the assigned input partitions not processed yet.",
             [target("A", "sum by (topic) (sla:consumer_lag_records:sum)", legend="{{topic}}")], {}),
            ("Open response clocks", "Workable leads waiting for their first call: all workers, and each worker "
             "(its own partitions).",
             [target("A", "sla:open_response_clocks:sum", legend="all workers"),
              target("B", "sum by (instance) (sla_open_response_clocks)", legend="{{instance}}")], {}),
        ]),
        ("Breach timers", [
            ("Breach emission lag", "Emission time minus due time of breach stages, 5-minute p50 and p99 by "
             "breach type; 0 when no stage was emitted in the last 5 minutes.",
             [target("A", or_zero("histogram_quantile(0.5, sum by (le, breach_type) "
                                  "(rate(sla_timer_lag_seconds_bucket[5m]))) and on (breach_type) "
                                  "(sum by (breach_type) (rate(sla_timer_lag_seconds_count[5m])) > 0)"),
                     legend="p50 {{breach_type}}"),
              target("B", or_zero("sla:timer_lag_seconds:p99_5m"), legend="p99 {{breach_type}}")],
             {"unit": "s"}),
            ("Breach events", "Breach events emitted in the last hour, by breach type and stage (warning, "
             "breach, escalation, retracted).",
             [target("A", or_zero("sum by (breach_type, stage) (rep:sla_breaches:increase1h)"),
                     legend="{{breach_type}} {{stage}}")], {}),
            ("Notifications by result", "Breach notifications posted to the webhook per 5 minutes, by result; "
             "0 when no notifier is configured.",
             [target("A", or_zero("sum by (result) (increase(sla_notifications_total[5m]))"),
                     legend="{{result}}")], {}),
        ]),
        ("Workers", [
            state,
            ("Assigned partitions per worker", "Lead-topic partitions each worker processes; steps are "
             "rebalances.",
             [target("A", "max by (instance) (sla_assigned_partitions)", legend="{{instance}}")],
             {"stacked": True}),
        ]),
        (None, [
            ("Rebalances", "Consumer-group rebalances each worker went through.",
             [target("A", "sum by (instance) (increase(sla_rebalances_total[$__rate_interval]))",
                     legend="{{instance}}")], {"bars": True}),
            ("Scrape duration per worker", "How long Prometheus takes to scrape each worker's /metrics.",
             [target("A", f"max by (instance) (scrape_duration_seconds{{{workers}}})", legend="{{instance}}")],
             {"unit": "s"}),
        ]),
        (None, [
            ("Worker memory (RSS)", "Resident memory of each worker process.",
             [target("A", f"max by (instance) (process_resident_memory_bytes{{{workers}}})",
                     legend="{{instance}}")], {"unit": "bytes"}),
            ("Worker CPU", "CPU time used by each worker process (100% = one core).",
             [target("A", f"sum by (instance) (rate(process_cpu_seconds_total{{{workers}}}[$__rate_interval]))",
                     legend="{{instance}}")], {"unit": "percentunit"}),
        ]),
    ]  # fmt: skip
    y = 4
    for title, items in sections:
        if title:
            layout.add(row(title), 0, y, 24, 1)
            y += 1
        width = 24 // len(items)
        for i, item in enumerate(items):
            layout.add(item if isinstance(item, dict) else timeseries(*item[:3], **item[3]), i * width, y, width, 8)
        y += 8
    layout.add(row("Alerts"), 0, y, 24, 1)
    layout.add(alert_list(), 0, y + 1, 24, 8)
    return dashboard(
        "sla-service-health",
        "SLA service health",
        "The SLA stream service itself: input, dead letters, consumer lag, breach timers, workers.",
        layout.panels,
        {"from": "now-6h", "to": "now"},
        link_to=("sla-wallboard", "SLA wallboard"),
    )


def dashboards() -> dict[Path, str]:
    """Path -> the JSON text this script writes there."""
    return {
        OUT / f"{board['uid']}.json": json.dumps(board, indent=2, ensure_ascii=False) + "\n"
        for board in (wallboard(), service_health())
    }


def main(argv: list[str]) -> int:
    wanted = dashboards()
    if "--check" in argv:
        stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from what {Path(__file__).name} writes", file=sys.stderr)
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in wanted.items():
        path.write_text(text)
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
