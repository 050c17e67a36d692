"""``python -m stream reps`` readable at 80 and at 200 columns: one line per
rep, whole headers, breaches by stage, the total row complete."""

from __future__ import annotations

import pytest
from rich.console import Console

from stream.cli.reps import choose_table
from tests.unit.adapters.test_wallboard import report, window


def printed(width: int, data: dict | None = None, **layout) -> list[str]:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(choose_table(data or report(), "mtd", console, **layout))
    return console.export_text().splitlines()


def body(lines: list[str], rep: str) -> list[str]:
    return [line for line in lines if line.lstrip().startswith(rep + " ")]


@pytest.mark.parametrize("width", [80, 200])
def test_one_line_per_rep_and_no_cut_header(width):
    lines = printed(width)
    assert all(len(line.rstrip()) <= width for line in lines)
    notes = ("windows", "reps are", "work:", "warn/", "workable", "now;")
    table = [line for line in lines if not line.startswith(notes)]
    assert not any("…" in line for line in table)
    for rep in ("r-berlin", "r-la", "unassigned", "total"):
        assert len(body(lines, rep)) == 1, (rep, lines)


def test_80_columns_get_the_compact_layout_with_its_legend():
    lines = printed(80)
    header = next(line for line in lines if line.lstrip().startswith("rep "))
    assert header.split() == ["rep", "work", "in", "SLA", "median", "p95", "att/l", "conn", "pipe", "open", "pace"]
    assert any("att/l: attempts per" in line for line in lines)
    row = ["r-berlin", "40", "75%", "95s", "6m", "3.0", "25%", "10%", "2", "100%"]
    assert body(lines, "r-berlin")[0].split() == row


def test_200_columns_get_every_column_with_breaches_by_stage():
    lines = printed(200)
    header = next(line for line in lines if line.lstrip().startswith("rep "))
    for name in ("within SLA", "median resp", "attempts/lead", "oldest", "warn", "breach", "esc", "target", "expected"):
        assert name in header
    total = body(lines, "total")[0].split()
    # open 4, oldest 2.0h (the total row is not blank), warn 5, breach 4, esc 1
    assert total[9:14] == ["4", "2.0h", "5", "4", "1"]
    assert any("different months (2026-11, 2026-12)" in line for line in lines)


def test_layout_can_be_forced():
    assert "target" not in "\n".join(printed(200, compact=True))
    narrow = Console(width=80)
    headers = [c.header for c in choose_table(report(), "mtd", narrow, wide=True).columns]
    assert "target" in headers and "within SLA" in headers


def test_a_long_roster_and_long_rep_ids_stay_on_one_line_each():
    reps = [window(f"rep-with-a-rather-long-id-{i:03d}", 10 * i, i, i, {}, 70.0) for i in range(1, 40)]
    marketing = [{"rep": r["rep"], "month": "2026-12", "workable_leads": r["workable_leads"], "target": 100,
                  "expected_to_date": 50.0, "pacing_ratio": r["workable_leads"] / 50} for r in reps]
    data = report(
        windows={"mtd": {"reps": reps, "total": window("total", 7800, 780, 780, {}, 70.0)}},
        marketing={"reps": marketing, "total": {"workable_leads": 7800, "target": 3900, "expected_to_date": 1950.0,
                                                "pacing_ratio": 4.0}},
    )
    lines = printed(80, data)
    assert all(len(line.rstrip()) <= 80 for line in lines)
    rows = [line for line in lines if line.lstrip().startswith("rep-with")]
    assert len(rows) == 39
