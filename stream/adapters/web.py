"""HTTP on the worker: /metrics, /healthz, /readyz, /sla/leads/{id},
/sla/reps (the per-rep table of the whole group, whichever worker answers),
/sla/reps/buckets, /sla/segments (live segment verdicts) and /wallboard.

With SLA_HTTP_TOKEN set, all but /healthz, /readyz and /metrics need the
bearer token (stream.adapters.access)."""

from __future__ import annotations

import asyncio

import orjson
from prometheus_client import CONTENT_TYPE_LATEST

from stream.adapters import access
from stream.adapters.group import group_buckets, group_report, local_part
from stream.adapters.agents import expected_partition
from stream.adapters.health import is_ready
from stream.adapters.tables import decode as decode_lead
from stream.adapters.wallboard import wallboard_page


def install(ctx) -> None:
    app = ctx.app
    leads = ctx.state["leads"]
    access.install(app, ctx.settings.http_token)

    @app.page("/metrics")
    async def metrics(web, request):
        # A family at a time, letting the sweeper and the agents in between:
        # a scrape with a big roster must not delay breach emission.
        parts = []
        for part in ctx.metrics.render(ctx.clock()):
            parts.append(part)
            await asyncio.sleep(0)
        return web.bytes(b"".join(parts), content_type=CONTENT_TYPE_LATEST.split(";")[0])

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
        key = lead_id.encode()
        state = decode_lead(ctx.state["lead_store"].get(expected_partition(key, ctx.settings.partitions), key))
        if state is None:
            return web.json({"lead_id": lead_id, "error": "unknown lead"}, status=404)
        return web.json(ctx.processor.view(state, ctx.clock()))

    @app.page("/sla/segments")
    async def segments(web, request):
        board = ctx.segment_board
        rows = [board.row(stats) for _, stats in sorted(ctx.live_segments.items())]
        return web.bytes(orjson.dumps({"segments": rows}), content_type="application/json")

    @app.page("/sla/reps/local")
    async def reps_local(web, request):
        part = local_part(ctx, request.query.get("team") or None)
        return web.bytes(orjson.dumps(part), content_type="application/json")

    @app.page("/sla/reps/buckets")
    async def reps_buckets(web, request):
        return web.bytes(orjson.dumps(await group_buckets(ctx)), content_type="application/json")

    @app.page("/sla/reps")
    async def reps(web, request):
        return web.bytes(orjson.dumps(await group_report(ctx)), content_type="application/json")

    @app.page("/wallboard")
    async def wallboard(web, request):
        team = request.query.get("team") or None
        return web.html(wallboard_page(ctx, await group_report(ctx, team), team=team))
