"""HTTP on the worker: /metrics, /healthz, /readyz (and the SLA pages)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from stream.adapters.tables import decode as decode_lead


def is_ready(ctx) -> tuple[bool, str]:
    app = ctx.app
    sweeper = ctx.state.get("sweeper")
    roster = ctx.state.get("roster")
    if app.rebalancing:
        return False, "rebalancing"
    if not app.tables.recovery.completed.is_set():
        return False, "recovering tables"
    if sweeper is None or not sweeper.ready:
        return False, "rebuilding the deadline index"
    if roster is not None and not roster.loaded.is_set():
        return False, "loading the rep roster"
    stats = ctx.state.get("segment_stats")
    if stats is not None and not stats.loaded.is_set():
        return False, "loading the segment statistics"
    return True, "ready"


def install(ctx) -> None:
    app = ctx.app

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

    leads = ctx.state["leads"]

    @app.page("/sla/leads/{lead_id}")
    @app.table_route(table=leads, match_info="lead_id")
    async def lead(web, request, lead_id: str):
        _, state = decode_lead(leads.get(lead_id.encode()))
        if state is None:
            return web.json({"lead_id": lead_id, "error": "unknown lead"}, status=404)
        return web.json(ctx.processor.view(state, ctx.clock()))
