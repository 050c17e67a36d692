"""Valid wire-format events for the benchmarks, and a fast producer.

Events are built as orjson bytes up front so that producing them is not what
a benchmark measures. Ids are deterministic within a run (``run`` prefix).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from datetime import datetime, timezone

import orjson

from schemas.types import format_timestamp

Record = tuple[str, bytes, bytes]  # (Kafka topic, key, value)

SOURCES = ("web", "paid", "event", "referral")
PERSONAS = ("founder", "engineer", "marketing", "finance", "ops")
INDUSTRIES = ("software", "retail", "finance", "health", "manufacturing")
COUNTRIES = ("US", "DE", "GB", "FR", "CA")
CONTENT = ("ebook", "webinar", "blog", "pricing", "demo_request")
OUTCOMES = ("no_answer", "voicemail", "busy", "connected")


def ts(at: float) -> str:
    return format_timestamp(datetime.fromtimestamp(at, timezone.utc))


def rep_id(i: int) -> str:
    return f"r-{i:04d}"


def lead_created(lead_id: str, at: float, owner: str | None, rng: random.Random, event_id: str) -> dict:
    value = {
        "event_id": event_id,
        "lead_id": lead_id,
        "occurred_at": ts(at),
        "source": rng.choice(SOURCES),
        "company_size": rng.choice((5, 30, 120, 800, 5000)),
        "industry": rng.choice(INDUSTRIES),
        "country": rng.choice(COUNTRIES),
        "persona": rng.choice(PERSONAS),
        "email": f"{lead_id}@example.com",
    }
    if owner:
        value["owner_rep_id"] = owner
    return value


def download(lead_id: str, at: float, content_type: str, event_id: str) -> dict:
    return {
        "event_id": event_id,
        "lead_id": lead_id,
        "occurred_at": ts(at),
        "content_id": f"c-{content_type}",
        "content_type": content_type,
    }


def call(lead_id: str, at: float, rep: str, outcome: str, event_id: str) -> dict:
    return {
        "event_id": event_id,
        "lead_id": lead_id,
        "occurred_at": ts(at),
        "rep_id": rep,
        "outcome": outcome,
        "duration_seconds": 30.0 if outcome == "connected" else 0.0,
    }


def pipeline_mix(
    topic: callable,
    run: str,
    events: int,
    base: float,
    reps: int = 200,
    calls_per_lead: int = 3,
    seed: int = 7,
    first_call_after: float = 60.0,
) -> list[Record]:
    """``events`` valid input events over ``events // (2 + calls_per_lead)``
    leads: a lead-created, a download and ``calls_per_lead`` call attempts
    each (the first call ``first_call_after`` s after creation: no stage
    becomes due with a deadline longer than that, and no event lies in the
    future when ``base`` is more than ``first_call_after + 600 *
    calls_per_lead`` s ago). ``topic(name)`` gives the Kafka topic name."""
    rng = random.Random(seed)
    per_lead = 2 + calls_per_lead
    leads = max(1, -(-events // per_lead))
    created, downloads, calls = [], [], []
    for i in range(leads):
        lead_id = f"{run}-L{i:07d}"
        key = lead_id.encode()
        owner = rep_id(rng.randrange(reps))
        at = base + i * 0.001
        created.append((topic("lead-created"), key, lead_created(lead_id, at, owner, rng, f"{lead_id}-c")))
        downloads.append(
            (topic("content-downloaded"), key, download(lead_id, at + 10, rng.choice(CONTENT), f"{lead_id}-d"))
        )
        for k in range(calls_per_lead):
            outcome = "connected" if k == calls_per_lead - 1 else OUTCOMES[k % 3]
            value = call(lead_id, at + first_call_after + 600 * k, owner, outcome, f"{lead_id}-a{k}")
            calls.append((topic("call-attempt"), key, value))
    # Roughly the order a CRM would emit them: leads, then their activity.
    out = [(t, k, orjson.dumps(v)) for t, k, v in created + downloads + calls]
    return out[:events]


def iter_open_leads(
    topic: callable, run: str, count: int, at: float, reps: int = 200, seed: int = 11, tag: str = "O"
) -> Iterable[Record]:
    """``count`` lead-created events at event time ``at`` (never called):
    with ``workable_threshold = 0`` each opens a response clock. Lead ids are
    ``{run}-{tag}{i:07d}``. A generator: a million need not sit in memory."""
    rng = random.Random(seed)
    for i in range(count):
        lead_id = f"{run}-{tag}{i:07d}"
        value = lead_created(lead_id, at, rep_id(rng.randrange(reps)), rng, f"{lead_id}-c")
        yield topic("lead-created"), lead_id.encode(), orjson.dumps(value)


def open_leads(topic: callable, run: str, count: int, at: float, reps: int = 200, seed: int = 11) -> list[Record]:
    return list(iter_open_leads(topic, run, count, at, reps, seed))


async def produce_async(
    bootstrap: str, records: Iterable[Record], acks: int | str = 1, chunk: int = 20_000
) -> int:
    """Send records (default partitioner: murmur2, as the contract requires)
    and wait until every one is acknowledged; returns how many were sent.
    Acknowledgements are awaited every ``chunk`` records, so any number of
    records can stream through."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks=acks, linger_ms=20, max_batch_size=512 * 1024, request_timeout_ms=60_000
    )
    await producer.start()
    sent = 0
    try:
        futures = []
        for t, k, v in records:
            futures.append(await producer.send(t, key=k, value=v))
            if len(futures) >= chunk:
                await asyncio.gather(*futures)
                sent += len(futures)
                futures = []
        await producer.flush()
        await asyncio.gather(*futures)
        return sent + len(futures)
    finally:
        await producer.stop()


def produce(bootstrap: str, records: Iterable[Record]) -> int:
    return asyncio.run(produce_async(bootstrap, records))
