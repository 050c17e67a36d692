"""The wallboard page from a report shaped like ``/sla/reps``: labels, the
total row, the team filter, the uncontacted list, and no personal data."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser

from stream.adapters.wallboard import RepInfo, wallboard_html

AS_OF = "2026-12-01T03:00:00Z"
NOW = 1796094000.0  # AS_OF as POSIX seconds
TEAMS = {"r-la": ("na-west", "America/Los_Angeles"), "r-berlin": ("emea", "Europe/Berlin")}


def window(rep: str, workable: int, within: int, missed: int, breaches=None, median=None) -> dict:
    return {
        "rep": rep,
        "workable_leads": workable,
        "attempts": 3 * workable,
        "attempts_per_workable_lead": 3.0 if workable else None,
        "connected_leads": workable // 4,
        "connect_rate": (workable // 4) / workable if workable else None,
        "pipeline_leads": workable // 10,
        "pipeline_conversion_rate": (workable // 10) / workable if workable else None,
        "clocks": within + missed,
        "clocks_within_sla": within,
        "clocks_missed": missed,
        "clocks_pending": 0,
        "first_response_within_sla_ratio": within / (within + missed) if within + missed else None,
        "responses": within + missed,
        "response_seconds_median": median,
        "response_seconds_p95": None if median is None else 4 * median,
        "breaches": breaches or {},
    }


def report(**overrides) -> dict:
    reps = [
        window("r-berlin", 40, 30, 10, {"first_response": {"warning": 5, "breach": 4, "escalation": 1}}, 95.0),
        window("r-la", 20, 18, 2, {}, 61.0),
        window("unassigned", 4, 0, 4, {}, None),
    ]
    total = window("total", 64, 48, 16, {"first_response": {"warning": 5, "breach": 4, "escalation": 1}}, 80.0)
    base = {
        "as_of": AS_OF,
        "windows": {"mtd": {"reps": reps, "total": total}},
        "marketing": {
            "reps": [
                {"rep": "r-berlin", "month": "2026-12", "workable_leads": 40, "target": 880,
                 "business_days_elapsed": 1, "business_days_in_month": 22, "expected_to_date": 40.0,
                 "pacing_ratio": 1.0},
                {"rep": "r-la", "month": "2026-11", "workable_leads": 20, "target": 600,
                 "business_days_elapsed": 20, "business_days_in_month": 20, "expected_to_date": 600.0,
                 "pacing_ratio": 20 / 600},
                {"rep": "unassigned", "month": "2026-11", "workable_leads": 4, "target": None,
                 "business_days_elapsed": 20, "business_days_in_month": 20, "expected_to_date": None,
                 "pacing_ratio": None},
            ],
            "total": {"workable_leads": 60, "target": 1480, "expected_to_date": 640.0, "pacing_ratio": 60 / 640},
        },
        "uncontacted": {
            "r-berlin": {"open": 2, "oldest_seconds": 400.0},
            "r-la": {"open": 1, "oldest_seconds": 7300.0},
            "unassigned": {"open": 1, "oldest_seconds": 30.0},
        },
        "uncontacted_leads": [
            {"lead_id": "lead-old", "rep": "r-la", "segment": "web|51-200|director", "score": 71.5,
             "started_at": NOW - 7300, "overdue_at": NOW - 7240, "due_in_seconds": -7240.0, "partition": 1},
            {"lead_id": "lead-b1", "rep": "r-berlin", "segment": "referral|11-50|manager", "score": 64.0,
             "started_at": NOW - 400, "overdue_at": NOW - 340, "due_in_seconds": -340.0, "partition": 0},
            {"lead_id": "lead-new", "rep": "unassigned", "segment": "paid|1-10|student", "score": 51.0,
             "started_at": NOW - 30, "overdue_at": NOW + 30, "due_in_seconds": 30.0, "partition": 2},
        ],
        "breaches_today": {
            "r-berlin": {"first_response": {"warning": 2, "breach": 1}, "attempt_cadence": {"breach": 3}},
            "r-la": {"first_response": {"escalation": 1}},
        },
        "complete": True,
        "missing_workers": [],
    }
    base.update(overrides)
    return base


def info(rep: str) -> RepInfo:
    team, zone = TEAMS.get(rep, (None, None))
    return RepInfo(team, zone)


class Cells(HTMLParser):
    """Rows of every table as lists of cell texts, by table class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._table = self.tables.setdefault(dict(attrs).get("class", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(page: str) -> dict[str, list[list[str]]]:
    parser = Cells()
    parser.feed(page)
    return parser.tables


def rep_rows(page: str) -> dict[str, list[str]]:
    rows = tables(page)["reps"][2:]  # two header rows
    return {row[0]: row for row in rows}


def column(page: str, name: str) -> int:
    """Index of a second-header-row column in the body rows (rep and team come first)."""
    header = tables(page)["reps"][1]
    first = len(tables(page)["reps"][2]) - len(header)
    return first + header.index(name)


def test_breaches_today_are_split_by_stage_not_added_together():
    page = wallboard_html(report(), rep_info=info)
    rows = rep_rows(page)
    warn, breach, esc = column(page, "warn"), column(page, "breach"), column(page, "esc")
    assert (rows["r-berlin"][warn], rows["r-berlin"][breach], rows["r-berlin"][esc]) == ("2", "4", "0")
    assert (rows["r-la"][warn], rows["r-la"][breach], rows["r-la"][esc]) == ("0", "0", "1")
    assert (rows["total"][warn], rows["total"][breach], rows["total"][esc]) == ("2", "4", "1")
    assert "breaches today" in page


def test_each_rep_shows_its_own_local_month_and_the_page_says_so():
    page = wallboard_html(report(), rep_info=info)
    rows = rep_rows(page)
    month = column(page, "month")
    assert rows["r-berlin"][month] == "Dec"
    assert rows["r-la"][month] == "Nov"
    assert "in the rep's time zone" in page
    assert "title='Europe/Berlin'" in page  # hovering a rep shows its zone


def test_the_total_row_has_the_oldest_uncontacted_lead():
    rows = rep_rows(wallboard_html(report(), rep_info=info))
    oldest = column(wallboard_html(report(), rep_info=info), "oldest")
    assert rows["r-la"][oldest] == "2h 01m"
    assert rows["total"][oldest] == "2h 01m"
    assert rows["total"][column(wallboard_html(report(), rep_info=info), "open")] == "4"


def test_marketing_target_stands_next_to_actual():
    page = wallboard_html(report(), rep_info=info)
    rows = rep_rows(page)
    assert rows["r-berlin"][column(page, "workable")] == "40"
    assert rows["r-berlin"][column(page, "target")] == "880"
    assert rows["r-berlin"][column(page, "expected")] == "40"
    assert rows["r-la"][column(page, "pacing")] == "3%"
    assert "class='bad'>3%" in page  # below the pacing warning ratio
    assert "60 / 1,480" in page  # the tile: actual / target


def test_uncontacted_leads_are_listed_oldest_first_with_time_left_or_overdue():
    page = wallboard_html(report(), rep_info=info)
    rows = tables(page)["waiting"][1:]
    assert [r[0] for r in rows] == ["lead-old", "lead-b1", "lead-new"]
    old, _, new = rows
    assert old[1:5] == ["r-la", "na-west", "web|51-200|director", "72"]
    assert old[-1] == "overdue 2h 00m"
    assert new[-1] == "30s left"


def test_the_team_filter_keeps_the_teams_reps_leads_and_totals():
    page = wallboard_html(report(), team="emea", rep_info=info)
    rows = rep_rows(page)
    assert set(rows) == {"r-berlin", "total"}
    assert rows["total"][column(page, "workable")] == "40"
    assert rows["total"][column(page, "within SLA")] == "75%"
    assert rows["total"][column(page, "breach")] == "4"
    assert [r[0] for r in tables(page)["waiting"][1:]] == ["lead-b1"]
    assert 'href="?team=emea" aria-current="page"' in page
    assert 'href="?team=na-west"' in page and 'href="?"' in page
    empty = wallboard_html(report(), team="apac", rep_info=info)
    assert "No rep in team apac" in empty


def test_the_page_is_self_contained_and_reloads_itself():
    page = wallboard_html(report(), rep_info=info)
    assert '<meta http-equiv="refresh"' in page
    assert not re.search(r"(src|href)=\"?https?:", page)
    assert "@import" not in page and "url(" not in page
    assert "<script" not in page


def test_nothing_from_a_lead_but_its_id_segment_score_and_clock_is_shown():
    lead = report()["uncontacted_leads"][0] | {"email": "jane.doe@example.com", "name": "Jane"}
    page = wallboard_html(report(uncontacted_leads=[lead]), rep_info=info)
    assert "jane" not in page.lower() and "@" not in page


def test_text_from_the_report_is_escaped():
    lead = report()["uncontacted_leads"][0] | {"lead_id": "<script>alert(1)</script>"}
    page = wallboard_html(report(uncontacted_leads=[lead]), team="<b>", rep_info=info)
    assert "<script>alert" not in page and "<b>" not in page


def test_partial_data_is_flagged():
    page = wallboard_html(report(complete=False, missing_workers=["http://w2:6066"]), rep_info=info)
    assert "Partial data" in page and "http://w2:6066" in page


def test_a_big_roster_renders_in_one_pass():
    reps = [window(f"r-{i:04d}", 10, 5, 5, {}, 60.0) for i in range(2000)]
    marketing = [{"rep": r["rep"], "month": "2026-12", "workable_leads": 10, "target": 100,
                  "business_days_elapsed": 1, "business_days_in_month": 22, "expected_to_date": 4.5,
                  "pacing_ratio": 2.2} for r in reps]
    big = report(
        windows={"mtd": {"reps": reps, "total": window("total", 20000, 10000, 10000, {}, 60.0)}},
        marketing={"reps": marketing, "total": {"workable_leads": 20000, "target": 200000,
                                                "expected_to_date": 9000.0, "pacing_ratio": 2.2}},
        uncontacted={r["rep"]: {"open": 1, "oldest_seconds": 10.0} for r in reps},
    )
    began = time.perf_counter()
    page = wallboard_html(big, team="t-7", rep_info=lambda rep: RepInfo(f"t-{int(rep[2:]) % 10}", "UTC"))
    elapsed = time.perf_counter() - began
    assert len(rep_rows(page)) == 201  # 200 reps of the team and the total
    print(f"2000 reps rendered in {elapsed * 1000:.0f} ms")
