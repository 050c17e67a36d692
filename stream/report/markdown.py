"""The weekly report as a short Markdown summary, for a chat channel."""

from __future__ import annotations

from stream.report.formats import breaches, count, duration, instant, number, percent, signed
from stream.report.weekly import WeeklyReport

_LISTED = 10  # names listed in a line before "and N more": a chat message stays short


def render_markdown(report: WeeklyReport) -> str:
    week, total = report.week, report.total
    f = total.figures()
    expected = f["expected"]
    pacing = "" if f["pacing"] is None else f", pacing {number(f['pacing'])}"
    target = f" of {number(expected, 1)} expected{pacing}" if expected is not None else ""
    b = f["breaches"]
    lines = [
        f"**SMarketing weekly report {week}** ({week.first.isoformat()} – {week.last.isoformat()},"
        f" as of {instant(report.as_of)})",
        "",
        f"- Workable leads: **{count(f['workable'])}**{target} ({signed(total.change('workable'), 'count')} vs last week)",
        f"- First response: median {duration(f['response_median'])}, p95 {duration(f['response_p95'])},"
        f" **{percent(f['within_sla'])}** within the {duration(report.deadline_seconds)} deadline"
        f" ({signed(total.change('within_sla'), 'points')})",
        f"- Attempts per lead {number(f['attempts_per_lead'])} · connect {percent(f['connect_rate'])}"
        f" · pipeline {percent(f['pipeline_rate'])}",
        f"- Routing delay median {duration(f['routing_median'])} (p95 {duration(f['routing_p95'])})"
        f" · rep delay median {duration(f['rep_delay_median'])} (p95 {duration(f['rep_delay_p95'])})",
        f"- Breaches: first response {breaches(b, 'first_response', 'breach')}"
        f" (escalated {breaches(b, 'first_response', 'escalation')})"
        f" · attempt cadence {breaches(b, 'attempt_cadence', 'breach')}",
        "",
        "| team | workable | expected | pacing | within deadline | median response | connect | pipeline |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in [*report.teams, total]:
        g = row.figures()
        name = f"**{row.name}**" if row.kind == "total" else row.name
        lines.append(
            f"| {name} | {count(g['workable'])} | {number(g['expected'], 1)} | {number(g['pacing'])}"
            f" | {percent(g['within_sla'])} | {duration(g['response_median'])} | {percent(g['connect_rate'])}"
            f" | {percent(g['pipeline_rate'])} |"
        )
    behind = [
        r.name
        for r in report.reps
        if r.figures()["pacing"] is not None and r.figures()["pacing"] < report.pacing_warning_ratio
    ]
    if behind:
        shown = ", ".join(behind[:_LISTED]) + (f" and {len(behind) - _LISTED} more" if len(behind) > _LISTED else "")
        lines += ["", f"Behind the marketing SLA (pacing < {report.pacing_warning_ratio:g}): {shown}"]
    if report.segments is None:
        lines += ["", f"Segments: not available ({report.segments_note})"]
    else:
        verdicts = {True: [], False: [], None: []}
        for seg in report.segments:
            verdicts[seg.get("profitable")].append(str(seg.get("segment")))
        lines += [
            "",
            f"Segments: {len(verdicts[True])} profitable, {len(verdicts[False])} unprofitable,"
            f" {len(verdicts[None])} undecided",
        ]
        if verdicts[False]:
            bad = verdicts[False]
            shown = ", ".join(bad[:_LISTED]) + (f" and {len(bad) - _LISTED} more" if len(bad) > _LISTED else "")
            lines.append(f"Unprofitable (not routed to Sales): {shown}")
    for note in report.notes:
        lines += ["", f"_{note}_"]
    return "\n".join(lines) + "\n"
