"""deploy/alertmanager/alertmanager.yml: valid for amtool (Debian's 0.25),
routes by team and SLA, inhibits warnings under breaches, holds no secret."""

import json
import subprocess

import pytest
import yaml

from tests.support.tools import ALERTMANAGER_DIR, on_path

CONFIG = ALERTMANAGER_DIR / "alertmanager.yml"


@pytest.fixture(scope="module")
def amtool() -> str:
    path = on_path("amtool")
    assert path, "amtool is not on PATH: run `make install` (deploy/install-system.sh installs prometheus-alertmanager)"
    return path


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load(CONFIG.read_text())


def amtool_run(amtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([amtool, *args], cwd=ALERTMANAGER_DIR, capture_output=True, text=True, timeout=60)


def test_amtool_accepts_the_config(amtool):
    out = amtool_run(amtool, "check-config", str(CONFIG))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 templates" in out.stdout  # templates/*.tmpl was found and parsed


@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=SlaWorkableLeadUncontacted", "severity=breach", "sla=first_response", "rep=r1", "team=east"], "team-east"),
        (["alertname=SlaMarketingBehindPace", "severity=warning", "sla=marketing", "rep=r2", "team=west"], "team-west"),
        (["alertname=SlaWorkerDown", "severity=critical", "sla=service", "instance=w1:6066"], "ops"),
        (["alertname=SlaAttemptCadenceBreached", "severity=breach", "sla=attempt_cadence", "rep=r9", "team=north"], "default-webhook"),
        (["alertname=SlaWorkableLeadUncontacted", "severity=breach", "sla=first_response", "rep=other", "team=none"], "default-webhook"),
    ],
)
def test_routing(amtool, labels, receiver):
    out = amtool_run(amtool, "config", "routes", "test", f"--config.file={CONFIG}", *labels)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == receiver


def test_groups_by_alert_team_and_rep(config):
    assert config["route"]["group_by"] == ["alertname", "team", "rep"]


def test_breach_inhibits_warnings_of_the_same_rep_and_sla(config):
    rules = config["inhibit_rules"]
    breach = [r for r in rules if 'severity="breach"' in r["source_matchers"]]
    assert breach and breach[0]["target_matchers"] == ['severity="warning"']
    assert set(breach[0]["equal"]) == {"rep", "sla"}
    critical = [r for r in rules if 'severity="critical"' in r["source_matchers"]]
    assert critical and critical[0]["target_matchers"] == ['severity="warning"']
    assert critical[0]["equal"] == ["instance"]


def test_no_secret_in_the_file(config):
    for receiver in config["receivers"]:
        for slack in receiver.get("slack_configs", []):
            assert "api_url" not in slack, receiver["name"]
            assert slack["api_url_file"].startswith("/etc/alertmanager/secrets/"), receiver["name"]
    assert "hooks.slack.com" not in CONFIG.read_text()


def test_slack_template_renders(amtool, tmp_path):
    data = {
        "receiver": "team-east",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "SlaWorkableLeadUncontacted", "rep": "r1", "team": "east", "severity": "breach"},
                "annotations": {"summary": "r1 (east): 2 workable lead(s) uncontacted past the first-response deadline"},
            }
        ],
        "groupLabels": {"alertname": "SlaWorkableLeadUncontacted", "team": "east", "rep": "r1"},
        "commonLabels": {"alertname": "SlaWorkableLeadUncontacted", "rep": "r1", "team": "east", "severity": "breach"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
    }
    (tmp_path / "data.json").write_text(json.dumps(data))
    out = amtool_run(
        amtool,
        "template",
        "render",
        "--template.glob=templates/*.tmpl",
        f"--template.data={tmp_path / 'data.json'}",
        '--template.text={{ template "sla.slack.title" . }}\n{{ template "sla.slack.text" . }}',
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[:2] == [
        "[FIRING:1] SlaWorkableLeadUncontacted · team east · rep r1",
        ":rotating_light: r1 (east): 2 workable lead(s) uncontacted past the first-response deadline",
    ]
