"""The wallboard page: what a sales floor reads on a TV across the room.

One self-contained HTML page (inline CSS, no script, no font or file from
elsewhere) that reloads itself. Built from the group report of
``stream.adapters.group.group_report``: the reps of the chosen team (``?team=``)
with their marketing SLA (actual next to target), their sales SLA month to
date, their open clocks and today's breach events by stage; then the leads
uncontacted right now, oldest first. Only the report's fields are shown, and
the report carries no personal data, so no email can reach the page.

Months, windows and "today" are each rep's own: a rep in Berlin is in
December while one in Los Angeles is still in November. The page says so and
shows every rep's local month.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

REFRESH_SECONDS = 10
# Rows of the uncontacted list: what fits under the rep table on a 1080p TV.
UNCONTACTED_ROWS = 9
STAGES = (("warning", "warn"), ("breach", "breach"), ("escalation", "esc"))
UNASSIGNED = "unassigned"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class RepInfo:
    """What the page knows of a rep beyond the report: its team and time zone."""

    team: str | None = None
    zone: str | None = None


@dataclass
class _Row:
    rep: str
    info: RepInfo
    window: dict
    marketing: dict
    open: int = 0
    oldest: float | None = None
    today: dict = field(default_factory=dict)  # breach_type -> stage -> n


def wallboard_page(ctx, report: dict, team: str | None = None) -> str:
    """The page for a worker: teams and time zones from its calendar book."""
    calendars = ctx.calendars

    def info(rep: str) -> RepInfo:
        if rep == UNASSIGNED:
            return RepInfo()
        return RepInfo(calendars.team_of(rep), str(calendars.calendar_for(rep).zone))

    warning = ctx.policy.marketing.pacing_warning_ratio
    return wallboard_html(report, team=team, rep_info=info, pacing_warning=warning)


def wallboard_html(
    report: dict,
    team: str | None = None,
    rep_info: Callable[[str], RepInfo] | None = None,
    pacing_warning: float = 0.8,
) -> str:
    """The page for ``report``, for the whole group or one ``team``.
    ``rep_info`` gives a rep's team and zone; ``pacing_warning`` is the
    policy's ratio below which pacing shows red. A team's uncontacted leads
    are those among the report's oldest ones (``uncontacted_leads``)."""
    team = (team or "").strip() or None
    lookup = rep_info or (lambda rep: RepInfo())
    rows = _rows(report, lookup)
    teams = sorted({r.info.team for r in rows if r.info.team})
    shown = [r for r in rows if team is None or r.info.team == team]
    names = {r.rep for r in shown}
    waiting = [lead for lead in report.get("uncontacted_leads", ()) if team is None or lead["rep"] in names]
    total = _total(report, shown, whole_group=team is None)
    now = _parse(report["as_of"])

    title = "Sales &amp; Marketing SLA" + (f" · team {_e(team)}" if team else "")
    note = ""
    if not report.get("complete", True):
        missing = ", ".join(report.get("missing_workers", ()))
        note = f"<p class='alert'>Partial data: no answer from {_e(missing)}.</p>"
    if team is not None and not shown:
        note += f"<p class='alert'>No rep in team {_e(team)}.</p>"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>SLA wallboard{' · ' + _e(team) if team else ''}</title>
<style>{_CSS}</style></head>
<body>
<header><h1>{title}</h1>
<p class="asof">as of {now.strftime('%H:%M:%S')} UTC · refreshes every {REFRESH_SECONDS} s</p>
{_team_links(teams, team)}</header>
{note}
{_tiles(total, pacing_warning)}
{_rep_table(shown, total, team is None, pacing_warning)}
{_waiting_table(waiting, lookup, now)}
<footer>Month to date and today are each rep's own, in the rep's time zone (see "month").
Sales SLA columns count the leads that became workable this month (the cohort) and all that
happened to them since. Breaches today are standing breach events (retractions taken off).</footer>
</body></html>"""


# --------------------------------------------------------------------------- data


def _rows(report: dict, lookup: Callable[[str], RepInfo]) -> list[_Row]:
    """One row per rep of the mtd window, in the report's order (by rep id)."""
    marketing = {m["rep"]: m for m in report["marketing"]["reps"]}
    uncontacted = report.get("uncontacted", {})
    today = report.get("breaches_today", {})
    rows = []
    for window in report["windows"]["mtd"]["reps"]:
        rep = window["rep"]
        waiting = uncontacted.get(rep, {})
        rows.append(
            _Row(
                rep=rep,
                info=lookup(rep),
                window=window,
                marketing=marketing.get(rep, {}),
                open=waiting.get("open", 0),
                oldest=waiting.get("oldest_seconds"),
                today=today.get(rep, {}),
            )
        )
    return rows


# Counts of the mtd window that add up across reps; the ratios follow from them.
_ADDITIVE = ("workable_leads", "attempts", "connected_leads", "pipeline_leads", "clocks_within_sla", "clocks_missed")


def _total(report: dict, rows: list[_Row], whole_group: bool) -> _Row:
    """The total row of the reps shown. For the whole group the report's own
    totals; for a team the counts summed (medians and p95 of a team cannot be
    rebuilt from per-rep figures, so they stay empty)."""
    today: dict[str, dict[str, int]] = {}
    for row in rows:
        for breach_type, stages in row.today.items():
            mine = today.setdefault(breach_type, {})
            for stage, n in stages.items():
                mine[stage] = mine.get(stage, 0) + n
    oldest = max((r.oldest for r in rows if r.oldest is not None), default=None)
    if whole_group:
        window = report["windows"]["mtd"]["total"]
        marketing = report["marketing"]["total"]
    else:
        sums = {key: sum(r.window.get(key) or 0 for r in rows) for key in _ADDITIVE}
        workable = sums["workable_leads"]
        decided = sums["clocks_within_sla"] + sums["clocks_missed"]
        window = {
            **sums,
            "attempts_per_workable_lead": _ratio(sums["attempts"], workable),
            "connect_rate": _ratio(sums["connected_leads"], workable),
            "pipeline_conversion_rate": _ratio(sums["pipeline_leads"], workable),
            "first_response_within_sla_ratio": _ratio(sums["clocks_within_sla"], decided),
        }
        targeted = [r.marketing for r in rows if r.marketing.get("target")]
        expected = sum(m.get("expected_to_date") or 0.0 for m in targeted)
        actual = sum(m.get("workable_leads", 0) for m in targeted)
        marketing = {
            "workable_leads": actual,
            "target": sum(m["target"] for m in targeted),
            "expected_to_date": expected,
            "pacing_ratio": actual / expected if expected else None,
        }
    return _Row(
        rep="total",
        info=RepInfo(),
        window=window,
        marketing=marketing,
        open=sum(r.open for r in rows),
        oldest=oldest,
        today=today,
    )


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# --------------------------------------------------------------------------- parts of the page


def _team_links(teams: list[str], chosen: str | None) -> str:
    if not teams:
        return ""
    links = [_link("all teams", "?", chosen is None)]
    links += [_link(t, f"?team={_q(t)}", t == chosen) for t in teams]
    return f"<nav>{' '.join(links)}</nav>"


def _link(text: str, href: str, current: bool) -> str:
    mark = ' aria-current="page"' if current else ""
    return f'<a href="{href}"{mark}>{_e(text)}</a>'


def _tiles(total: _Row, pacing_warning: float) -> str:
    """The four numbers to read from across the room."""
    w, m = total.window, total.marketing
    stages = _stage_totals(total.today)
    pacing = m.get("pacing_ratio")
    behind = pacing is not None and pacing < pacing_warning
    waiting = f"oldest {_duration(total.oldest)}" if total.oldest else "none waiting"
    others = f"{_count(stages['warning'], 'warning')} · {_count(stages['escalation'], 'escalation')}"
    marketing = f"expected by today {_int(m.get('expected_to_date'))} · pacing {_pct(pacing)}"
    tiles = [
        ("uncontacted now", str(total.open), waiting, "bad" if total.open else "good"),
        ("first response within SLA", _pct(w.get("first_response_within_sla_ratio")), "month to date", ""),
        ("breaches today", str(stages["breach"]), others, "bad" if stages["breach"] else ""),
        ("workable leads vs target", f"{m.get('workable_leads', 0)} / {_int(m.get('target'))}", marketing,
         "bad" if behind else ""),
    ]
    cells = "".join(
        f"<div class='tile {cls}'><div class='label'>{label}</div><div class='big'>{_e(value)}</div>"
        f"<div class='sub'>{_e(sub)}</div></div>"
        for label, value, sub, cls in tiles
    )
    return f"<section class='tiles'>{cells}</section>"


def _rep_table(rows: list[_Row], total: _Row, with_team: bool, pacing_warning: float) -> str:
    team_head = "<th rowspan='2' class='l'>team</th>" if with_team else ""
    head = (
        "<thead><tr><th rowspan='2' class='l'>rep</th>" + team_head
        + "<th colspan='5' class='group'>marketing SLA · month to date</th>"
        "<th colspan='6' class='group'>sales SLA · leads workable this month</th>"
        "<th colspan='2' class='group'>uncontacted now</th>"
        "<th colspan='3' class='group'>breaches today</th></tr><tr>"
        "<th title=\"the rep's local month\">month</th><th>workable</th><th>target</th>"
        "<th title='target × business days elapsed ÷ business days in the month'>expected</th><th>pacing</th>"
        "<th>within SLA</th><th>median</th><th>p95</th>"
        "<th title='attempts per workable lead'>att./lead</th><th>connect</th><th>pipeline</th>"
        "<th>open</th><th>oldest</th>"
        + "".join(f"<th title='{stage} stage events detected today'>{short}</th>" for stage, short in STAGES)
        + "</tr></thead>"
    )
    body = "".join(_rep_row(r, with_team, pacing_warning) for r in rows)
    foot = _rep_row(total, with_team, pacing_warning, is_total=True)
    return f"<section><table class='reps'>{head}<tbody>{body}</tbody><tfoot>{foot}</tfoot></table></section>"


def _rep_row(row: _Row, with_team: bool, pacing_warning: float, is_total: bool = False) -> str:
    w, m = row.window, row.marketing
    pacing = m.get("pacing_ratio")
    stages = _stage_totals(row.today)
    detail = "; ".join(
        f"{breach_type} {stage} {n}" for breach_type, by in sorted(row.today.items()) for stage, n in sorted(by.items())
    )
    zone = f" title='{_e(row.info.zone)}'" if row.info.zone else ""
    cells = [f"<td class='l'{zone}>{_e(row.rep)}</td>"]
    if with_team:
        cells.append(f"<td class='l dim'>{_e(row.info.team or '')}</td>")
    cells += [
        f"<td title='{_e(m.get('month') or '')}'>{_month(m.get('month'))}</td>" if not is_total else "<td></td>",
        _td(_int(w.get("workable_leads"))),
        _td(_int(m.get("target"))),
        _td(_int(m.get("expected_to_date"))),
        _td(_pct(pacing), "bad" if pacing is not None and pacing < pacing_warning else ""),
        _td(_pct(w.get("first_response_within_sla_ratio"))),
        _td(_duration(w.get("response_seconds_median"))),
        _td(_duration(w.get("response_seconds_p95"))),
        _td(_fixed(w.get("attempts_per_workable_lead"))),
        _td(_pct(w.get("connect_rate"))),
        _td(_pct(w.get("pipeline_conversion_rate"))),
        _td(str(row.open), "bad" if row.open else "dim"),
        _td(_duration(row.oldest) if row.open else "–"),
    ]
    for stage, _ in STAGES:
        n = stages[stage]
        cells.append(f"<td class='{'bad' if n and stage != 'warning' else 'dim' if not n else ''}'"
                     f" title='{_e(detail)}'>{n}</td>")
    return f"<tr{' class=total' if is_total else ''}>{''.join(cells)}</tr>"


def _waiting_table(leads: list[dict], lookup: Callable[[str], RepInfo], now: datetime) -> str:
    if not leads:
        return "<section><h2>Uncontacted leads</h2><p class='good'>None: every workable lead has had a call.</p></section>"
    rows = []
    for lead in leads[:UNCONTACTED_ROWS]:
        due = lead.get("due_in_seconds")
        if due is None:
            sla, cls = "–", ""
        elif due < 0:
            sla, cls = f"overdue {_duration(-due)}", "bad"
        else:
            sla, cls = f"{_duration(due)} left", "warn"
        waited = now.timestamp() - lead["started_at"] if lead.get("started_at") is not None else None
        rows.append(
            "<tr>"
            f"<td class='l mono'>{_e(lead['lead_id'])}</td>"
            f"<td class='l'>{_e(lead['rep'])}</td>"
            f"<td class='l dim'>{_e(lookup(lead['rep']).team or '') if lead['rep'] != UNASSIGNED else ''}</td>"
            f"<td class='l'>{_e(lead.get('segment') or '–')}</td>"
            f"<td>{_e(_fixed(lead.get('score'), 0))}</td>"
            f"<td>{_duration(waited)}</td>"
            f"<td class='{cls}'>{_e(sla)}</td></tr>"
        )
    more = len(leads) - UNCONTACTED_ROWS
    extra = f"<p class='dim more'>and {more} more</p>" if more > 0 else ""
    return (
        "<section><h2>Uncontacted leads, oldest first</h2><table class='waiting'><thead><tr>"
        "<th class='l'>lead</th><th class='l'>owner</th><th class='l'>team</th><th class='l'>segment</th>"
        "<th>score</th><th>waiting</th><th>SLA</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>{extra}</section>"
    )


# --------------------------------------------------------------------------- formatting


def _stage_totals(by_type: dict) -> dict[str, int]:
    out = {stage: 0 for stage, _ in STAGES}
    for stages in by_type.values():
        for stage, n in stages.items():
            if stage in out:
                out[stage] += n
    return out


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _td(text: str, cls: str = "") -> str:
    return f"<td class='{cls}'>{_e(text)}</td>" if cls else f"<td>{_e(text)}</td>"


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _int(value) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _fixed(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _month(text: str | None) -> str:
    if not text:
        return "–"
    year, month = text.split("-")
    return _MONTHS[int(month) - 1]


def _duration(seconds) -> str:
    """Seconds as people read them on a board: 42s, 4m 05s, 3h 12m, 2d 4h."""
    if seconds is None:
        return "–"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)


# Sized in viewport units so that a 1080p TV across a room and a laptop both
# read it; tabular figures keep the columns steady between refreshes.
_CSS = """
:root { color-scheme: dark; }
body { margin: 0; padding: 1.2vh 1.6vw; background: #0e1116; color: #e8ecf1;
  font: clamp(14px, 1.02vw, 44px)/1.3 system-ui, "DejaVu Sans", sans-serif; font-variant-numeric: tabular-nums; }
header { display: flex; align-items: baseline; gap: 2vw; flex-wrap: wrap; }
h1 { font-size: 1.9em; margin: 0; }
h2 { font-size: 1.25em; margin: .9vh 0 .3vh; }
.asof { color: #9aa4b2; margin: 0; }
nav a { color: #9cc4ff; margin-right: .8em; text-decoration: none; font-size: 1.1em; }
nav a[aria-current] { color: #0e1116; background: #9cc4ff; padding: 0 .4em; border-radius: .2em; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 1vw; margin: .9vh 0; }
.tile { background: #1a2029; border-radius: .4em; padding: .35em .8em; border-left: .35em solid #3b4656; }
.tile .label { color: #9aa4b2; }
.tile .big { font-size: 2.1em; font-weight: 700; line-height: 1.15; }
.tile.bad { border-left-color: #ff5c5c; } .tile.good { border-left-color: #3ccf7a; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .24em .42em; text-align: right; white-space: nowrap; }
th { color: #9aa4b2; font-weight: 600; }
th.group { text-align: center; border-bottom: 2px solid #3b4656; color: #c9d1db; }
tbody tr:nth-child(odd) { background: #151a21; }
tfoot td { font-weight: 700; border-top: 2px solid #3b4656; }
.l { text-align: left; }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .92em; }
.dim { color: #7d8794; }
.bad { color: #ff6b6b; font-weight: 700; }
.warn { color: #ffc857; }
.good { color: #3ccf7a; }
.more { margin: .2em 0 0; }
.alert { background: #5a1d1d; padding: .4em .8em; border-radius: .3em; }
footer { color: #7d8794; font-size: .8em; margin-top: .8vh; }
"""
