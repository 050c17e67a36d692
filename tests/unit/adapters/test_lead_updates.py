"""A staged state is written only once the sweeper's breach events under way
are acknowledged: a state that records a stage whose event is lost would
never send it again."""

import asyncio
from types import SimpleNamespace

from stream.adapters.lead_updates import LeadUpdates
from stream.adapters.sweeper import Sweeper


class Store:
    def __init__(self) -> None:
        self.written: list = []

    async def write_staged(self, tickets) -> None:
        self.written += tickets


def updates_with(sweeper) -> tuple[LeadUpdates, Store]:
    store = Store()
    settings = SimpleNamespace(topic=lambda name: name)
    ctx = SimpleNamespace(
        app=None, views=None, rep_table=None, metrics=None, policy=SimpleNamespace(scoring=None),
        segments=None, settings=settings, state={"sweeper": sweeper},
    )
    return LeadUpdates(ctx, store), store


def sweeper() -> Sweeper:
    s = Sweeper.__new__(Sweeper)  # only its acknowledgement gate
    s._acknowledged = asyncio.Event()
    s._acknowledged.set()
    return s


async def test_a_state_waits_for_the_breach_events_under_way():
    gate = sweeper()
    updates, store = updates_with(gate)
    gate._acknowledged.clear()  # an emission's breach events are not acknowledged yet
    updates._tickets.append((b"L-1", 1))
    commit = asyncio.ensure_future(updates.commit())
    await asyncio.sleep(0.05)
    assert not commit.done() and store.written == []
    gate._acknowledged.set()
    await asyncio.wait_for(commit, 1)
    assert store.written == [(b"L-1", 1)]


async def test_without_an_emission_under_way_a_state_is_written_at_once():
    updates, store = updates_with(sweeper())
    updates._tickets.append((b"L-1", 1))
    await asyncio.wait_for(updates.commit(), 1)
    assert store.written == [(b"L-1", 1)]


class Producer:
    """Records every send; the test acknowledges them."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, object]] = []
        self.acks: list[asyncio.Future] = []

    async def send(self, topic, key, value, partition, timestamp, headers):
        ack = asyncio.get_running_loop().create_future()
        self.sent.append((topic, key))
        self.acks.append(ack)
        return ack


def emitting_sweeper(producer: Producer) -> Sweeper:
    s = sweeper()
    settings = SimpleNamespace(topic=lambda name: name)
    metrics = SimpleNamespace(breached=lambda *args: None)

    class Updates:
        async def commit(self) -> None:
            pass

    store = SimpleNamespace(get=lambda partition, key: None)
    s.ctx = SimpleNamespace(metrics=metrics, run_id="run", settings=settings,
                            state={"lead_updates": Updates(), "lead_store": store}, processor=None)
    s.app = SimpleNamespace(producer=producer)
    s.emitted_topic, s.breaches_topic = "sla-emitted", "sla-breaches"
    s.active, s.pending = {0}, {}
    return s


def stage(lead: str) -> dict:
    return {"due": 10.0, "value": {"rep_id": "r-1", "breach_type": "first_response", "stage": "breach", "lead_id": lead}}


async def test_each_records_breach_events_go_out_once_it_is_acknowledged_and_not_before():
    from stream.adapters.sweeper import LEADS_PER_RECORD

    producer = Producer()
    s = emitting_sweeper(producer)
    leads = [(f"L{i}", stage(f"L{i}")) for i in range(LEADS_PER_RECORD + 3)]
    done = asyncio.Event()
    task = asyncio.ensure_future(s._emit({0: leads}, 20.0, done))
    await asyncio.sleep(0.01)
    assert [t for t, _ in producer.sent] == ["sla-emitted", "sla-emitted"]  # no breach event yet
    producer.acks[1].set_result(None)  # the second record is acknowledged first
    await asyncio.sleep(0.01)
    breaches = [k for t, k in producer.sent if t == "sla-breaches"]
    assert breaches == [f"L{i}".encode() for i in range(LEADS_PER_RECORD, LEADS_PER_RECORD + 3)]
    assert not s._acknowledged.is_set() and not done.is_set()
    producer.acks[0].set_result(None)
    await asyncio.sleep(0.01)
    assert len([t for t, _ in producer.sent if t == "sla-breaches"]) == len(leads)
    for ack in producer.acks:
        if not ack.done():
            ack.set_result(None)
    await asyncio.wait_for(task, 1)
    assert s._acknowledged.is_set() and done.is_set()
