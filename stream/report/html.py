"""The weekly report as one self-contained HTML page.

Real tables hold every figure (with ``data-field`` / ``data-value`` on each
cell, the raw number, for machines); inline SVG charts supplement them. No
script, no external style sheet, font or image: the file can be mailed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from stream.report import charts
from stream.report.formats import DASH, breaches, count, duration, instant, number, percent, signed
from stream.report.weekly import RESPONSE_BINS, Row, WeeklyReport

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem; color: #1d2733; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ccd3db; padding-bottom: .2rem; }
p.meta { color: #4a5866; margin-top: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { border: 1px solid #ccd3db; padding: .25rem .5rem; }
th { background: #eef2f6; text-align: left; }
td { text-align: right; white-space: nowrap; }
td.text { text-align: left; }
tr.total th, tr.total td { font-weight: 700; background: #f7f9fb; }
.low { color: #b03a2e; font-weight: 600; }
figure { margin: 1rem 0; }
figcaption { color: #4a5866; font-size: .9rem; }
svg.chart { max-width: 100%; height: auto; font-size: 12px; fill: #1d2733; }
.note { background: #fff6e0; border-left: 4px solid #e5a13b; padding: .4rem .8rem; }
dl.legend dt { font-weight: 600; }
dl.legend dd { margin: 0 0 .4rem 1rem; }
"""

# (header, field, how to show it) of the main tables
_MAIN: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("workable", "workable", count),
    ("expected", "expected", lambda v: number(v, 1)),
    ("pacing", "pacing", lambda v: number(v, 2)),
    ("attempts / lead", "attempts_per_lead", number),
    ("connect rate", "connect_rate", percent),
    ("pipeline conversion", "pipeline_rate", percent),
    ("median first response", "response_median", duration),
    ("p95 first response", "response_p95", duration),
    ("within deadline", "within_sla", percent),
)
# (header, field, kind of change)
_CHANGES = (
    ("workable Δ", "workable", "count"),
    ("connect Δ", "connect_rate", "points"),
    ("within deadline Δ", "within_sla", "points"),
)
_BREACHES = (
    ("first response: warnings", "first_response", "warning"),
    ("first response: breaches", "first_response", "breach"),
    ("first response: escalations", "first_response", "escalation"),
    ("attempt cadence: breaches", "attempt_cadence", "breach"),
)
_DELAYS = (
    ("routing delay median", "routing_median"),
    ("routing delay p95", "routing_p95"),
    ("rep delay median", "rep_delay_median"),
    ("rep delay p95", "rep_delay_p95"),
    ("first response median (SLA time)", "response_median"),
)


def _value(value: Any) -> str:
    return "" if value is None else repr(float(value)) if isinstance(value, float) else str(value)


def _cell(field: str, value: Any, shown: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return f'<td data-field="{field}" data-value="{escape(_value(value))}"{klass}>{escape(shown)}</td>'


def _name_cell(row: Row) -> str:
    return f'<th scope="row">{escape(row.name)}</th>'


def _table(table_id: str, caption: str, headers: Sequence[str], rows: Sequence[str]) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    return (
        f'<div class="scroll"><table id="{table_id}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _main_row(row: Row, report: WeeklyReport, with_team: bool) -> str:
    figures = row.figures()
    cells = [_name_cell(row)]
    if with_team:
        cells.append(f'<td class="text" data-field="team">{escape(row.team or DASH)}</td>')
    for _, field, show in _MAIN:
        value = figures[field]
        low = field == "pacing" and value is not None and value < report.pacing_warning_ratio
        cells.append(_cell(field, value, show(value), "low" if low else ""))
    for _, field, kind in _CHANGES:
        change = row.change(field)
        cells.append(_cell(f"{field}_change", change, signed(change, kind)))
    klass = ' class="total"' if row.kind == "total" else ""
    return f'<tr data-name="{escape(row.name)}"{klass}>{"".join(cells)}</tr>'


def _main_table(table_id: str, caption: str, rows: Sequence[Row], report: WeeklyReport, with_team: bool) -> str:
    headers = ["rep" if with_team else "team"] + (["team"] if with_team else [])
    headers += [h for h, _, _ in _MAIN] + [h for h, _, _ in _CHANGES]
    body = [_main_row(r, report, with_team) for r in rows] + [_main_row(report.total, report, with_team)]
    return _table(table_id, caption, headers, body)


def _headline(report: WeeklyReport) -> str:
    total = report.total
    now, before = total.figures(), total.figures(previous=True)
    lines = (
        ("workable leads", "workable", count, "count"),
        ("expected by the marketing SLA", "expected", lambda v: number(v, 1), None),
        ("attempts per workable lead", "attempts_per_lead", number, "number"),
        ("connect rate", "connect_rate", percent, "points"),
        ("pipeline conversion", "pipeline_rate", percent, "points"),
        ("median first response", "response_median", duration, "duration"),
        ("p95 first response", "response_p95", duration, "duration"),
        ("first responses within the deadline", "within_sla", percent, "points"),
    )
    rows = []
    for label, field, show, kind in lines:
        change = total.change(field) if kind else None
        rows.append(
            f'<tr data-name="{field}"><th scope="row">{escape(label)}</th>'
            + _cell(field, now[field], show(now[field]))
            + _cell(f"{field}_previous", before[field], show(before[field]) if kind else DASH)
            + _cell(f"{field}_change", change, signed(change, kind) if kind else DASH)
            + "</tr>"
        )
    return _table("headline", "All reps", ["figure", "this week", "week before", "change"], rows)


def _breach_table(report: WeeklyReport) -> str:
    rows = []
    for row in [*report.teams, report.total]:
        counts = row.figures()["breaches"]
        cells = [_name_cell(row)]
        for _, breach_type, stage in _BREACHES:
            n = breaches(counts, breach_type, stage)
            cells.append(_cell(f"{breach_type}.{stage}", n, count(n)))
        klass = ' class="total"' if row.kind == "total" else ""
        rows.append(f'<tr data-name="{escape(row.name)}"{klass}>{"".join(cells)}</tr>')
    return _table("breach-table", "Standing breach events by type, per team", ["team"] + [h for h, _, _ in _BREACHES], rows)


def _delay_table(table_id: str, caption: str, rows: Sequence[Row], first: str) -> str:
    body = []
    for row in rows:
        figures = row.figures()
        cells = [_name_cell(row)] + [_cell(f, figures[f], duration(figures[f])) for _, f in _DELAYS]
        klass = ' class="total"' if row.kind == "total" else ""
        body.append(f'<tr data-name="{escape(row.name)}"{klass}>{"".join(cells)}</tr>')
    return _table(table_id, caption, [first] + [h for h, _ in _DELAYS], body)


def _segments(report: WeeklyReport) -> str:
    if report.segments is None:
        return f'<p id="segments-unavailable">Not available: {escape(report.segments_note)}</p>'
    headers = (
        ("segment", "segment", str),
        ("leads", "leads", count),
        ("mature", "mature_leads", count),
        ("workable", "workable", count),
        ("opportunities", "opportunities", count),
        ("conversion", "conversion_rate", percent),
        ("deal size", "deal_size", number),
        ("value / lead", "value_per_lead", number),
        ("cost / lead", "cost_per_lead", number),
        ("profit / lead", "profit_per_lead", number),
    )
    rows = []
    for seg in report.segments:
        cells = [f'<th scope="row">{escape(str(seg.get("segment")))}</th>']
        for _, field, show in headers[1:]:
            value = seg.get(field)
            cells.append(_cell(field, value, DASH if value is None else show(value)))
        verdict = {True: "profitable", False: "unprofitable", None: "undecided"}[seg.get("profitable")]
        css = "low" if verdict == "unprofitable" else ""
        cells.append(f'<td class="text {css}" data-field="verdict" data-value="{verdict}">{verdict}</td>')
        rows.append(f'<tr data-name="{escape(str(seg.get("segment")))}">{"".join(cells)}</tr>')
    note = f"<p>{escape(report.segments_note)}</p>" if report.segments_note else ""
    return note + _table(
        "segment-table", "Closed-loop segment profitability", [h for h, _, _ in headers] + ["verdict"], rows
    )


def render_html(report: WeeklyReport) -> str:
    week = report.week
    deadline = duration(report.deadline_seconds)
    clock = "business time" if report.business_hours else "plain time"
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in report.notes)
    within = next(i for i, (upper, _) in enumerate(RESPONSE_BINS) if report.deadline_seconds <= upper)
    rep_chart = charts.bars_with_marks(
        "chart-workable",
        "Workable leads per rep against the marketing SLA",
        [(r.name, float(r.week.workable_leads), r.expected) for r in report.reps],
        lambda v: count(v),
        "expected",
    )
    response_chart = charts.histogram(
        "chart-response", f"First responses by time to first call ({clock})", report.response_histogram, within
    )
    delay_rows = [*report.teams, report.total]
    delay_chart = charts.stacked_bars(
        "chart-delays",
        "Median routing delay and rep delay per team",
        [(r.name, r.figures()["routing_median"], r.figures()["rep_delay_median"]) for r in delay_rows],
        ("routing delay (created → assigned)", "rep delay (assigned → first call)"),
        duration,
    )
    body = f"""
<header>
<h1>SMarketing weekly report · {escape(str(week))}</h1>
<p class="meta">Leads that became workable Monday {week.first.isoformat()} to Sunday {week.last.isoformat()}
(each rep's local days), with everything that happened to them up to {escape(instant(report.as_of))};
the week before ({escape(str(week.previous()))}) for comparison. Source: {escape(report.source)}.
First-response deadline {escape(deadline)} in {clock}.</p>
{notes}
</header>
<main>
<section id="summary"><h2>Summary</h2>{_headline(report)}</section>
<section id="teams"><h2>Teams</h2>
{_main_table("team-table", "Per team: workable leads against target, Sales SLA and week-over-week change", report.teams, report, False)}
</section>
<section id="reps"><h2>Reps</h2>
{_main_table("rep-table", "Per rep: workable leads against target, Sales SLA and week-over-week change", report.reps, report, True)}
<figure>{rep_chart}<figcaption>Bars: workable leads of the week; marks: what the marketing SLA expects
(monthly target over the month's business days, for the week's business days).</figcaption></figure>
</section>
<section id="response"><h2>First response</h2>
<figure>{response_chart}<figcaption>Every first response of the week's workable leads; bars past the
{escape(deadline)} deadline are drawn in orange. Median, p95 and the share within the deadline are in the tables above.</figcaption></figure>
</section>
<section id="delays"><h2>Response time split: routing delay and rep delay</h2>
<p>Routing delay runs from a lead's creation to its first owner (0 when it is created with one); rep
delay from that assignment to the first call after it. Both are in SLA time ({clock}), like the
first-response figures, so together they make up the SLA time from creation to first call.</p>
{_delay_table("delay-team-table", "Per team", delay_rows, "team")}
<figure>{delay_chart}<figcaption>Median routing delay (orange) and median rep delay (blue).</figcaption></figure>
{_delay_table("delay-rep-table", "Per rep", [*report.reps, report.total], "rep")}
</section>
<section id="breaches"><h2>Breaches by type</h2>{_breach_table(report)}</section>
<section id="segments"><h2>Segment profitability</h2>{_segments(report)}</section>
</main>
<footer><h2>How to read it</h2><dl class="legend">
<dt>workable, expected, pacing</dt><dd>Leads that became workable in the week for the rep; the marketing
SLA's monthly target spread over the month's business days, for the business days of this week; workable ÷ expected.</dd>
<dt>attempts / lead, connect rate, pipeline conversion</dt><dd>Per workable lead of the week: call attempts
since it became workable; share with at least one connected call; share with an opportunity.</dd>
<dt>first response, within deadline</dt><dd>Clock start to first call in SLA time (median, p95); clocks
answered by their deadline ÷ clocks decided (answered, or past due).</dd>
<dt>Δ</dt><dd>This week minus the week before; rates in percentage points.</dd>
</dl></footer>
"""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>SMarketing weekly report {escape(str(week))}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>{body}</body>\n</html>\n"
    )
