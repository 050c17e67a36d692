"""The live worker and ``backtest`` agree: the same events give the same
standing breaches (same leads, stages and event ids).

Events are published at their own ``occurred_at`` (a few seconds from now),
so the worker sees them in event order, as the backtest assumes; the policy's
4-second deadline makes every stage fall due within about 20 seconds.
"""

from __future__ import annotations

import asyncio
import time
import tomllib
from datetime import datetime, timezone

import orjson
from aiokafka import AIOKafkaProducer

from schemas.events import INPUT_MODELS
from stream.policy import parse_policy
from stream.service.backtest import run_backtest
from tests.support import events as ev
from tests.support.kafka import consume, values

POLICY = """
[response]
deadline_seconds = 4
business_hours = false
allowed_lateness_seconds = 0.5

[scoring]
workable_threshold = 0
"""
ESCALATION_SECONDS = 12  # 3 × the deadline
LEADS = 20


def plan(t0: datetime) -> list[tuple[float, str, str, dict]]:
    """(seconds after t0, topic, key, value) of every event, in time order.

    Lead i is created at 0.25·i s; by kind it is called in time (1.5 s after
    creation), after the warning only (3.6 s), late (6 s), or never; some are
    owned, some reassigned, one is re-engaged by a demo request after its call
    and one event is sent twice.
    """
    out = []
    for i in range(LEADS):
        lead = f"L{i:02d}"
        created = 0.25 * i
        owner = (None, "r-1", "r-2")[i % 3]
        out.append((created, "lead-created", lead, ev.lead(lead, ev.later(t0, created), owner=owner)))
        kind = i % 4
        call_after = {0: 1.5, 1: 3.6, 2: 6.0, 3: None}[kind]
        if call_after is not None:
            at = created + call_after
            outcome = "connected" if i % 5 == 0 else "no_answer"
            out.append((at, "call-attempt", lead, ev.call(lead, ev.later(t0, at), rep="r-1", outcome=outcome)))
        if i % 7 == 2:
            at = created + 2.0
            out.append((at, "lead-assigned", lead, ev.assigned(lead, ev.later(t0, at), "r-3")))
        if i == 4:  # called in time at 2.5 s, re-engaged at 3.0 s, never called again
            at = created + 2.0
            out.append((at, "content-downloaded", lead, ev.download(lead, ev.later(t0, at), "demo_request")))
    out.sort(key=lambda item: item[0])
    first_call = next(item for item in out if item[1] == "call-attempt")
    out.append((first_call[0] + 0.1, *first_call[1:]))  # a duplicate
    out.sort(key=lambda item: item[0])
    return out


async def publish_on_time(bootstrap: str, worker, t0: float, events) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    await producer.start()
    try:
        for offset, topic, key, value in events:
            delay = t0 + offset - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await producer.send_and_wait(worker.topic(topic), key=key.encode(), value=orjson.dumps(value))
    finally:
        await producer.stop()


def standing(breaches: list[dict]) -> set[tuple[str, str, str]]:
    """(lead_id, stage, event_id) of every breach not retracted."""
    retracted = {b["retracts"] for b in breaches if b["stage"] == "retracted"}
    return {
        (b["lead_id"], b["stage"], b["event_id"])
        for b in breaches
        if b["stage"] != "retracted" and b["event_id"] not in retracted
    }


def test_the_live_worker_and_the_backtest_emit_the_same_breaches(make_worker, kafka_bootstrap):
    worker = make_worker(POLICY)
    worker.create_topics()
    worker.start().wait_ready()

    start = time.time() + 1.0
    t0 = datetime.fromtimestamp(start, tz=timezone.utc)
    events = plan(t0)
    end = start + events[-1][0] + ESCALATION_SECONDS + 1.0

    policy = parse_policy(tomllib.loads(POLICY))
    history = [(topic, INPUT_MODELS[topic].model_validate(value)) for _, topic, _, value in events]
    result = run_backtest(history, policy, until=end)
    expected = standing(result.breaches)
    assert result.duplicates == 1
    # every kind of outcome is exercised
    stages = {stage for _, stage, _ in expected}
    assert stages == {"warning", "breach", "escalation"}
    assert {lead for lead, _, _ in expected} != {f"L{i:02d}" for i in range(LEADS)}

    asyncio.run(publish_on_time(kafka_bootstrap, worker, start, events))
    time.sleep(max(0.0, end + 1.0 - time.time()))
    records = consume(
        kafka_bootstrap,
        worker.topic("sla-breaches"),
        timeout=15,
        until=lambda recs: standing(values(recs)) >= expected,
    )
    live = standing(values(records))
    assert live == expected, (
        f"only live: {sorted(live - expected)}\nonly backtest: {sorted(expected - live)}\n{worker.tail()}"
    )
