"""Test helpers that talk to the local broker with plain aiokafka."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[2]
LOCAL_SH = ROOT / "deploy" / "kafka" / "local.sh"


def start_broker(port: int) -> tuple[str, bool]:
    """Start (or reuse) the local broker; returns (bootstrap, started_here)."""
    env = {"KAFKA_LOCAL_PORT": str(port)}
    import os

    full_env = {**os.environ, **env}
    was_running = subprocess.run([str(LOCAL_SH), "status"], env=full_env, capture_output=True).returncode == 0
    out = subprocess.run([str(LOCAL_SH), "start"], env=full_env, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"local.sh start failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout.strip().splitlines()[-1], not was_running


def stop_broker(port: int) -> None:
    import os

    subprocess.run([str(LOCAL_SH), "stop"], env={**os.environ, "KAFKA_LOCAL_PORT": str(port)}, timeout=120)


def unique_prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}."


def _encode(value) -> bytes:
    if isinstance(value, bytes):
        return value
    return orjson.dumps(value)


async def _produce(bootstrap: str, records: list[tuple[str, bytes | None, object]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, key=key, value=None if value is None else _encode(value))
            for topic, key, value in records
        ]
        await producer.flush()
        for f in futures:
            await f
    finally:
        await producer.stop()


def produce(bootstrap: str, records: list[tuple[str, str | bytes | None, object]]) -> None:
    """Send (topic, key, value) records in order; str keys are UTF-8 encoded."""
    encoded = [(t, k.encode() if isinstance(k, str) else k, v) for t, k, v in records]
    asyncio.run(_produce(bootstrap, encoded))


async def _consume(bootstrap: str, topics: list[str], timeout: float, until) -> list:
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            if until is not None and until(records):
                break
    finally:
        await consumer.stop()
    return records


def consume(bootstrap: str, topics: list[str] | str, timeout: float = 10.0, until=None) -> list:
    """Records of ``topics`` from the beginning, read for up to ``timeout``
    seconds or until ``until(records)`` is true."""
    if isinstance(topics, str):
        topics = [topics]
    return asyncio.run(_consume(bootstrap, topics, timeout, until))


def values(records) -> list[dict]:
    return [orjson.loads(r.value) for r in records]


def group_offsets(bootstrap: str, group: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """(committed offset, end offset) by partition of ``topic`` for ``group``;
    0 where the group never committed."""
    return asyncio.run(_group_offsets(bootstrap, group, topic))


async def _group_offsets(bootstrap: str, group: str, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        tps = [TopicPartition(topic, p["partition"]) for p in described["partitions"]]
        found = await admin.list_consumer_group_offsets(group, partitions=tps)
    finally:
        await admin.close()
    assert tps, f"{topic} has no partitions"
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await client.start()
    try:
        ends = await client.end_offsets(tps)
    finally:
        await client.stop()
    committed = {tp.partition: max(0, found[tp].offset) if tp in found else 0 for tp in tps}
    return committed, {tp.partition: n for tp, n in ends.items()}
