"""``tail --from-beginning --limit N`` prints the N oldest breaches of the
whole topic, not those of the first partitions it happens to read."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.kafka import ROOT, unique_prefix

pytestmark = pytest.mark.integration


def breach(n: int) -> dict:
    return {
        "event_id": f"b-{n}",
        "breach_type": "first_response",
        "stage": "breach",
        "lead_id": f"lead-{n:02d}",
        "rep_id": "r-1",
        "clock_started_at": "2026-11-20T14:00:00Z",
        "deadline": "2026-11-20T14:05:00Z",
        "detected_at": f"2026-11-20T14:05:{n:02d}Z",
        "policy": {"deadline_seconds": 300},
    }


async def publish(bootstrap: str, topic: str, placed: list[tuple[int, int]]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=4, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for n, partition in placed:  # in time order, each with its own record time
            await producer.send_and_wait(
                topic, key=f"lead-{n:02d}".encode(), value=orjson.dumps(breach(n)),
                partition=partition, timestamp_ms=1_795_000_000_000 + n * 1000,
            )
    finally:
        await producer.stop()


def tail(bootstrap: str, prefix: str, *args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    env.update(SLA_KAFKA_BOOTSTRAP=bootstrap, SLA_TOPIC_PREFIX=prefix, COLUMNS="60")
    result = subprocess.run([sys.executable, "-m", "stream", "tail", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line for line in result.stdout.splitlines() if line.startswith("2026-")]


def test_the_n_oldest_breaches_across_partitions(kafka_bootstrap):
    prefix = unique_prefix()
    # Partition 0 holds the newest breaches, partition 3 the oldest.
    placed = [(1, 3), (2, 2), (3, 3), (4, 1), (5, 0), (6, 2), (7, 0), (8, 0), (9, 1), (10, 0)]
    asyncio.run(publish(kafka_bootstrap, prefix + "sla-breaches", placed))

    lines = tail(kafka_bootstrap, prefix, "--from-beginning", "--limit", "4", "--timeout", "30")
    assert [line.split()[4] for line in lines] == ["lead-01", "lead-02", "lead-03", "lead-04"]

    every = tail(kafka_bootstrap, prefix, "--from-beginning", "--timeout", "5")
    assert [line.split()[4] for line in every] == [f"lead-{n:02d}" for n in range(1, 11)]
    assert all(len(line.split()) >= 10 for line in every)  # one breach per line, even at 60 columns
