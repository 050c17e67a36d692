"""``simulate`` and ``replay`` as processes against the real local broker:
events land on the prefixed topics, keyed by lead_id (rep_id on ``reps``),
co-partitioned by aiokafka's default murmur2 partitioner."""

import os
import subprocess
import sys
from collections import Counter
from datetime import datetime

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from stream.service.simulation import LEAD_TOPICS, Simulation, to_history_lines
from tests.support.kafka import ROOT, consume, unique_prefix

pytestmark = pytest.mark.integration

START = "2026-11-16T14:00:00Z"  # a Monday: reps at work, so leads get calls
PARTITIONS = 8  # the local broker's num.partitions for auto-created topics


def stream_command(bootstrap: str, prefix: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLA_")}
    clean.update(SLA_KAFKA_BOOTSTRAP=bootstrap, SLA_TOPIC_PREFIX=prefix, **env)
    command = [sys.executable, "-m", "stream", *args]
    result = subprocess.run(command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def read_back(bootstrap: str, prefix: str, topics, expected: int):
    records = consume(
        bootstrap, [prefix + t for t in topics], timeout=20, until=lambda recs: len(recs) >= expected
    )
    assert len(records) == expected
    return records


def murmur2_partition(key: bytes) -> int:
    partitions = list(range(PARTITIONS))
    return DefaultPartitioner()(key, partitions, partitions)


def test_simulate_publishes_the_roster_and_the_leads_events(kafka_bootstrap):
    prefix = unique_prefix()
    args = ("--count", "20", "--no-wait", "--seed", "5", "--start", START)
    result = stream_command(kafka_bootstrap, prefix, "simulate", *args)

    sim = Simulation(seed=5, start=datetime.fromisoformat(START))
    items = list(sim.events(leads=20))
    topics = {i.topic for i in items} | {"reps"}
    expected = Counter((i.topic, i.key, i.value["event_id"]) for i in items)
    expected.update(("reps", r["rep_id"], None) for r in sim.roster())
    assert f"published {len(items)} events" in result.stdout

    records = read_back(kafka_bootstrap, prefix, topics, sum(expected.values()))
    got = Counter()
    partitions_by_lead = {}
    for record in records:
        topic = record.topic.removeprefix(prefix)
        value = orjson.loads(record.value)
        key = record.key.decode()
        if topic == "reps":
            assert key == value["rep_id"]
            got[(topic, key, None)] += 1
            continue
        assert topic in LEAD_TOPICS and key == value["lead_id"]
        got[(topic, key, value["event_id"])] += 1
        partitions_by_lead.setdefault(key, set()).add(record.partition)
    assert got == expected
    # Every lead's events sit in one partition number across the lead topics.
    for lead_id, partitions in partitions_by_lead.items():
        assert partitions == {murmur2_partition(lead_id.encode())}, lead_id


def test_replay_publishes_values_as_they_are_and_skips_unreadable_lines(kafka_bootstrap, tmp_path):
    prefix = unique_prefix()
    sim = Simulation(seed=9, start=datetime.fromisoformat(START))
    items = list(sim.events(leads=5))
    # Invalid on purpose: replay sends it as it is, the worker dead-letters it.
    malformed = {"lead_id": "lead-bad", "outcome": "teleported"}
    lines = list(to_history_lines(items, roster=sim.roster()))
    lines += [
        "not json at all\n",
        '{"topic": "no-such-topic", "value": {"lead_id": "x"}}\n',
        "\n",
        orjson.dumps({"topic": "call-attempt", "value": malformed}).decode() + "\n",
    ]
    history = tmp_path / "history.jsonl"
    history.write_text("".join(lines))

    # --topic-prefix wins over SLA_TOPIC_PREFIX
    result = stream_command(kafka_bootstrap, "ignored.", "replay", str(history), "--topic-prefix", prefix)

    sent = [orjson.loads(line) for line in lines[: len(items) + 6]]
    sent.append({"topic": "call-attempt", "value": malformed})
    assert f"published {len(sent)} events" in result.stdout
    assert "skipped 2 lines" in result.stdout
    assert "line " + str(len(items) + 7) in result.stderr  # the unreadable line is named

    topics = {doc["topic"] for doc in sent}
    records = read_back(kafka_bootstrap, prefix, topics, len(sent))
    got = Counter()
    for record in records:
        topic = record.topic.removeprefix(prefix)
        value = orjson.loads(record.value)
        assert record.key.decode() == value["rep_id" if topic == "reps" else "lead_id"]
        got[orjson.dumps({"topic": topic, "value": value}, option=orjson.OPT_SORT_KEYS)] += 1
    assert got == Counter(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS) for doc in sent)


def test_replay_dead_letter_sends_fixed_records_back_through_murmur2(start_workers, tmp_path):
    """A producer with the wrong partitioner got a lead dead-lettered; once it
    is fixed, `replay --dead-letter` puts the record where it belongs and the
    worker takes it."""
    import asyncio

    from aiokafka import AIOKafkaProducer

    from tests.support.events import lead, now
    from tests.support.worker import wait_for

    (worker,) = start_workers("[response]\nbusiness_hours = false\n")
    bootstrap, prefix = worker.bootstrap, worker.prefix
    lead_id = "lead-misplaced"
    right = DefaultPartitioner()(lead_id.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
    value = lead(lead_id, now())

    async def send_wrong():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(prefix + "lead-created", key=lead_id.encode(),
                                         value=orjson.dumps(value), partition=(right + 1) % 4)
            await producer.send_and_wait(prefix + "lead-created", key=b"lead-binary", value=b"\xff\x00",
                                         partition=DefaultPartitioner()(b"lead-binary", [0, 1, 2, 3], [0, 1, 2, 3]))
        finally:
            await producer.stop()

    asyncio.run(send_wrong())
    letters = consume(bootstrap, prefix + "dead-letter", timeout=60, until=lambda recs: len(recs) >= 2)
    assert len(letters) == 2
    assert worker.get(f"/sla/leads/{lead_id}")[0] == 404
    murmur = ("replay", "--dead-letter", "--topic", "lead-created", "--error", "MURMUR2")

    dry = stream_command(bootstrap, prefix, *murmur, "--dry-run")
    assert "would re-publish 1 dead letters (lead-created 1); left out by the filters 1" in dry.stdout
    assert f"key '{lead_id}'" in dry.stderr
    assert worker.get(f"/sla/leads/{lead_id}")[0] == 404

    done = stream_command(bootstrap, prefix, *murmur)
    assert "re-published 1 dead letters (lead-created 1)" in done.stdout
    wait_for(lambda: worker.get(f"/sla/leads/{lead_id}")[0] == 200, 60, message="the re-published lead")
    records = consume(bootstrap, prefix + "lead-created", timeout=10, until=lambda recs: len(recs) >= 3)
    again = [r for r in records if r.key == lead_id.encode() and r.partition == right]
    assert len(again) == 1 and orjson.loads(again[0].value) == value

    # From a file of dead-letter values: the binary payload goes back byte for byte.
    dump = "".join(r.value.decode() + "\n" for r in letters)
    path = tmp_path / "dead-letters.jsonl"
    path.write_text(dump)
    stream_command(bootstrap, prefix, "replay", "--dead-letter", str(path), "--error", "not JSON")
    records = consume(bootstrap, prefix + "lead-created", timeout=10, until=lambda recs: len(recs) >= 4)
    assert [r.value for r in records if r.key == b"lead-binary"] == [b"\xff\x00", b"\xff\x00"]
