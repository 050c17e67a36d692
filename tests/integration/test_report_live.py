"""``python -m stream report`` live: the weekly report of a running worker,
from its merged day buckets (``/sla/reps/buckets``), its targets
(``/sla/reps``) and its teams (``sla_rep_info`` on ``/metrics``)."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import orjson

from stream.report.weekly import Week
from tests.support import events as ev
from tests.support.kafka import ROOT, produce
from tests.support.worker import wait_for

# Plain time and UTC everywhere, so the week of "now" is the same for every rep.
POLICY = """
[response]
deadline_seconds = 3600
business_hours = false

[scoring]
workable_threshold = 0

[calendar]
timezone = "UTC"

[[reps]]
rep_id = "r-1"
team = "east"
timezone = "UTC"
monthly_workable_target = 22
"""


def row(html: str, table: str, name: str) -> dict[str, str]:
    """data-field -> data-value of one row of a table of the page."""
    section = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    match = re.search(rf'<tr data-name="{re.escape(name)}"[^>]*>(.*?)</tr>', section, re.S)
    assert match, f"no row {name} in {table}"
    return dict(re.findall(r'data-field="([^"]+)" data-value="([^"]*)"', match[1]))


def test_the_live_report_reads_the_running_workers(start_workers, tmp_path):
    (worker,) = start_workers(POLICY)
    now = datetime.now(timezone.utc)
    # Keep every event inside today's UTC date, hence inside this week.
    start = max(now - timedelta(seconds=90), now.replace(hour=0, minute=0, second=1, microsecond=0))
    produce(worker.bootstrap, [
        (worker.topic("lead-created"), "L1", ev.lead("L1", start, owner="r-1")),
        (worker.topic("call-attempt"), "L1", ev.call("L1", ev.later(start, 30), rep="r-1", outcome="connected")),
        (worker.topic("lead-created"), "L2", ev.lead("L2", ev.later(start, 5), owner="r-1")),
        (worker.topic("lead-created"), "L3", ev.lead("L3", ev.later(start, 10))),
        (worker.topic("lead-assigned"), "L3", ev.assigned("L3", ev.later(start, 30), "r-1")),
    ])

    def three_leads() -> bool:
        status, body = worker.get("/sla/reps/buckets")
        return status == 200 and sum(b["workable_leads"] for b in orjson.loads(body)["buckets"]) == 3

    wait_for(three_leads, 60, message="three workable leads in the buckets")
    week = Week.of(now.date())
    policy = tmp_path / "policy.toml"
    policy.write_text(POLICY, encoding="utf-8")
    out = tmp_path / "live.html"
    result = subprocess.run(
        [sys.executable, "-m", "stream", "report", "--url", worker.url(""), "--week", str(week),
         "--policy", str(policy), "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert f"live workers at {worker.url('')}" in html
    r1 = row(html, "rep-table", "r-1")
    # L1 answered in 30 s, L2 still open and not due: one clock decided, within
    assert (r1["workable"], r1["within_sla"], r1["connect_rate"]) == ("2", "1.0", "0.5")
    assert float(r1["response_median"]) == 30.0
    assert re.search(r'<tr data-name="r-1"[^>]*><th scope="row">r-1</th><td class="text" data-field="team">east</td>',
                     html)
    unassigned = row(html, "delay-team-table", "unassigned")
    assert float(unassigned["routing_median"]) == 20.0  # L3: created, then routed 20 s later
    assert row(html, "team-table", "total")["workable"] == "3"
    assert 'id="segments-unavailable"' in html

    md = subprocess.run(
        [sys.executable, "-m", "stream", "report", "--url", worker.url(""), "--week", str(week),
         "--policy", str(policy), "--format", "md"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert md.returncode == 0, md.stderr
    assert "Workable leads: **3**" in md.stdout and "| east | 2 |" in md.stdout


def test_an_unreachable_worker_exits_1():
    result = subprocess.run(
        [sys.executable, "-m", "stream", "report", "--url", "http://127.0.0.1:9"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1 and "cannot reach a worker" in result.stderr
