"""HTTP on the worker: /metrics, /healthz, /readyz, /sla/leads/{id},
/sla/reps (the per-rep table of the whole group, whichever worker answers),
/sla/reps/buckets and /wallboard."""

from __future__ import annotations

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream.adapters.group import group_buckets, group_report, local_part
from stream.adapters.health import is_ready
from stream.adapters.tables import decode as decode_lead
from stream.adapters.wallboard import wallboard_html


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

    @app.page("/sla/reps/buckets")
    async def reps_buckets(web, request):
        return web.bytes(orjson.dumps(await group_buckets(ctx)), content_type="application/json")

    @app.page("/sla/reps")
    async def reps(web, request):
        return web.bytes(orjson.dumps(await group_report(ctx)), content_type="application/json")

    @app.page("/wallboard")
    async def wallboard(web, request):
        return web.html(wallboard_html(await group_report(ctx)))
