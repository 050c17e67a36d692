"""Per-rep SLA series, read at scrape time from this worker's buckets and clocks."""

import shutil
import subprocess
from datetime import date, datetime, timezone

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from stream.adapters.metrics import Metrics, RepLabels, RepSlaSeries
from stream.domain.rep_stats import RepDay, marketing_pacing
from stream.policy import parse_policy
from stream.service.calendars import CalendarBook
from stream.service.deadlines import DeadlineIndex
from stream.service.leads import LeadProcessor
from stream.service.rep_table import RepTable
from stream.service.scorer import build_scorer

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc).timestamp()  # a Thursday
POLICY = {
    "marketing": {"workable_leads_per_rep_per_month": 100},
    "calendar": {"timezone": "UTC", "holidays_country": "US"},
    "reps": [
        {"rep_id": "r-1", "team": "east", "monthly_workable_target": 20},
        {"rep_id": "r-2", "team": "west", "timezone": "Europe/Berlin"},
        {"rep_id": "r-gone", "team": "west", "active": False},
    ],
}


class Worker:
    def __init__(self, max_labels: int = 2000):
        self.policy = parse_policy(POLICY)
        self.calendars = CalendarBook(self.policy)
        processor = LeadProcessor(self.policy, self.calendars.calendar_for, build_scorer(self.policy))
        self.table = RepTable(self.policy, processor, self.calendars)
        self.index = DeadlineIndex()
        labels = RepLabels(max_labels, roster=self.calendars.rep_ids, version=lambda: self.calendars.version)
        self.metrics = Metrics(CollectorRegistry(), labels)
        self.metrics.rep_series = RepSlaSeries(self.index, self.table, self.calendars, self.policy, labels)
        self.metrics.start_reps(self.calendars.rep_ids())

    def lead(self, partition: int, rep: str, day: date, **counts) -> None:
        self.table.replace(partition, None, RepDay(rep=rep, day=day, workable_leads=1, **counts))

    def text(self) -> bytes:
        return b"".join(self.metrics.render(NOW))

    def value(self, name: str, **labels) -> float | None:
        for family in text_string_to_metric_families(self.text().decode()):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return sample.value
        return None


def test_windows_count_the_cohorts_of_this_workers_partitions():
    w = Worker()
    w.lead(0, "r-1", date(2026, 12, 3), attempts=3, connected_leads=1, clocks=1, clocks_within_sla=1)
    w.lead(1, "r-1", date(2026, 11, 20), attempts=1, pipeline_leads=1, clocks=1, clocks_missed=1)
    w.lead(2, "unassigned", date(2026, 12, 2), clocks=1)  # clock still running: not decided
    r1 = {"rep": "r-1", "team": "east"}
    assert w.value("sla_rep_workable_leads", **r1, window="7d") == 1
    assert w.value("sla_rep_workable_leads", **r1, window="30d") == 2
    assert w.value("sla_rep_workable_leads", **r1, window="mtd") == 1
    assert w.value("sla_rep_attempts", **r1, window="30d") == 4
    assert w.value("sla_rep_connected_leads", **r1, window="30d") == 1
    assert w.value("sla_rep_pipeline_leads", **r1, window="30d") == 1
    assert w.value("sla_rep_response_clocks", **r1, window="30d") == 2
    assert w.value("sla_rep_response_clocks_within_sla", **r1, window="30d") == 1
    nobody = {"rep": "unassigned", "team": "none", "window": "7d"}
    assert w.value("sla_rep_workable_leads", **nobody) == 1
    assert w.value("sla_rep_response_clocks", **nobody) == 0


def test_roster_reps_without_leads_export_zeros_and_inactive_reps_nothing():
    w = Worker()
    for window in ("7d", "30d", "mtd"):
        assert w.value("sla_rep_workable_leads", rep="r-2", team="west", window=window) == 0
    assert w.value("sla_rep_workable_leads", rep="r-gone", team="west", window="7d") is None
    assert w.value("sla_rep_info", rep="r-2", team="west") == 1


def test_marketing_target_and_expected_to_date_follow_the_reps_calendar():
    w = Worker()
    assert w.value("sla_marketing_target", rep="r-1", team="east") == 20
    assert w.value("sla_marketing_target", rep="r-2", team="west") == 100
    for rep, team in (("r-1", "east"), ("r-2", "west")):
        expected = marketing_pacing(rep, 0, w.value("sla_marketing_target", rep=rep, team=team),
                                    w.calendars.calendar_for(rep), NOW).expected_to_date
        assert w.value("sla_marketing_expected_to_date", rep=rep, team=team) == pytest.approx(expected)
    # December 2026 has 22 business days on a US calendar; Dec 1-3 have passed.
    assert w.value("sla_marketing_expected_to_date", rep="r-1", team="east") == pytest.approx(20 * 3 / 22)
    assert w.value("sla_marketing_target", rep="unassigned", team="none") is None


def test_open_and_overdue_clocks_by_owner_with_a_team_for_every_owner():
    w = Worker()
    w.index.set_open(0, "a", (NOW - 600, "r-1", NOW - 300))  # past its breach stage
    w.index.set_open(0, "b", (NOW - 60, "r-1", NOW + 240))
    w.index.set_open(1, "c", (NOW - 7200, "r-9", NOW + 3600))  # waiting for business hours
    w.index.set_open(1, "d", (NOW - 30, None, NOW - 1))
    assert w.value("sla_open_response_clocks") == 4
    assert w.value("sla_uncontacted_workable_leads", rep="r-1") == 2
    assert w.value("sla_overdue_response_clocks", rep="r-1") == 1
    assert w.value("sla_overdue_response_clocks", rep="r-9") == 0
    assert w.value("sla_overdue_response_clocks", rep="unassigned") == 1
    assert w.value("sla_oldest_uncontacted_seconds", rep="r-9") == 7200
    # r-9 is in no roster: its team is `none`, and the info series exists for joins.
    assert w.value("sla_rep_info", rep="r-9", team="none") == 1
    assert w.value("sla_rep_info", rep="unassigned", team="none") == 1


def test_reps_beyond_the_label_cap_are_summed_into_other():
    w = Worker(max_labels=1)
    for i in range(3):
        w.lead(i, f"x-{i}", date(2026, 12, 3), attempts=1)
    # Roster reps always get their own label; the cap is on the others: one fits.
    others = [w.value("sla_rep_workable_leads", rep=r, team="none", window="7d") for r in ("x-0", "x-1", "x-2")]
    assert sorted(v for v in others if v is not None) == [1]
    assert w.value("sla_rep_workable_leads", rep="other", team="none", window="7d") == 2
    assert w.value("sla_rep_attempts", rep="other", team="none", window="7d") == 2


def test_a_roster_change_of_team_shows_at_the_next_scrape():
    from schemas.reps import RepRecord

    w = Worker()
    w.calendars.update_rep(RepRecord(rep_id="r-1", team="north"))
    assert w.value("sla_rep_info", rep="r-1", team="north") == 1
    assert w.value("sla_rep_info", rep="r-1", team="east") is None


def test_the_exposition_passes_promtool():
    promtool = shutil.which("promtool")
    assert promtool, "promtool is installed by `make install` (Debian package prometheus)"
    w = Worker()
    w.lead(0, "r-1", date(2026, 12, 3), attempts=3)
    w.index.set_open(0, "a", (NOW - 600, "r-1", NOW - 300))
    w.metrics.scored("r-1", True)
    w.metrics.scored('odd "rep"\\ \n', False)
    w.metrics.responded("r-1", 42.0)
    w.metrics.breached("r-1", "first_response", "breach", 0.2)
    check = subprocess.run([promtool, "check", "metrics"], input=w.text(), capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_per_rep_counters_and_histograms():
    w = Worker()
    w.metrics.scored("r-1", True)
    w.metrics.scored("r-1", True)
    w.metrics.scored(None, False)
    for seconds in (5, 250, 301, 1e9):
        w.metrics.responded("r-1", seconds)
    w.metrics.breached("r-9", "attempt_cadence", "breach", None)
    assert w.value("sla_leads_scored_total", rep="r-1", workable="true") == 2
    assert w.value("sla_leads_scored_total", rep="unassigned", workable="false") == 1
    assert w.value("sla_first_response_seconds_bucket", rep="r-1", le="10.0") == 1
    assert w.value("sla_first_response_seconds_bucket", rep="r-1", le="300.0") == 2
    assert w.value("sla_first_response_seconds_bucket", rep="r-1", le="+Inf") == 4
    assert w.value("sla_first_response_seconds_count", rep="r-1") == 4
    assert w.value("sla_first_response_seconds_sum", rep="r-1") == 5 + 250 + 301 + 1e9
    assert w.value("sla_breaches_total", rep="r-9", breach_type="attempt_cadence", stage="breach") == 1


def test_roster_reps_have_a_response_histogram_before_their_first_response():
    w = Worker()
    assert w.value("sla_first_response_seconds_count", rep="r-2") == 0
    assert w.value("sla_first_response_seconds_bucket", rep="r-2", le="+Inf") == 0


def test_a_big_roster_is_rendered_in_parts_that_let_the_event_loop_in():
    # /metrics awaits between parts: a render that is one part for 2,000
    # reps would hold the sweeper back for the whole of it.
    from stream.adapters.metrics import YIELD_EVERY_REPS

    w = Worker()
    reps = 3 * YIELD_EVERY_REPS
    for i in range(reps):
        w.lead(i % 4, f"r-x{i}", date(2026, 12, 3))
    parts = list(w.metrics.rep_series.render(NOW, w.metrics._labels))
    assert parts.count("") >= reps // YIELD_EVERY_REPS
    assert w.value("sla_rep_workable_leads", rep="r-x0", team="none", window="7d") == 1


def test_a_scrape_redoes_only_the_reps_that_changed_and_shows_their_new_values():
    w = Worker()
    for i in range(50):
        w.lead(i % 4, f"r-x{i}", date(2026, 12, 3))
    w.text()
    asked: list[str] = []
    window_counts = w.table.window_counts
    w.table.window_counts = lambda rep, today: asked.append(rep) or window_counts(rep, today)
    w.lead(0, "r-x7", date(2026, 12, 2), attempts=2)
    w.metrics.scored("r-x7", True)
    w.metrics.responded("r-x7", 42.0)
    assert w.value("sla_rep_workable_leads", rep="r-x7", team="none", window="7d") == 2
    assert w.value("sla_rep_attempts", rep="r-x7", team="none", window="7d") == 2
    assert w.value("sla_leads_scored_total", rep="r-x7", workable="true") == 1
    assert w.value("sla_first_response_seconds_count", rep="r-x7") == 1
    assert asked == ["r-x7"]  # the first of the scrapes above; the others redo nothing
    assert w.value("sla_rep_workable_leads", rep="r-x8", team="none", window="7d") == 1


def test_a_rep_whose_leads_all_leave_this_worker_is_no_longer_exported():
    w = Worker()
    w.lead(3, "r-x1", date(2026, 12, 3))
    assert w.value("sla_rep_workable_leads", rep="r-x1", team="none", window="7d") == 1
    w.table.drop_partitions([3])
    assert w.value("sla_rep_workable_leads", rep="r-x1", team="none", window="7d") is None
    assert w.value("sla_rep_info", rep="r-x1", team="none") is None
    # Roster reps stay, at zero.
    w.lead(3, "r-1", date(2026, 12, 3))
    w.text()
    w.table.drop_partitions([3])
    assert w.value("sla_rep_workable_leads", rep="r-1", team="east", window="7d") == 0


def test_the_windows_move_when_the_local_day_turns():
    w = Worker()
    w.lead(0, "r-1", date(2026, 11, 27))  # six days before NOW's Thursday
    assert w.value("sla_rep_workable_leads", rep="r-1", team="east", window="7d") == 1
    later = NOW + 2 * 86400
    texts = b"".join(w.metrics.render(later)).decode()
    assert 'sla_rep_workable_leads{rep="r-1",team="east",window="7d"} 0.0' in texts
    assert 'sla_rep_workable_leads{rep="r-1",team="east",window="30d"} 1.0' in texts


def test_ids_beyond_the_label_cap_are_summed_as_they_change():
    w = Worker(max_labels=2)
    w.metrics.scored("x-0", True)  # labels go first come: x-0 and x-1
    w.metrics.scored("x-1", True)
    for i in range(10):
        w.lead(i % 4, f"x-{i}", date(2026, 12, 3))
    assert w.value("sla_rep_workable_leads", rep="other", team="none", window="7d") == 8
    w.lead(0, "x-9", date(2026, 12, 3), attempts=1)
    w.table.drop_partitions([1])  # x-1's lead, x-5's and one of x-9's leave
    assert w.value("sla_rep_workable_leads", rep="x-1", team="none", window="7d") is None
    assert w.value("sla_rep_workable_leads", rep="other", team="none", window="7d") == 7
    assert w.value("sla_rep_attempts", rep="other", team="none", window="7d") == 1
    # Each of the 7 other ids has the default target, and its share of expected-to-date.
    assert w.value("sla_marketing_target", rep="other", team="none") == 7 * 100
    expected = w.value("sla_marketing_expected_to_date", rep="other", team="none")
    assert expected == pytest.approx(7 * 100 * 3 / 22)
