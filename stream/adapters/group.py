"""The per-rep table of the whole group, whichever worker is asked: each
worker's share of its active partitions (``local_part``), merged."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import orjson

from stream.adapters.access import bearer_headers
from stream.adapters.tables import decode as decode_lead
from stream.domain.rep_stats import UNASSIGNED, RepDay, local_day, rep_calendar

log = logging.getLogger(__name__)

# Uncontacted leads listed per worker, and on the merged list, oldest first.
UNCONTACTED_LISTED = 50


def uncontacted_leads(ctx, limit: int = UNCONTACTED_LISTED, team: str | None = None) -> list[dict]:
    """This worker's oldest open clocks (of ``team``'s reps when given) with
    what a wallboard shows of their lead (owner, segment, score): never
    personal data such as the email."""
    store = ctx.state["lead_store"]
    owners = None if team is None else (lambda owner: ctx.calendars.team_of(owner) == team)
    out = []
    for lead_id, partition, (started_at, owner, overdue_at) in ctx.index.oldest_open(limit, owners):
        state = decode_lead(store.get(partition, lead_id.encode()))
        score = (state.score if state is not None else None) or {}
        out.append(
            {
                "lead_id": lead_id,
                "rep": owner or UNASSIGNED,
                "segment": score.get("segment"),
                "score": score.get("score"),
                "started_at": started_at,
                "overdue_at": overdue_at,
                "partition": partition,
            }
        )
    return out


def local_part(ctx, team: str | None = None) -> dict:
    """This worker's share: day buckets and open clocks of its active
    partitions (the listed uncontacted leads of ``team`` only, when given)."""
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
        "uncontacted_leads": uncontacted_leads(ctx, team=team),
        "detected": ctx.rep_table.detected_since(since),
        "partitions": sorted(sweeper.active),
    }


async def group_parts(ctx, team: str | None = None) -> tuple[list[dict], list[str]]:
    """Every worker's share (this one's included) and the workers that did not answer."""
    import aiohttp

    app = ctx.app
    me = str(app.conf.canonical_url).rstrip("/")
    others = sorted({str(url).rstrip("/") for url in app.router.tables_metadata()} - {me})
    parts = [local_part(ctx, team)]
    query = f"?{urlencode({'team': team})}" if team else ""
    missing = []
    if others:
        timeout = aiohttp.ClientTimeout(total=3)
        # The other workers check the same SLA_HTTP_TOKEN as this one.
        headers = bearer_headers(ctx.settings.http_token)
        async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:

            async def fetch(url: str):
                async with session.get(f"{url}/sla/reps/local{query}") as resp:
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


async def group_report(ctx, team: str | None = None) -> dict:
    """The per-rep report of the whole group; ``team`` narrows the list of
    uncontacted leads to that team's reps (the tables stay whole)."""
    parts, missing = await group_parts(ctx, team)
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
    waiting = sorted(
        (lead for part in parts for lead in part.get("uncontacted_leads", ())),
        key=lambda lead: (lead["started_at"], lead["lead_id"]),
    )[:UNCONTACTED_LISTED]
    for lead in waiting:
        # Wall-clock seconds until the lead is overdue (negative: overdue for that long).
        lead["due_in_seconds"] = None if lead["overdue_at"] is None else lead["overdue_at"] - now
    report["uncontacted_leads"] = waiting
    report["complete"] = not missing
    report["missing_workers"] = missing
    return report




async def group_buckets(ctx) -> dict:
    """Every worker's day buckets, merged per rep and day: what an offline
    report needs to cut any week out of the live table."""
    parts, missing = await group_parts(ctx)
    buckets = ctx.rep_table.merge(RepDay.from_dict(b) for part in parts for b in part["buckets"])
    return {
        "as_of": ctx.clock(),
        "buckets": [b.to_dict() for b in buckets],
        "complete": not missing,
        "missing_workers": missing,
    }
