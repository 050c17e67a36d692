"""Ingestion against the real local broker, with the worker as a process:
valid events build state, bad input is dead-lettered with a reason,
duplicates change nothing, and state survives SIGKILL."""

import orjson
import pytest

from tests.support import events as ev
from tests.support.kafka import consume, group_offsets, produce, values
from tests.support.worker import wait_for

# Every lead workable; plain time; no stage falls due during these tests.
POLICY = """
[response]
deadline_seconds = 3600
business_hours = false
[scoring]
workable_threshold = 0
"""


@pytest.fixture
def worker(start_workers):
    return start_workers(POLICY)[0]


def lead_view(worker, lead_id):
    status, body = worker.get(f"/sla/leads/{lead_id}")
    return status, orjson.loads(body)


def test_valid_events_build_the_lead_state(worker, kafka_bootstrap):
    t0 = ev.now()
    produce(
        kafka_bootstrap,
        [
            (worker.topic("lead-created"), "L1", ev.lead("L1", t0, owner="r-7", company_size=120)),
            (worker.topic("content-downloaded"), "L1", ev.download("L1", ev.later(t0, 5), "pricing")),
            (worker.topic("call-attempt"), "L1", ev.call("L1", ev.later(t0, 30), outcome="connected")),
            (worker.topic("lead-assigned"), "L1", ev.assigned("L1", ev.later(t0, 40), "r-8")),
            (worker.topic("opportunity-created"), "L1", ev.opportunity("L1", ev.later(t0, 60), 5000)),
        ],
    )
    wait_for(lambda: worker.metric("sla_events_total", topic="opportunity-created", result="ok") == 1)
    status, view = lead_view(worker, "L1")
    assert status == 200
    assert view["owner"] == "r-8"
    assert view["attributes"]["company_size"] == 120
    assert [d["content_type"] for d in view["downloads"]] == ["pricing"]
    assert view["calls"][0]["outcome"] == "connected"
    assert view["opportunities"][0]["amount"] == 5000
    assert view["response_clocks"][0]["response_seconds"] == pytest.approx(30, abs=0.01)
    assert lead_view(worker, "nobody")[0] == 404


def test_events_for_a_lead_may_arrive_in_any_order(worker, kafka_bootstrap):
    t0 = ev.now()
    produce(
        kafka_bootstrap,
        [
            (worker.topic("call-attempt"), "L2", ev.call("L2", ev.later(t0, 20))),
            (worker.topic("lead-created"), "L2", ev.lead("L2", t0)),
        ],
    )
    wait_for(lambda: worker.metric("sla_events_total", topic="lead-created", result="ok") == 1)
    _, view = lead_view(worker, "L2")
    assert view["response_clocks"][0]["stopped_at"] is not None
    assert view["response_clocks"][0]["response_seconds"] == pytest.approx(20, abs=0.01)


BAD = [
    # (topic, key, value, words expected in the error)
    ("lead-created", "B1", b"not json at all", "not JSON"),
    ("lead-created", "B2", b"[1, 2, 3]", "not a JSON object"),
    ("lead-created", "B3", b"\xff\xfe\x00garbage", "not JSON"),
    ("lead-created", "B4", {"event_id": "x4", "lead_id": "B4", "occurred_at": "2026-11-20T14:03:00Z"}, "source"),
    ("lead-created", "B5", {"event_id": "x5", "lead_id": "B5", "occurred_at": "2026-11-20 14:03", "source": "w"}, "occurred_at"),
    ("lead-created", "B6", {"event_id": "x6", "lead_id": "B6", "occurred_at": "2026-11-20T14:03:00", "source": "w"}, "offset"),
    ("lead-created", "B7", {"event_id": "x7", "lead_id": "B7", "occurred_at": "2026-11-20T14:03:00Z", "source": "w", "company_size": "big"}, "company_size"),
    ("call-attempt", "B8", {"event_id": "x8", "lead_id": "B8", "occurred_at": "2026-11-20T14:03:00Z", "rep_id": "r", "outcome": "maybe"}, "outcome"),
    ("call-attempt", "B9", {"event_id": "x9", "lead_id": "B9", "occurred_at": "2026-11-20T14:03:00Z", "rep_id": 7, "outcome": "busy"}, "rep_id"),
    ("opportunity-created", "B10", {"event_id": "x10", "lead_id": "B10", "occurred_at": "2026-11-20T14:03:00Z", "amount": -5}, "amount"),
    ("lead-assigned", "other-key", {"event_id": "x11", "lead_id": "B11", "occurred_at": "2026-11-20T14:03:00Z", "rep_id": "r"}, "differs from lead_id"),
    ("lead-created", "B12", {"event_id": "x" * 129, "lead_id": "B12", "occurred_at": "2026-11-20T14:03:00Z", "source": "w"}, "event_id"),
    ("lead-created", "B13", b'{"event_id": "x13", "lead_id": "B13", "pad": "' + b"x" * 70000 + b'"}', "too large"),
    ("content-downloaded", None, {"event_id": "x14", "lead_id": "B14", "occurred_at": "2026-11-20T14:03:00Z", "content_id": "c", "content_type": "blog"}, "differs from lead_id"),
    ("lead-created", "B15", None, "tombstone"),
    ("reps", "r-x", {"rep_id": "r-x", "timezone": "Mars/Olympus"}, "timezone"),
    ("reps", "r-y", b"{bad", "not JSON"),
]


def test_every_class_of_bad_input_lands_in_dead_letter_with_a_reason(worker, kafka_bootstrap):
    produce(kafka_bootstrap, [(worker.topic(t), k, v) for t, k, v, _ in BAD])
    records = consume(kafka_bootstrap, worker.topic("dead-letter"), timeout=30, until=lambda r: len(r) >= len(BAD))
    letters = values(records)
    assert len(letters) == len(BAD)
    by_key = {(d["topic"], d["key"]): d for d in letters}
    for topic, key, value, words in BAD:
        letter = by_key[(worker.topic(topic), key)]
        assert words.lower() in letter["error"].lower(), (words, letter["error"])
        assert letter["partition"] >= 0 and letter["offset"] >= 0
        assert letter["received_at"].endswith("Z")
        if value is None:
            assert letter["payload"] is None
        elif isinstance(value, bytes) and value.startswith(b"\xff"):
            assert letter["payload_encoding"] == "base64"
        elif isinstance(value, dict):
            assert orjson.loads(letter["payload"]) == value
    status, _ = worker.get("/readyz")
    assert status == 200
    assert worker.metric("sla_events_total", topic="lead-created", result="invalid") == 10
    assert worker.metric("sla_events_total", topic="reps", result="invalid") == 2


def test_a_repeated_event_id_changes_nothing(worker, kafka_bootstrap):
    t0 = ev.now()
    created = ev.lead("D1", t0)
    attempt = ev.call("D1", ev.later(t0, 10))
    produce(
        kafka_bootstrap,
        [(worker.topic("lead-created"), "D1", created)] * 3 + [(worker.topic("call-attempt"), "D1", attempt)] * 2,
    )
    wait_for(lambda: worker.metric("sla_events_total", topic="call-attempt", result="duplicate") == 1)
    assert worker.metric("sla_events_total", topic="lead-created", result="ok") == 1
    assert worker.metric("sla_events_total", topic="lead-created", result="duplicate") == 2
    assert worker.metric("sla_events_total", topic="call-attempt", result="ok") == 1
    assert worker.metric("sla_first_response_seconds_count", rep="unassigned") == 1
    _, view = lead_view(worker, "D1")
    assert len(view["calls"]) == 1
    scored = consume(kafka_bootstrap, worker.topic("lead-scored"), timeout=5)
    assert len([r for r in scored if r.key == b"D1"]) == 1


def test_a_thousand_malformed_payloads_leave_the_worker_ready(worker, kafka_bootstrap):
    bad = [(worker.topic("call-attempt"), f"M{i}", b"{" * (i % 7 + 1)) for i in range(1000)]
    produce(kafka_bootstrap, bad + [(worker.topic("lead-created"), "OK1", ev.lead("OK1", ev.now()))])
    wait_for(lambda: worker.metric("sla_events_total", topic="call-attempt", result="invalid") == 1000, timeout=90)
    wait_for(lambda: worker.metric("sla_events_total", topic="lead-created", result="ok") == 1)
    assert worker.get("/readyz")[0] == 200
    assert worker.get("/healthz")[0] == 200
    letters = consume(kafka_bootstrap, worker.topic("dead-letter"), timeout=30, until=lambda r: len(r) >= 1000)
    assert len(letters) == 1000


def test_state_survives_sigkill_and_restart(worker, kafka_bootstrap):
    t0 = ev.now()
    created = ev.lead("K1", t0, owner="r-1")
    produce(kafka_bootstrap, [(worker.topic("lead-created"), "K1", created)])
    wait_for(lambda: worker.metric("sla_events_total", topic="lead-created", result="ok") == 1)
    # Let the changelog write and the offset commit happen, then die hard.
    wait_for(lambda: lead_view(worker, "K1")[0] == 200)
    wait_for(
        lambda: sum(group_offsets(kafka_bootstrap, worker.env["SLA_APP_ID"], worker.topic("lead-created"))[0].values())
        == 1,
        message="the lead-created offset committed",
    )
    worker.kill()
    worker.start().wait_ready()
    status, view = lead_view(worker, "K1")
    assert status == 200 and view["owner"] == "r-1"
    # The same event again after the restart is still a duplicate.
    produce(kafka_bootstrap, [(worker.topic("lead-created"), "K1", created)])
    produce(kafka_bootstrap, [(worker.topic("call-attempt"), "K1", ev.call("K1", ev.later(t0, 5)))])
    wait_for(lambda: worker.metric("sla_events_total", topic="call-attempt", result="ok") == 1)
    assert worker.metric("sla_events_total", topic="lead-created", result="ok") == 0
    _, view = lead_view(worker, "K1")
    assert len(view["calls"]) == 1


def _create(bootstrap, topics: dict[str, int]) -> None:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def run():
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, n, 1) for name, n in topics.items()])
            while not set(topics) <= set(await admin.list_topics()):
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    asyncio.run(run())


def test_existing_lead_topics_decide_the_partition_count(make_worker, kafka_bootstrap):
    from stream.adapters.topics import LEAD_INPUTS

    w = make_worker(POLICY)  # SLA_PARTITIONS=4 in the harness
    _create(kafka_bootstrap, {w.topic(name): 3 for name in LEAD_INPUTS})
    w.start().wait_ready()
    produce(kafka_bootstrap, [(w.topic("lead-created"), f"X{i}", ev.lead(f"X{i}", ev.now())) for i in range(10)])
    wait_for(lambda: w.metric("sla_events_total", topic="lead-created", result="ok") == 10)
    assert w.metric("sla_events_total", topic="lead-created", result="invalid") == 0
    assert "using that instead of SLA_PARTITIONS=4" in w.tail(400)


def test_lead_topics_with_different_partition_counts_stop_start_up(make_worker, kafka_bootstrap):
    w = make_worker(POLICY)
    _create(kafka_bootstrap, {w.topic("lead-created"): 2, w.topic("call-attempt"): 5})
    w.start()
    assert w.proc.wait(60) == 2
    assert "co-partitioning" in w.tail()
