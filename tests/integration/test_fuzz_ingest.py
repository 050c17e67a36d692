"""A generated batch of records, good and bad, on every input topic and
``reps`` through one worker: every record the contract refuses lands in
``dead-letter`` with a reason, the worker stays ready, the counters add up to
what was sent, and no log line quotes a refused record's email.

Hypothesis generates the batch (derandomized, a few hundred records); what
the worker must do with each record is what ``decode`` (and, for ``reps``,
the calendar check) says, so the test predicts every dead letter exactly.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import orjson
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, Phase, given, settings

from schemas.personal import EMAIL
from schemas.reps import RepRecord
from stream.policy import parse_policy
from stream.service.calendars import CalendarBook
from stream.service.ingest import Rejected, decode
from tests.support import payloads
from tests.support.kafka import consume, values
from tests.support.worker import wait_for

POLICY = """
[response]
deadline_seconds = 3600
business_hours = false
[scoring]
workable_threshold = 0
"""
RECORDS = 300


def generated_batch(n: int) -> list[tuple]:
    batch: list[tuple] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(payloads.records())
    def collect(record):
        batch.append(record)

    collect()
    return batch


def verdict(topic: str, key: bytes | None, value: bytes | None, calendars: CalendarBook):
    """What the worker must do: a Rejected (dead letter) or the model."""
    if topic == "reps" and value is None:
        return None  # a rep removed: counted ok
    model = decode(topic, key, value)
    if topic == "reps" and isinstance(model, RepRecord):
        try:
            calendars.check(model)
        except ValueError as exc:
            return Rejected(str(exc))
    return model


async def send_all(bootstrap: str, records: list[tuple]) -> list[tuple[str, int, int]]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=4 << 20)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, key=key, value=value, headers=headers) for topic, key, value, headers in records
        ]
        sent = [await f for f in futures]
    finally:
        await producer.stop()
    return [(m.topic, m.partition, m.offset) for m in sent]


def test_a_generated_batch_is_counted_and_every_bad_record_dead_lettered(start_workers, kafka_bootstrap):
    (worker,) = start_workers(POLICY)
    batch = generated_batch(RECORDS)
    calendars = CalendarBook(parse_policy({"response": {"business_hours": False}}))
    verdicts = [verdict(topic, key, value, calendars) for topic, key, value, _ in batch]
    where = asyncio.run(
        send_all(kafka_bootstrap, [(worker.topic(t), k, v, h) for t, k, v, h in batch])
    )

    sent = Counter(topic for topic, *_ in batch)
    invalid = Counter(topic for (topic, *_), v in zip(batch, verdicts) if isinstance(v, Rejected))
    expected_letters = {w for w, v in zip(where, verdicts) if isinstance(v, Rejected)}
    # Valid lead events: the first of each (lead, event id) is ok, the rest duplicates,
    # whatever topic each came on.
    accepted = [(v.lead_id, v.event_id) for (t, *_), v in zip(batch, verdicts) if t != "reps" and v is not None
                and not isinstance(v, Rejected)]
    assert len(expected_letters) > 50 and len(accepted) > 50  # the batch has both kinds

    def counted(topic: str) -> float:
        return sum(worker.metric("sla_events_total", topic=topic, result=r) for r in ("ok", "invalid", "duplicate"))

    wait_for(lambda: all(counted(t) == n for t, n in sent.items()), timeout=120, message="every record counted")
    for topic in payloads.TOPICS:
        assert worker.metric("sla_events_total", topic=topic, result="invalid") == invalid[topic], topic
    lead_topics = payloads.LEAD_TOPICS
    assert sum(worker.metric("sla_events_total", topic=t, result="ok") for t in lead_topics) == len(set(accepted))
    assert sum(worker.metric("sla_events_total", topic=t, result="duplicate") for t in lead_topics) == len(
        accepted
    ) - len(set(accepted))
    assert worker.metric("sla_events_total", topic="reps", result="duplicate") == 0

    records = consume(
        kafka_bootstrap, worker.topic("dead-letter"), timeout=60, until=lambda r: len(r) >= len(expected_letters)
    )
    letters = values(records)
    assert {(d["topic"], d["partition"], d["offset"]) for d in letters} == expected_letters
    assert len(letters) == len(expected_letters)
    assert all(isinstance(d["error"], str) and d["error"].strip() for d in letters)

    assert worker.get("/readyz")[0] == 200 and worker.get("/healthz")[0] == 200
    # A dead-lettered record's log line names the error, never its payload.
    log = worker.log_path.read_text(errors="replace")
    refused_emails = {
        email
        for (topic, _, value, _), v in zip(batch, verdicts)
        if isinstance(v, Rejected) and value
        for email in EMAIL.findall(value.decode("utf-8", "replace"))
    }
    assert refused_emails, "the batch should hold refused records with emails"
    assert not [email for email in refused_emails if email in log]
    assert "Traceback" not in log, log[-3000:]
    # The leads that were accepted are readable.
    plain = sorted({lead for lead, _ in accepted if lead.isascii() and lead.isalnum()})
    for lead_id in plain[:3]:
        status, body = worker.get(f"/sla/leads/{lead_id}")
        assert status == 200 and orjson.loads(body)["lead_id"] == lead_id
