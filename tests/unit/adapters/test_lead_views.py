"""After a rebalance the in-memory views are rebuilt from the stored leads'
headers: the result must be what the live updates had built, lead by lead."""

import random
import tomllib
from datetime import date
from types import SimpleNamespace

import orjson

from bench.harness import policy_toml
from bench.workload import call, download, lead_created, ts
from stream.adapters.lead_updates import LeadUpdates
from stream.adapters.lead_views import LeadViews
from stream.adapters.tables import StoredLead
from stream.policy import parse_policy
from stream.service.calendars import CalendarBook
from stream.service.deadlines import DeadlineIndex
from stream.service.ingest import decode
from stream.service.leads import LeadProcessor
from stream.service.live_segments import PartitionTally
from stream.service.rep_table import RepTable
from stream.service.scorer import build_scorer

NOW = 1_796_000_000.0
PARTITIONS = 4


def views(policy, calendars, processor) -> LeadViews:
    return LeadViews(DeadlineIndex(), RepTable(policy, processor, calendars), PartitionTally(policy.scoring))


def stored(live: LeadViews, processor, policy, partition: int, outcome) -> StoredLead:
    """The stored lead the worker would write: ``LeadUpdates.build``, at NOW."""
    ctx = SimpleNamespace(
        app=None, views=live, rep_table=live.rep_table, metrics=None, policy=policy, segments=None,
        settings=SimpleNamespace(topic=lambda name: name), clock=lambda: NOW,
    )
    return LeadUpdates(ctx, None).build(partition, outcome)


def events(i: int, rng: random.Random) -> list[tuple[str, dict]]:
    """A lead's history: created on one of four days, then (by ``i``) a
    download, a call in time or late, a connected call, an opportunity."""
    lead, rep = f"L{i:03d}", f"r-{i % 5}"
    at = NOW - 86400 * (i % 4) - 7200 - i
    out = [("lead-created", lead_created(lead, at, rep if i % 7 else None, rng, f"{lead}-c"))]
    if i % 2:
        out.append(("content-downloaded", download(lead, at + 5, "pricing_page", f"{lead}-d")))
    if i % 3 == 0:
        out.append(("call-attempt", call(lead, at + (60 if i % 6 else 900), rep, "no_answer", f"{lead}-a")))
    if i % 9 == 0:
        out.append(("call-attempt", call(lead, at + 1200, rep, "connected", f"{lead}-b")))
        out.append(("opportunity-created", {"event_id": f"{lead}-o", "lead_id": lead, "occurred_at": ts(at + 1800),
                                            "amount": 1000.0 + i}))
    return out


def test_a_rebuild_from_the_stored_headers_gives_the_views_the_live_updates_built():
    policy = parse_policy(tomllib.loads(policy_toml(300, escalation='[{ at = 0.5, stage = "warning" }, '
                                                         '{ at = 1.0, stage = "breach" }]')))
    calendars = CalendarBook(policy)
    processor = LeadProcessor(policy, calendars.calendar_for, build_scorer(policy))
    live = views(policy, calendars, processor)
    rng = random.Random(5)
    table: dict[bytes, bytes] = {}
    for i in range(120):
        lead_id, partition, old = f"L{i:03d}", i % PARTITIONS, None
        state = None
        for topic, value in events(i, rng):
            model = decode(topic, lead_id.encode(), orjson.dumps(value))
            outcome = processor.apply(state, model, NOW)
            if outcome.state is None:
                continue
            state = outcome.state
            new = stored(live, processor, policy, partition, outcome)
            live.replace(lead_id, old, new)
            old = new
        outcome = processor.tick(state, NOW)  # stages due by now: breach events, detections
        if outcome.state is not None:
            new = stored(live, processor, policy, partition, outcome)
            live.replace(lead_id, old, new)
            old = new
        table[lead_id.encode()] = old.encode()
    assert live.rep_table.detected_since(date.min), "some breaches were detected"

    rebuilt = views(policy, calendars, processor)
    assert rebuilt.rebuild(table.items(), set(range(PARTITIONS))) == 120

    assert rebuilt.rep_table.local_buckets() == live.rep_table.local_buckets()
    assert rebuilt.rep_table.detected_since(date.min) == live.rep_table.detected_since(date.min)
    for rep in live.rep_table.reps():
        assert rebuilt.rep_table.window_counts(rep, date(2026, 12, 1)) == live.rep_table.window_counts(
            rep, date(2026, 12, 1))
    assert sorted(rebuilt.segments.keys()) == sorted(live.segments.keys())
    for partition, segment in live.segments.keys():
        assert rebuilt.segments.snapshot(partition, segment) == live.segments.snapshot(partition, segment)
    assert rebuilt.index.open_clocks == live.index.open_clocks > 0
    assert sorted(rebuilt.index.open_by_rep(), key=str) == sorted(live.index.open_by_rep(), key=str)
    assert rebuilt.index.overdue_by_rep(NOW + 3600) == live.index.overdue_by_rep(NOW + 3600)
    for p in range(PARTITIONS):
        assert sorted(rebuilt.index.pop_due(p, NOW + 10 * 86400)) == sorted(live.index.pop_due(p, NOW + 10 * 86400))


def test_leads_of_partitions_not_owned_are_left_out():
    policy = parse_policy(tomllib.loads(policy_toml(300)))
    calendars = CalendarBook(policy)
    processor = LeadProcessor(policy, calendars.calendar_for, build_scorer(policy))
    live = views(policy, calendars, processor)
    table = {}
    for i in range(8):
        lead_id = f"L{i}"
        model = decode("lead-created", lead_id.encode(),
                       orjson.dumps(lead_created(lead_id, NOW - 60, "r-1", random.Random(i), f"{lead_id}-c")))
        outcome = processor.apply(None, model, NOW)
        table[lead_id.encode()] = stored(live, processor, policy, i % 2, outcome).encode()
    rebuilt = views(policy, calendars, processor)
    assert rebuilt.rebuild(table.items(), {1}) == 4
    assert rebuilt.index.open_clocks == 4
    assert [d.workable_leads for d in rebuilt.rep_table.local_buckets()] == [4]
    assert {p for p, _ in rebuilt.segments.keys()} == {1}
