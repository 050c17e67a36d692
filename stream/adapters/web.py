"""HTTP on the worker: /metrics, /healthz, /readyz, /sla/leads/{id},
/sla/reps (the per-rep table of the whole group, whichever worker answers)
and /wallboard."""

from __future__ import annotations

import asyncio
import html
import logging
from datetime import datetime, timedelta, timezone

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream.adapters.health import is_ready
from stream.adapters.tables import decode as decode_lead
from stream.domain.rep_stats import RepDay, local_day, rep_calendar

log = logging.getLogger(__name__)


def local_part(ctx) -> dict:
    """This worker's share: day buckets and open clocks of its active partitions."""
    sweeper = ctx.state["sweeper"]
    buckets = [b.to_dict() for b in ctx.rep_table.local_buckets()]
    open_clocks = [
        {"rep": rep or "unassigned", "open": count, "oldest_started_at": started}
        for rep, count, started in ctx.index.open_by_rep()
    ]
    # Breach events detected since yesterday (UTC): "today" in any rep's zone.
    since = datetime.fromtimestamp(ctx.clock(), tz=timezone.utc).date() - timedelta(days=1)
    return {
        "buckets": buckets,
        "open_clocks": open_clocks,
        "detected": ctx.rep_table.detected_since(since),
        "partitions": sorted(sweeper.active),
    }


async def group_parts(ctx) -> tuple[list[dict], list[str]]:
    """Every worker's share (this one's included) and the workers that did not answer."""
    import aiohttp

    app = ctx.app
    me = str(app.conf.canonical_url).rstrip("/")
    others = sorted({str(url).rstrip("/") for url in app.router.tables_metadata()} - {me})
    parts = [local_part(ctx)]
    missing = []
    if others:
        timeout = aiohttp.ClientTimeout(total=3)
        async with aiohttp.ClientSession(timeout=timeout) as session:

            async def fetch(url: str):
                async with session.get(f"{url}/sla/reps/local") as resp:
                    resp.raise_for_status()
                    return orjson.loads(await resp.read())

            results = await asyncio.gather(*(fetch(u) for u in others), return_exceptions=True)
        for url, result in zip(others, results):
            if isinstance(result, BaseException):
                log.warning("no per-rep data from %s: %s", url, result)
                missing.append(url)
            else:
                parts.append(result)
    return parts, missing


async def group_report(ctx) -> dict:
    parts, missing = await group_parts(ctx)
    now = ctx.clock()
    buckets = [RepDay.from_dict(b) for part in parts for b in part["buckets"]]
    report = ctx.rep_table.report(buckets, now).to_dict()
    open_by_rep: dict[str, dict] = {}
    for part in parts:
        for item in part["open_clocks"]:
            mine = open_by_rep.setdefault(item["rep"], {"open": 0, "oldest_started_at": None})
            mine["open"] += item["open"]
            started = item["oldest_started_at"]
            if mine["oldest_started_at"] is None or started < mine["oldest_started_at"]:
                mine["oldest_started_at"] = started
    report["uncontacted"] = {
        rep: {"open": v["open"], "oldest_seconds": max(0.0, now - v["oldest_started_at"])}
        for rep, v in sorted(open_by_rep.items())
    }
    today: dict[str, dict[str, dict[str, int]]] = {}
    for part in parts:
        for rep, day, breach_type, stage, n in part.get("detected", ()):
            zone = rep_calendar(ctx.calendars.calendar_for, rep).zone
            if day == local_day(now, zone).isoformat():
                stages = today.setdefault(rep, {}).setdefault(breach_type, {})
                stages[stage] = stages.get(stage, 0) + n
    # Standing breach events (retractions taken off) detected on the rep's local today.
    report["breaches_today"] = dict(sorted(today.items()))
    report["complete"] = not missing
    report["missing_workers"] = missing
    return report


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


def install(ctx) -> None:
    app = ctx.app
    leads = ctx.state["leads"]

    @app.page("/metrics")
    async def metrics(web, request):
        return web.bytes(generate_latest(ctx.registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/healthz")
    async def healthz(web, request):
        return web.json({"status": "ok"})

    @app.page("/readyz")
    async def readyz(web, request):
        ready, reason = is_ready(ctx)
        return web.json({"ready": ready, "reason": reason}, status=200 if ready else 503)

    @app.page("/sla/leads/{lead_id}")
    @app.table_route(table=leads, match_info="lead_id")
    async def lead(web, request, lead_id: str):
        _, state = decode_lead(leads.get(lead_id.encode()))
        if state is None:
            return web.json({"lead_id": lead_id, "error": "unknown lead"}, status=404)
        return web.json(ctx.processor.view(state, ctx.clock()))

    @app.page("/sla/reps/local")
    async def reps_local(web, request):
        return web.bytes(orjson.dumps(local_part(ctx)), content_type="application/json")

    @app.page("/sla/reps")
    async def reps(web, request):
        return web.bytes(orjson.dumps(await group_report(ctx)), content_type="application/json")

    @app.page("/wallboard")
    async def wallboard(web, request):
        return web.html(wallboard_html(await group_report(ctx)))
