"""The wallboard page: the per-rep table of the whole group as HTML."""

from __future__ import annotations

import html


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _secs(value) -> str:
    if value is None:
        return "–"
    value = float(value)
    return f"{value:.0f}s" if value < 120 else f"{value / 60:.1f}m" if value < 7200 else f"{value / 3600:.1f}h"


def wallboard_html(report: dict) -> str:
    window = report["windows"]["mtd"]
    marketing = {m["rep"]: m for m in report["marketing"]["reps"]}
    marketing["total"] = report["marketing"]["total"]
    uncontacted = report.get("uncontacted", {})
    rows = []
    for s in window["reps"] + [window["total"]]:
        rep = s["rep"]
        m = marketing.get(rep, {})
        u = uncontacted.get(rep, {})
        pacing = m.get("pacing_ratio")
        cls = "bad" if (pacing is not None and pacing < 0.8) else ""
        breaches = sum(n for stages in (s.get("breaches") or {}).values() for n in stages.values())
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(c))}</td>"
                for c in (
                    rep,
                    s.get("workable_leads", 0),
                    u.get("open", 0) if rep != "total" else sum(v["open"] for v in uncontacted.values()),
                    _secs(u.get("oldest_seconds")) if rep != "total" else "",
                    _pct(s.get("first_response_within_sla_ratio")),
                    _secs(s.get("response_seconds_median")),
                    _secs(s.get("response_seconds_p95")),
                    "–" if s.get("attempts_per_workable_lead") is None else f"{s['attempts_per_workable_lead']:.1f}",
                    _pct(s.get("connect_rate")),
                    _pct(s.get("pipeline_conversion_rate")),
                    breaches,
                )
            )
            + f"<td class='{cls}'>{_pct(pacing)}</td></tr>"
        )
    note = "" if report.get("complete", True) else "<p class='bad'>Some workers did not answer: partial data.</p>"
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "rep", "workable (mtd)", "uncontacted", "oldest", "within SLA", "median", "p95",
            "attempts/lead", "connect", "pipeline", "breaches", "pacing",
        )
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>SLA wallboard</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #111; color: #eee; margin: 2em; }}
table {{ border-collapse: collapse; font-size: 1.3em; }}
th, td {{ padding: .35em .8em; border-bottom: 1px solid #333; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
tr:last-child td {{ font-weight: bold; }}
.bad {{ color: #f55; }}
</style></head>
<body><h1>Sales &amp; Marketing SLA — month to date</h1>
<p>as of {html.escape(report["as_of"])} · refreshes every 10 s</p>{note}
<table><tr>{head}</tr>{"".join(rows)}</table></body></html>"""
