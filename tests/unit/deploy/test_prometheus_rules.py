"""deploy/prometheus: the config, the recording and alerting rules and their
promtool unit tests, checked with Debian's promtool 2.42 (what the
integration test runs as a server) and the 3.x that docker-compose.yml runs."""

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.tools import PROMETHEUS_DIR, on_path, promtool3

CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RECORDING = PROMETHEUS_DIR / "rules" / "sla-recording.yml"
ALERTS = PROMETHEUS_DIR / "rules" / "sla-alerts.yml"
RULE_TESTS = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))

SPEC_RATIOS = {
    "rep:sla_attempts_per_workable_lead:ratio",
    "rep:sla_connect_rate:ratio",
    "rep:sla_pipeline_conversion_rate:ratio",
    "rep:sla_first_response_within_sla:ratio",
    "rep:sla_marketing_pacing:ratio",
}
# Dashboards and alerts read these by name.
HELPERS = {
    "rep:sla_workable_leads:sum",
    "rep:sla_response_clocks:sum",
    "rep:sla_overdue_response_clocks:sum",
    "rep:sla_uncontacted_workable_leads:sum",
    "rep:sla_oldest_uncontacted_seconds:max",
    "rep:sla_marketing_target:max",
    "rep:sla_marketing_expected_to_date:max",
    "rep:sla_breaches:increase1h",
    "sla:events:rate5m",
    "sla:dead_letter:ratio_rate5m",
    "sla:timer_lag_seconds:p99_5m",
    "sla:consumer_lag_records:sum",
    "sla:open_response_clocks:sum",
    "sla:workers_ready:sum",
}
SEVERITIES = {"warning", "breach", "critical"}
SLAS = {"first_response", "attempt_cadence", "marketing", "service"}


def promtool2() -> str:
    path = on_path("promtool")
    assert path, "promtool (Debian's prometheus package) is not on PATH: run `make install`"
    return path


def promtool_3() -> str:
    path = promtool3()
    assert path.is_file(), f"{path} is missing: run `make install` (it runs deploy/prometheus/promtool.sh)"
    return str(path)


PROMTOOLS = {"2.42": promtool2, "3.x": promtool_3}


@pytest.fixture(params=sorted(PROMTOOLS))
def promtool(request) -> str:
    return PROMTOOLS[request.param]()


def run(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def rules(path: Path) -> list[dict]:
    return [rule for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def recorded() -> dict[str, str]:
    return {rule["record"]: rule["expr"] for rule in rules(RECORDING)}


def alerts() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in rules(ALERTS)}


def rule_tests() -> list[dict]:
    return [test for path in RULE_TESTS for test in yaml.safe_load(path.read_text())["tests"]]


def mentions(expr: str, name: str) -> bool:
    return re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", expr) is not None


# --- promtool ---------------------------------------------------------------


def test_promtool_3_is_the_pinned_version():
    out = run(promtool_3(), "--version")
    assert out.returncode == 0, out.stderr
    assert "version 3.7.3" in out.stdout


def test_promtool_checks_the_config(promtool):
    out = run(promtool, "check", "config", str(CONFIG))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 rule files found" in out.stdout


def test_promtool_checks_the_rules(promtool):
    out = run(promtool, "check", "rules", str(RECORDING), str(ALERTS))
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_rule_unit_tests_pass(promtool):
    assert RULE_TESTS, "no deploy/prometheus/tests/*.test.yml"
    out = run(promtool, "test", "rules", *(path.name for path in RULE_TESTS), cwd=PROMETHEUS_DIR / "tests")
    assert out.returncode == 0, out.stdout + out.stderr


# --- the config -------------------------------------------------------------


def test_config_loads_both_rule_files_and_sends_to_alertmanager():
    config = yaml.safe_load(CONFIG.read_text())
    assert {(PROMETHEUS_DIR / path).resolve() for path in config["rule_files"]} == {RECORDING, ALERTS}
    assert all(not Path(path).is_absolute() for path in config["rule_files"])
    targets = [t for am in config["alerting"]["alertmanagers"] for sc in am["static_configs"] for t in sc["targets"]]
    assert targets == ["alertmanager:9093"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["sla-worker"]["dns_sd_configs"][0]["names"] == ["worker"]
    assert jobs["sla-worker"]["dns_sd_configs"][0]["port"] == 6066


# --- recording rules --------------------------------------------------------


def test_spec_ratios_and_helpers_are_recorded():
    names = recorded()
    assert SPEC_RATIOS <= set(names)
    assert HELPERS <= set(names)
    assert len(names) == len(rules(RECORDING)), "a recording rule name is defined twice"


@pytest.mark.parametrize("name", sorted(SPEC_RATIOS))
def test_spec_ratio_divides_sums_by_a_positive_denominator(name):
    expr = " ".join(recorded()[name].split())
    numerator, _, denominator = expr.partition(" / ")
    assert numerator.startswith("sum by (rep, team"), expr
    assert denominator.endswith("> 0)"), f"{name}: a zero denominator must give no sample: {expr}"


def test_every_recording_rule_is_unit_tested():
    exprs = [case["expr"] for test in rule_tests() for case in test.get("promql_expr_test", [])]
    untested = [name for name in recorded() if not any(mentions(expr, name) for expr in exprs)]
    assert not untested, f"recording rules without a promql_expr_test: {untested}"


# --- alerts -----------------------------------------------------------------


def test_every_alert_has_severity_sla_and_annotations():
    for name, rule in alerts().items():
        labels = rule.get("labels", {})
        assert labels.get("severity") in SEVERITIES, name
        assert labels.get("sla") in SLAS, name
        assert rule.get("annotations", {}).get("summary"), name
        assert rule["annotations"].get("description"), name


def test_per_rep_alerts_read_recorded_series_that_carry_team():
    for name, rule in alerts().items():
        if rule["labels"]["sla"] == "service":
            continue
        assert re.search(r"\brep:sla_\w+:\w+", rule["expr"]), f"{name} should read a recorded rep: series"
        assert "$labels.rep" in rule["annotations"]["summary"], name
        assert "$labels.team" in rule["annotations"]["summary"], name


def test_the_uncontacted_alert_uses_overdue_clocks():
    uncontacted = {name: rule for name, rule in alerts().items() if "Uncontacted" in name}
    breach = [rule for rule in uncontacted.values() if rule["labels"]["severity"] == "breach"]
    assert breach, "no breach-level alert named *Uncontacted*"
    assert all(mentions(rule["expr"], "rep:sla_overdue_response_clocks:sum") for rule in breach)


def test_every_alert_is_shown_firing_and_not_firing():
    cases = [case for test in rule_tests() for case in test.get("alert_rule_test", [])]
    for name in alerts():
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case.get("exp_alerts") for case in mine), f"{name} is never shown firing"
        assert any(not case.get("exp_alerts") for case in mine), f"{name} is never shown not firing"


def test_firing_per_rep_alerts_carry_team_for_routing():
    for test in rule_tests():
        for case in test.get("alert_rule_test", []):
            for alert in case.get("exp_alerts") or []:
                labels = alert["exp_labels"]
                if "rep" in labels:
                    assert labels.get("team"), f"{case['alertname']} fires without a team label"


def test_rule_tests_load_the_rule_files():
    for path in RULE_TESTS:
        files = {(path.parent / name).resolve() for name in yaml.safe_load(path.read_text())["rule_files"]}
        assert files <= {RECORDING, ALERTS} and files, path.name
