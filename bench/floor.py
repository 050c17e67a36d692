"""The framework floor of SPEC §9: a bare Faust agent with the worker's own
Faust settings that decodes and validates each input record with the
contract models and writes one value per record to a RocksDB-backed table.
What any Faust service pays before it does any work of its own.

Run as a process like the worker (same ``SLA_*`` environment), so the bench
times it the same way: ``/readyz`` once the table is recovered, and
``sla_events_total`` on ``/metrics`` counting what it has consumed.

    python -m bench.floor worker -l info
"""

from __future__ import annotations

import sys


def create_app():
    import faust
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    from stream.adapters.topics import LEAD_INPUTS
    from stream.bootstrap import faust_app
    from stream.service.ingest import Rejected, decode
    from stream.settings import load_settings

    settings = load_settings()
    app = faust_app(settings)
    registry = CollectorRegistry()
    events = Counter("sla_events", "Input records by result.", ["topic", "result"], registry=registry)
    n = settings.partitions
    names = {settings.topic(name): name for name in LEAD_INPUTS}
    inputs = app.topic(*names, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
    table = app.Table(
        "floor",
        key_type=bytes,
        value_type=bytes,
        partitions=n,
        changelog_topic=app.topic(
            settings.topic(f"{settings.app_id}-floor-changelog"),
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=n,
            compacting=True,
            deleting=False,
            acks=False,
            internal=True,
        ),
    )

    @app.agent(inputs, name="floor")
    async def floor(stream: faust.StreamT):
        async for event in stream.events():
            message = event.message
            topic = names[message.topic]
            model = decode(topic, message.key, message.value)
            if isinstance(model, Rejected):
                events.labels(topic=topic, result="invalid").inc()
                continue
            table[message.key] = message.value
            events.labels(topic=topic, result="ok").inc()

    @app.page("/metrics")
    async def metrics(web, request):
        return web.bytes(generate_latest(registry), content_type="text/plain")

    @app.page("/readyz")
    async def readyz(web, request):
        ready = app.tables.recovery.completed.is_set() and not app.rebalancing
        return web.json({"ready": ready, "reason": "ready" if ready else "recovering"}, status=200 if ready else 503)

    return app


def main() -> int:
    app = create_app()
    sys.argv = ["bench.floor", *sys.argv[1:]]
    app.main()
    return 0


if __name__ == "__main__":
    sys.exit(main())
