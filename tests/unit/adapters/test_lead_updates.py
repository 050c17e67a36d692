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
