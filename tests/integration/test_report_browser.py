"""The weekly report of a planted history, rendered in headless Chromium: the
figures read from the page are the ones worked out by hand below, the page
loads nothing from elsewhere, and its charts are there for people and
described for screen readers."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from tests.support.browser import browser_page

ROOT = Path(__file__).resolve().parents[2]

# Plain time, a 5-minute deadline with no lateness, every lead workable, one
# attempt meets the cadence. Reps in UTC so that local days are UTC days.
# March 2026 has 22 business days (no US holiday); week W10 holds 5 of them.
POLICY = """
[response]
deadline_seconds = 300
business_hours = false
allowed_lateness_seconds = 0

[scoring]
workable_threshold = 0
cost_per_lead = 10

[attempts]
required = 1

[[reps]]
rep_id = "r-1"
team = "east"
timezone = "UTC"
monthly_workable_target = 22

[[reps]]
rep_id = "r-2"
team = "west"
timezone = "UTC"
monthly_workable_target = 11
"""
MON = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)  # W10
PREVIOUS_MON = datetime(2026, 2, 23, 12, 0, tzinfo=timezone.utc)  # W09


def ts(at: datetime, seconds: float = 0) -> str:
    return (at + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def history() -> list[dict]:
    lines = []

    def emit(topic: str, **value) -> None:
        lines.append({"topic": topic, "value": value})

    def created(lead: str, at: datetime, owner: str | None) -> None:
        extra = {"owner_rep_id": owner} if owner else {}
        emit("lead-created", event_id=f"{lead}-c", lead_id=lead, occurred_at=ts(at), source="web", **extra)

    def called(lead: str, at: datetime, seconds: float, outcome: str, n: int = 0, rep: str = "r-1") -> None:
        emit("call-attempt", event_id=f"{lead}-a{n}", lead_id=lead, occurred_at=ts(at, seconds), rep_id=rep,
             outcome=outcome)

    emit("reps", rep_id="r-1", team="east", timezone="UTC", monthly_workable_target=22)
    # W09: one lead of r-1, answered in 100 s and connected
    created("P1", PREVIOUS_MON, "r-1")
    called("P1", PREVIOUS_MON, 100, "connected")
    # W10, r-1: A1 answered in 120 s (connected, an opportunity later); A2 answered late, in 600 s
    created("A1", MON, "r-1")
    called("A1", MON, 120, "connected")
    created("A2", MON + timedelta(days=1), "r-1")
    called("A2", MON + timedelta(days=1), 600, "no_answer")
    # W10, r-2: B1 answered in 200 s (busy), connected at 400 s
    created("B1", MON + timedelta(days=3), "r-2")
    called("B1", MON + timedelta(days=3), 200, "busy", rep="r-2")
    called("B1", MON + timedelta(days=3), 400, "connected", n=1, rep="r-2")
    # W10, nobody's: A3 routed to r-1 after 30 minutes, called a minute later
    created("A3", MON + timedelta(days=2), None)
    emit("lead-assigned", event_id="A3-r", lead_id="A3", occurred_at=ts(MON + timedelta(days=2), 1800), rep_id="r-1")
    called("A3", MON + timedelta(days=2), 1860, "no_answer")
    # the history ends on Monday of W11 with A1's opportunity
    emit("opportunity-created", event_id="A1-o", lead_id="A1", occurred_at=ts(MON + timedelta(days=7), -3 * 3600),
         amount=5000)
    return lines


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    (folder / "policy.toml").write_text(POLICY, encoding="utf-8")
    (folder / "history.jsonl").write_bytes(b"\n".join(orjson.dumps(line) for line in history()) + b"\n")
    out = folder / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "stream", "report", "--history", str(folder / "history.jsonl"),
         "--policy", str(folder / "policy.toml"), "--output", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "2026-W10" in result.stderr  # the last complete week before the history's end
    return out


def cell(page, table: str, row: str, field: str) -> tuple[str, str]:
    """(data-value, shown text) of a cell."""
    locator = page.locator(f'#{table} tr[data-name="{row}"] td[data-field="{field}"]')
    return locator.get_attribute("data-value"), locator.inner_text()


def number(page, table: str, row: str, field: str) -> float | None:
    value, _ = cell(page, table, row, field)
    return None if value == "" else float(value)


def test_the_report_shows_the_planted_figures(report_file):
    with browser_page(width=1400, height=900) as page:
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(f"file://{report_file}")
        assert page.title() == "SMarketing weekly report 2026-W10"
        assert all(url.startswith("file://") for url in requests), requests

        # r-1: A1 and A2. Expected 22 × 5 / 22 = 5, pacing 2 / 5.
        assert number(page, "rep-table", "r-1", "workable") == 2
        assert number(page, "rep-table", "r-1", "expected") == pytest.approx(5.0)
        assert number(page, "rep-table", "r-1", "pacing") == pytest.approx(0.4)
        assert "low" in page.locator('#rep-table tr[data-name="r-1"] td[data-field="pacing"]').get_attribute("class")
        assert number(page, "rep-table", "r-1", "attempts_per_lead") == pytest.approx(1.0)
        assert number(page, "rep-table", "r-1", "connect_rate") == pytest.approx(0.5)
        assert number(page, "rep-table", "r-1", "pipeline_rate") == pytest.approx(0.5)
        # responses 120 s and 600 s: median 360, p95 120 + 0.95 × 480 = 576; one of two in time
        assert cell(page, "rep-table", "r-1", "response_median") == ("360.0", "6m00s")
        assert number(page, "rep-table", "r-1", "response_p95") == pytest.approx(576)
        assert number(page, "rep-table", "r-1", "within_sla") == pytest.approx(0.5)
        # against W09 (P1: one lead, answered in time, connected)
        assert cell(page, "rep-table", "r-1", "workable_change") == ("1", "+1")
        assert number(page, "rep-table", "r-1", "within_sla_change") == pytest.approx(-0.5)
        assert number(page, "rep-table", "r-1", "connect_rate_change") == pytest.approx(-0.5)
        assert page.locator('#rep-table tr[data-name="r-1"] td[data-field="team"]').inner_text() == "east"

        # r-2: B1, two attempts, connected, answered in 200 s; expected 11 × 5 / 22 = 2.5
        assert number(page, "rep-table", "r-2", "attempts_per_lead") == pytest.approx(2.0)
        assert number(page, "rep-table", "r-2", "expected") == pytest.approx(2.5)
        assert cell(page, "rep-table", "r-2", "response_median") == ("200.0", "3m20s")

        # teams: east = r-1, west = r-2, unassigned = A3
        assert number(page, "team-table", "east", "workable") == 2
        assert number(page, "team-table", "west", "pacing") == pytest.approx(0.4)
        assert number(page, "team-table", "unassigned", "within_sla") == 0.0
        # the total: 4 leads, 5 attempts, 2 connected, 1 opportunity; responses 120, 200, 600, 1860
        assert number(page, "team-table", "total", "workable") == 4
        assert number(page, "team-table", "total", "expected") == pytest.approx(7.5)
        assert number(page, "team-table", "total", "attempts_per_lead") == pytest.approx(1.25)
        assert number(page, "team-table", "total", "pipeline_rate") == pytest.approx(0.25)
        assert number(page, "team-table", "total", "response_median") == pytest.approx(400)
        assert number(page, "team-table", "total", "response_p95") == pytest.approx(600 + 0.85 * 1260)
        assert number(page, "headline", "within_sla", "within_sla") == pytest.approx(0.5)
        assert number(page, "headline", "workable", "workable_previous") == 1

        # routing delay: 0 for owned leads, 1800 s for A3; rep delay: 120, 600, 200 and 60 s
        assert number(page, "delay-team-table", "unassigned", "routing_median") == 1800
        assert number(page, "delay-team-table", "unassigned", "rep_delay_median") == 60
        assert number(page, "delay-team-table", "total", "routing_median") == 0
        assert number(page, "delay-team-table", "total", "rep_delay_median") == pytest.approx(160)
        assert number(page, "delay-rep-table", "r-1", "rep_delay_median") == pytest.approx(360)

        # breaches: A2 warning + breach; A3 warning + breach + escalation (due 900 s, called 1860 s)
        assert number(page, "breach-table", "total", "first_response.warning") == 2
        assert number(page, "breach-table", "total", "first_response.breach") == 2
        assert number(page, "breach-table", "total", "first_response.escalation") == 1
        assert number(page, "breach-table", "east", "first_response.breach") == 1
        assert number(page, "breach-table", "total", "attempt_cadence.breach") == 0

        # analyze's table of the same history
        assert page.locator('#segment-table tr[data-name="web|unknown|unknown"]').count() == 1
        assert number(page, "segment-table", "web|unknown|unknown", "leads") == 5

        # charts: images with a title and a description, beside the tables
        for chart in ("chart-workable", "chart-response", "chart-delays"):
            svg = page.locator(f"svg#{chart}")
            assert svg.get_attribute("role") == "img"
            assert page.locator(f"#{chart}-title").count() == 1 and page.locator(f"#{chart}-desc").count() == 1
        assert "r-1: 2 (expected 5)" in page.locator("#chart-workable-desc").text_content()
        assert "1–5 min: 2" in page.locator("#chart-response-desc").text_content()


def test_the_markdown_summary_has_the_same_figures(report_file):
    folder = report_file.parent
    result = subprocess.run(
        [sys.executable, "-m", "stream", "report", "--history", str(folder / "history.jsonl"),
         "--policy", str(folder / "policy.toml"), "--format", "md", "--week", "2026-W10"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("**SMarketing weekly report 2026-W10**")
    assert "Workable leads: **4** of 7.5 expected, pacing 0.53 (+3 vs last week)" in text
    assert "**50.0%** within the 5m00s deadline" in text
    assert "| east | 2 | 5.0 | 0.40 | 50.0% | 6m00s | 50.0% | 50.0% |" in text
