"""The provisioned Grafana dashboards, checked without Grafana or Prometheus:
their shape, their team filter, the figures they must show, and that every
panel query is PromQL that promtool accepts."""

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.grafana import (
    DASHBOARD_DIR,
    DASHBOARDS,
    SERVICE_HEALTH,
    WALLBOARD,
    dashboard_queries,
    substitute,
)

ROOT = Path(__file__).resolve().parents[3]
GRAFANA = ROOT / "deploy" / "grafana"
BUILDER = GRAFANA / "build_dashboards.py"
PROVIDER = GRAFANA / "provisioning" / "dashboards" / "sla.yml"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
COMPOSE = ROOT / "docker-compose.yml"
RULE_DIR = ROOT / "deploy" / "prometheus"
DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards"  # where compose mounts deploy/grafana/dashboards
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
UIDS = {WALLBOARD: "sla-wallboard", SERVICE_HEALTH: "sla-service-health"}
PROMTOOLS = {
    "promtool-2.42": Path("/usr/bin/promtool"),
    "promtool-3.7.3": ROOT / ".tools" / "prometheus-3.7.3" / "promtool",
}

# Series a worker exports (SPEC §7 and the worker's health metrics), and the recording rules.
RAW = {
    "sla_events_total", "sla_leads_scored_total", "sla_first_response_seconds_bucket",
    "sla_first_response_seconds_sum", "sla_first_response_seconds_count", "sla_breaches_total",
    "sla_open_response_clocks", "sla_uncontacted_workable_leads", "sla_overdue_response_clocks",
    "sla_oldest_uncontacted_seconds", "sla_rep_workable_leads", "sla_rep_attempts", "sla_rep_connected_leads",
    "sla_rep_pipeline_leads", "sla_rep_response_clocks", "sla_rep_response_clocks_within_sla",
    "sla_marketing_target", "sla_marketing_expected_to_date", "sla_timer_lag_seconds_bucket",
    "sla_timer_lag_seconds_sum", "sla_timer_lag_seconds_count", "sla_rep_info", "sla_worker_ready",
    "sla_assigned_partitions", "sla_consumer_lag_records", "sla_rebalances_total", "sla_notifications_total",
}  # fmt: skip
RULES = {
    "rep:sla_attempts_per_workable_lead:ratio", "rep:sla_connect_rate:ratio",
    "rep:sla_pipeline_conversion_rate:ratio", "rep:sla_first_response_within_sla:ratio",
    "rep:sla_marketing_pacing:ratio", "rep:sla_workable_leads:sum", "rep:sla_response_clocks:sum",
    "rep:sla_overdue_response_clocks:sum", "rep:sla_uncontacted_workable_leads:sum",
    "rep:sla_oldest_uncontacted_seconds:max", "rep:sla_marketing_target:max",
    "rep:sla_marketing_expected_to_date:max", "rep:sla_breaches:increase1h", "sla:events:rate5m",
    "sla:dead_letter:ratio_rate5m", "sla:timer_lag_seconds:p99_5m", "sla:consumer_lag_records:sum",
    "sla:open_response_clocks:sum", "sla:workers_ready:sum",
}  # fmt: skip
# Per-rep series with a `team` label: filtered by the team variable in their own selector.
WITH_TEAM = {name for name in RULES if name.startswith("rep:")} | {
    name for name in RAW if name.startswith("sla_rep_") or name.startswith("sla_marketing_")
}
# Per-rep series without `team`: joined to it through sla_rep_info.
REP_ONLY = {
    "sla_leads_scored_total", "sla_first_response_seconds_bucket", "sla_first_response_seconds_sum",
    "sla_first_response_seconds_count", "sla_breaches_total", "sla_uncontacted_workable_leads",
    "sla_overdue_response_clocks", "sla_oldest_uncontacted_seconds",
}  # fmt: skip
# Prometheus scrapes itself too: these are the workers' only with job="sla-worker".
SHARED = ("up", "scrape_duration_seconds", "process_resident_memory_bytes", "process_cpu_seconds_total")

NAME = re.compile(r'(?<![\w:$"])[a-zA-Z_][\w:]*')
SELECTOR = r"(?<![\w:]){name}(?![\w:])(\{{[^}}]*\}})?"
TEAM_FILTER = 'team=~"$team"'


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def all_panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels") or [])


def names_in(expr: str) -> set[str]:
    """The SLA series and recording rules the expression selects."""
    return {name for name in NAME.findall(expr) if name.startswith(("sla_", "sla:", "rep:"))}


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_is_json_with_its_uid_and_a_grafana_12_schema(path):
    board = load(path)
    assert board["uid"] == UIDS[path]
    assert 39 <= board["schemaVersion"] <= 41
    assert board["panels"]


def test_the_dashboards_folder_holds_just_the_two_dashboards():
    assert sorted(DASHBOARD_DIR.glob("*.json")) == sorted(DASHBOARDS)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panel_ids_are_unique(path):
    ids = [panel["id"] for panel in all_panels(load(path)["panels"])]
    assert len(ids) == len(set(ids)), ids


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_panel_with_queries_uses_the_provisioned_prometheus(path):
    provisioned = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    assert PROMETHEUS in [{"type": ds["type"], "uid": ds["uid"]} for ds in provisioned]
    for panel in all_panels(load(path)["panels"]):
        if not panel.get("targets"):
            continue
        assert panel.get("datasource") == PROMETHEUS, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", PROMETHEUS) == PROMETHEUS, (panel["title"], target["refId"])
    for variable in load(path).get("templating", {}).get("list", []):
        assert variable.get("datasource") == PROMETHEUS, variable["name"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_target_has_an_expression_and_a_unique_ref_id(path):
    for panel in all_panels(load(path)["panels"]):
        targets = panel.get("targets") or []
        assert all(t.get("expr", "").strip() for t in targets), panel["title"]
        refs = [t["refId"] for t in targets]
        assert len(refs) == len(set(refs)), panel["title"]


def test_dashboard_queries_finds_every_target_including_collapsed_rows(tmp_path):
    board = {
        "uid": "u",
        "panels": [
            {"id": 1, "type": "stat", "title": "top", "targets": [{"refId": "A", "expr": "up"}]},
            {
                "id": 2,
                "type": "row",
                "title": "row",
                "collapsed": True,
                "panels": [{"id": 3, "type": "timeseries", "title": "inner", "timeFrom": "now/d",
                            "targets": [{"refId": "A", "expr": "sum(up)", "instant": True}]}],
            },
        ],
    }  # fmt: skip
    (tmp_path / "board.json").write_text(json.dumps(board))
    found = dashboard_queries(tmp_path / "board.json")
    assert [(q.dashboard_uid, q.panel_title, q.ref_id, q.expr) for q in found] == [
        ("u", "top", "A", "up"),
        ("u", "inner", "A", "sum(up)"),
    ]
    assert found[1].instant and found[1].time_from == "now/d" and found[1].name == "u / inner / A"


def test_substitute_replaces_every_form_of_the_variables():
    expr = 'sum(increase(x{team=~"$team"}[$__range])) + rate(y{team=~"${team}"}[${__rate_interval}]) + z[$__interval]'
    assert substitute(expr, team="(east|west)", range="2h", rate_interval="2m", interval="15s") == (
        'sum(increase(x{team=~"(east|west)"}[2h])) + rate(y{team=~"(east|west)"}[2m]) + z[15s]'
    )
    assert substitute('x{team=~"${team:regex}"}') == 'x{team=~".*"}'
    with pytest.raises(KeyError):
        substitute("x[$__unknown]")


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_uses_only_variables_substitute_knows(path):
    for query in dashboard_queries(path):
        assert "$" not in substitute(query.expr), query.name


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_selects_only_exported_series_and_recording_rules(path):
    for query in dashboard_queries(path):
        unknown = names_in(query.expr) - RAW - RULES
        assert not unknown, (query.name, unknown)


def recorded_rule_names() -> set[str]:
    names = set()
    for path in RULE_DIR.rglob("*.y*ml"):
        doc = yaml.safe_load(path.read_text()) or {}
        for group in doc.get("groups", []) if isinstance(doc, dict) else []:
            names |= {rule["record"] for rule in group.get("rules", []) if "record" in rule}
    return names


def test_every_recording_rule_used_is_recorded_in_deploy_prometheus():
    recorded = recorded_rule_names()
    if not recorded:
        pytest.skip("no recording rules under deploy/prometheus/ yet")
    used = {n for path in DASHBOARDS for q in dashboard_queries(path) for n in names_in(q.expr) if n in RULES}
    assert used - recorded == set()


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_a_zero_fallback_never_adds_a_series_beside_real_ones(path):
    # `x or vector(0)` adds an unlabelled 0 beside x's labelled series; `or on () vector(0)` only replaces nothing.
    for query in dashboard_queries(path):
        assert not re.search(r"\bor\s+vector\(", query.expr), query.name


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_series_shared_with_prometheus_itself_are_limited_to_the_workers(path):
    for query in dashboard_queries(path):
        for name in SHARED:
            for match in re.finditer(SELECTOR.format(name=name), query.expr):
                assert match.group(1) and 'job="sla-worker"' in match.group(1), (query.name, name)


# --- promtool ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    """Every panel query, substituted, as a recording rule; and which rule is which query."""
    all_queries = [q for path in DASHBOARDS for q in dashboard_queries(path)]
    rules = [{"record": f"grafana_panel_query_{i}", "expr": substitute(q.expr)} for i, q in enumerate(all_queries)]
    path = tmp_path_factory.mktemp("promtool") / "panel-queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana-panel-queries", "rules": rules}]}, sort_keys=False))
    return path, {f"grafana_panel_query_{i}": q.name for i, q in enumerate(all_queries)}


@pytest.mark.parametrize("promtool", PROMTOOLS.values(), ids=PROMTOOLS.keys())
def test_every_panel_query_is_valid_promql(promtool, rules_file):
    if not promtool.exists():
        pytest.skip(f"{promtool} is not installed (deploy/prometheus/promtool.sh builds it)")
    path, which = rules_file
    out = subprocess.run([str(promtool), "check", "rules", str(path)], capture_output=True, text=True, timeout=120)
    report = out.stdout + out.stderr
    assert out.returncode == 0, report + "\n".join(f"{k}: {v}" for k, v in which.items() if f'"{k}"' in report)
    assert f"SUCCESS: {len(which)} rules found" in out.stdout + out.stderr


# --- the wallboard ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wallboard():
    return load(WALLBOARD)


def test_wallboard_shows_this_month_so_far_refreshed_every_30s(wallboard):
    assert wallboard["time"] == {"from": "now/M", "to": "now"}
    assert wallboard["refresh"] == "30s"


def test_wallboard_has_a_multi_team_variable_with_all_as_any_team(wallboard):
    (team,) = [v for v in wallboard["templating"]["list"] if v["name"] == "team"]
    query = team["query"]["query"] if isinstance(team["query"], dict) else team["query"]
    assert team["type"] == "query"
    assert query == "label_values(sla_rep_info, team)"
    assert team["multi"] and team["includeAll"] and team["allValue"] == ".*"


def test_every_per_rep_wallboard_query_filters_on_the_team():
    for query in dashboard_queries(WALLBOARD):
        names = names_in(query.expr)
        if not names & (WITH_TEAM | REP_ONLY):
            continue
        assert "$team" in query.expr, query.name
        for name in names & WITH_TEAM:
            for match in re.finditer(SELECTOR.format(name=re.escape(name)), query.expr):
                assert match.group(1) and TEAM_FILTER in match.group(1), (query.name, name)
        if names & REP_ONLY:
            assert f"sla_rep_info{{{TEAM_FILTER}}}" in query.expr, query.name


WALLBOARD_FIGURES = {
    "workable leads this month": r'rep:sla_workable_leads:sum\{[^}]*window="mtd"',
    "the month's target": r"\b(rep:)?sla_marketing_target(:max)?\b",
    "pacing": r"rep:sla_marketing_pacing:ratio",
    "median first response": r"histogram_quantile\(0\.5,.*increase\(sla_first_response_seconds_bucket\[\$__range\]\)",
    "p95 first response": r"histogram_quantile\(0\.95,.*increase\(sla_first_response_seconds_bucket\[\$__range\]\)",
    "share within the deadline": r'rep:sla_first_response_within_sla:ratio\{[^}]*window="mtd"',
    "attempts per workable lead": r'rep:sla_attempts_per_workable_lead:ratio\{[^}]*window="mtd"',
    "connect rate": r'rep:sla_connect_rate:ratio\{[^}]*window="mtd"',
    "pipeline conversion": r'rep:sla_pipeline_conversion_rate:ratio\{[^}]*window="mtd"',
    "uncontacted now": r"rep:sla_uncontacted_workable_leads:sum",
    "overdue now": r"rep:sla_overdue_response_clocks:sum",
}


@pytest.mark.parametrize("figure", WALLBOARD_FIGURES)
def test_the_per_rep_table_shows(figure, wallboard):
    (table,) = [p for p in all_panels(wallboard["panels"]) if p["type"] == "table"]
    exprs = [t["expr"] for t in table["targets"]]
    assert any(re.search(WALLBOARD_FIGURES[figure], e) for e in exprs), figure


def test_the_per_rep_table_merges_instant_tables_keyed_by_rep_and_team(wallboard):
    (table,) = [p for p in all_panels(wallboard["panels"]) if p["type"] == "table"]
    for target in table["targets"]:
        assert target["instant"] and target["format"] == "table", target["refId"]
        # merge joins rows on the columns every query has: each must return exactly {rep, team}
        assert re.search(r"\bby \((le, )?rep, team\)", target["expr"]), target["refId"]
    assert [t["id"] for t in table["transformations"]][0] == "merge"


def test_breaches_today_are_counted_since_midnight(wallboard):
    breach_panels = [
        panel
        for panel in all_panels(wallboard["panels"])
        if any("sla_breaches_total" in t["expr"] for t in panel.get("targets", []))
    ]
    assert breach_panels
    for panel in breach_panels:
        assert panel.get("timeFrom") == "now/d", panel["title"]
        for target in panel["targets"]:
            assert re.search(r'sla_breaches_total\{[^}]*stage="breach"', target["expr"]), panel["title"]
            assert "[$__range]" in target["expr"] and target["instant"], panel["title"]


HEADLINE_FIGURES = {
    "workable leads this month": WALLBOARD_FIGURES["workable leads this month"],
    "the month's target": WALLBOARD_FIGURES["the month's target"],
    "pacing": r"/ \(?sum\(rep:sla_marketing_expected_to_date:max",
    "median first response": WALLBOARD_FIGURES["median first response"],
    "p95 first response": WALLBOARD_FIGURES["p95 first response"],
    "share within the deadline": r"sum\(sla_rep_response_clocks_within_sla\{.*/ \(?sum\(sla_rep_response_clocks\{",
    "attempts per workable lead": r"sum\(sla_rep_attempts\{.*/ \(?sum\(sla_rep_workable_leads\{",
    "connect rate": r"sum\(sla_rep_connected_leads\{.*/ \(?sum\(sla_rep_workable_leads\{",
    "pipeline conversion": r"sum\(sla_rep_pipeline_leads\{.*/ \(?sum\(sla_rep_workable_leads\{",
    "uncontacted now": WALLBOARD_FIGURES["uncontacted now"],
    "overdue now": WALLBOARD_FIGURES["overdue now"],
    "breaches today": r'sla_breaches_total\{stage="breach"\}',
}


@pytest.mark.parametrize("figure", HEADLINE_FIGURES)
def test_a_headline_stat_for_the_whole_team_shows(figure, wallboard):
    stats = [p for p in all_panels(wallboard["panels"]) if p["type"] == "stat"]
    exprs = [t["expr"] for p in stats for t in p["targets"]]
    assert any(re.search(HEADLINE_FIGURES[figure], e) for e in exprs), figure


def test_wallboard_lists_the_sla_alerts(wallboard):
    assert any(p["type"] == "alertlist" for p in all_panels(wallboard["panels"]))
    assert any("ALERTS{" in q.expr for q in dashboard_queries(WALLBOARD))


# --- service health ---------------------------------------------------------------------------

HEALTH_FIGURES = {
    "input rate by topic and result": r"sum by \(topic, result\) \(sla:events:rate5m\)",
    "dead-letter rate": r'sla:events:rate5m\{result="invalid"\}',
    "dead-letter ratio": r"sla:dead_letter:ratio_rate5m",
    "consumer lag by topic": r"sum by \(topic\) \(sla:consumer_lag_records:sum\)",
    "open clocks": r"sla:open_response_clocks:sum",
    "breach emission lag p50": (
        r"histogram_quantile\(0\.5, sum by \(le, breach_type\) \(rate\(sla_timer_lag_seconds_bucket\[5m\]\)\)\)"
    ),
    "breach emission lag p99": r"sla:timer_lag_seconds:p99_5m",
    "rebalances": r"sla_rebalances_total",
    "workers up": r'up\{job="sla-worker"\}',
    "workers ready": r"sla_worker_ready|sla:workers_ready:sum",
    "assigned partitions per instance": r"by \(instance\) \(sla_assigned_partitions\)",
    "scrape duration per instance": r'by \(instance\) \(scrape_duration_seconds\{job="sla-worker"\}\)',
    "worker RSS": r"by \(instance\) \(process_resident_memory_bytes",
    "worker CPU": r"by \(instance\) \(rate\(process_cpu_seconds_total",
    "notifications by result": r"sum by \(result\) \(increase\(sla_notifications_total",
}


@pytest.mark.parametrize("figure", HEALTH_FIGURES)
def test_service_health_shows(figure):
    assert any(re.search(HEALTH_FIGURES[figure], q.expr) for q in dashboard_queries(SERVICE_HEALTH)), figure


def test_service_health_shows_the_last_6_hours():
    assert load(SERVICE_HEALTH)["time"] == {"from": "now-6h", "to": "now"}


# --- provisioning -----------------------------------------------------------------------------


def test_the_provider_reads_the_dashboards_mount_into_the_sla_folder():
    (provider,) = yaml.safe_load(PROVIDER.read_text())["providers"]
    assert provider["type"] == "file"
    assert provider["folder"] == "SMarketing SLA"
    assert provider["options"]["path"] == DASHBOARDS_MOUNT


def test_compose_mounts_the_dashboards_where_the_provider_reads():
    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    mounts = {}
    for volume in grafana.get("volumes", []):
        source, target = (volume["source"], volume["target"]) if isinstance(volume, dict) else volume.split(":")[:2]
        mounts[(ROOT / source).resolve()] = target
    if DASHBOARD_DIR.resolve() not in mounts:
        pytest.skip("docker-compose.yml does not mount deploy/grafana/dashboards yet")
    assert mounts[DASHBOARD_DIR.resolve()] == DASHBOARDS_MOUNT


def test_the_committed_json_is_what_build_dashboards_writes():
    spec = importlib.util.spec_from_file_location("build_dashboards", BUILDER)
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    for path, text in builder.dashboards().items():
        assert path.read_text() == text, f"{path.name} is stale: run python3 {BUILDER.relative_to(ROOT)}"
