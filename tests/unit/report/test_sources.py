"""The live source of the report, against canned worker answers."""

from __future__ import annotations

from datetime import date, datetime, timezone

import orjson
import pytest

from stream.domain.rep_stats import RepDay
from stream.policy import parse_policy
from stream.report.html import render_html
from stream.report.sources import from_workers, rep_teams
from stream.report.weekly import Week

POLICY = parse_policy({"calendar": {"timezone": "UTC"}, "reps": [{"rep_id": "r-1", "team": "file-team"}]})
AS_OF = datetime(2026, 3, 10, 12, tzinfo=timezone.utc).timestamp()
METRICS = b"""# HELP sla_rep_info 1 for every rep label
# TYPE sla_rep_info gauge
sla_rep_info{rep="r-1",team="east"} 1.0
sla_rep_info{rep="r-2",team="none"} 1.0
"""


def worker(missing: list[str] | None = None, metrics: bytes | None = METRICS):
    buckets = [RepDay("r-1", date(2026, 3, 3), workable_leads=3, routing_seconds=(0.0, 0.0, 60.0)).to_dict(),
               RepDay("r-2", date(2026, 3, 4), workable_leads=1).to_dict()]
    answers = {
        "/sla/reps/buckets": {"as_of": AS_OF, "buckets": buckets, "complete": not missing,
                              "missing_workers": missing or []},
        "/sla/reps": {"marketing": {"reps": [{"rep": "r-1", "target": 44}, {"rep": "r-2", "target": None},
                                             {"rep": "r-3", "target": 22}]}, "missing_workers": missing or []},
    }

    def fetch(url: str) -> bytes:
        path = url.split("http://w", 1)[1]
        if path == "/metrics":
            if metrics is None:
                raise OSError("connection refused")
            return metrics
        return orjson.dumps(answers[path])

    return fetch


def test_teams_come_from_the_workers_metrics():
    assert rep_teams(METRICS.decode()) == {"r-1": "east", "r-2": None}


def test_the_live_report_uses_targets_teams_and_the_last_complete_week():
    report = from_workers("http://w", POLICY, fetch=worker())
    assert report.week == Week.parse("2026-W10") and report.as_of == AS_OF
    rows = {r.name: r for r in report.reps}
    assert set(rows) == {"r-1", "r-2", "r-3"}
    assert rows["r-1"].team == "east" and rows["r-1"].figures()["workable"] == 3
    assert rows["r-1"].expected == pytest.approx(44 * 5 / 22)  # March 2026: 22 business days
    assert rows["r-2"].expected is None and rows["r-3"].week.workable_leads == 0
    assert report.segments is None and "segments_file" in report.segments_note and not report.notes
    assert 'id="segments-unavailable"' in render_html(report)


def test_missing_workers_and_metrics_are_said():
    report = from_workers("http://w", POLICY, fetch=worker(missing=["http://b:6066"], metrics=None))
    assert any("partial figures" in n and "http://b:6066" in n for n in report.notes)
    assert any("/metrics did not answer" in n for n in report.notes)
    assert {r.name: r.team for r in report.reps}["r-1"] == "file-team"  # the policy's word then
    assert "partial figures" in render_html(report)


def test_the_segments_file_is_shown_live(tmp_path):
    segments = tmp_path / "segments.json"
    segments.write_bytes(b'[{"segment": "web", "leads": 40, "profitable": false, "as_of": "2026-03-01T00:00:00Z"}]')
    policy = parse_policy({"calendar": {"timezone": "UTC"}, "scoring": {"segments_file": str(segments)}})
    report = from_workers("http://w", policy, fetch=worker())
    assert [row["segment"] for row in report.segments] == ["web"]
    html = render_html(report)
    assert 'data-field="verdict" data-value="unprofitable"' in html and "2026-03-01T00:00:00Z" in html
