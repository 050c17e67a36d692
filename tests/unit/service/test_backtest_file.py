"""The streaming backtest (``backtest_file``) gives the same bytes as the
in-memory replay did before it, whatever the file order, the run size of the
external sort and the number of processes, while holding only the leads in play."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from stream.domain.rep_stats import bucket_leads, rep_report, standing_breaches, summarize_lead
from stream.policy import parse_policy
from stream.service.backtest import (
    DEFAULT_TAIL_SECONDS,
    Replay,
    active_reps,
    backtest_file,
    run_backtest,
    target_for,
)
from stream.service.calendars import CalendarBook
from stream.service.deadlines import DeadlineIndex
from stream.service.history import EventSorter, Spill, parse_line
from stream.service.leads import LeadProcessor
from stream.service.scorer import build_scorer

T0 = datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)  # a Monday
POLICY = parse_policy(
    {
        "response": {"deadline_seconds": 300, "business_hours": True, "allowed_lateness_seconds": 2},
        "scoring": {"workable_threshold": 0},
        "attempts": {"required": 3, "window_days": 2, "max_gap_hours": 4},
        "reps": [
            {"rep_id": "r1", "timezone": "Europe/Berlin", "monthly_workable_target": 30},
            {"rep_id": "r2", "timezone": "America/Los_Angeles"},
        ],
    }
)


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def line(topic: str, **value) -> bytes:
    return orjson.dumps({"topic": topic, "value": value})


def planted_history(seed: int = 3, leads: int = 120) -> list[bytes]:
    """Leads over ten days: owners, reassignments, calls in and out of time,
    connects, re-engaging downloads, opportunities, duplicates and calls
    that happened before their lead; plus a roster line and a bad line."""
    rng = random.Random(seed)
    lines = [line("reps", rep_id="r2", timezone="America/New_York", monthly_workable_target=12)]
    for i in range(leads):
        lead = f"L{i:03d}"
        start = rng.uniform(0, 10 * 86_400)
        owner = rng.choice(["r1", "r2", "r3", None])
        extra = {"owner_rep_id": owner} if owner else {}
        lines.append(line("lead-created", event_id=f"{lead}-c", lead_id=lead, occurred_at=ts(start), source="web", **extra))
        if owner is None and rng.random() < 0.7:
            lines.append(line("lead-assigned", event_id=f"{lead}-r", lead_id=lead,
                              occurred_at=ts(start + rng.uniform(10, 7200)), rep_id=rng.choice(["r1", "r2"])))
        for n in range(rng.choice([0, 1, 2, 3, 4])):
            at = start + rng.choice([-60, 30, 200, 900, 4 * 3600, 86_400, 3 * 86_400]) * rng.uniform(0.5, 1.5)
            lines.append(line("call-attempt", event_id=f"{lead}-a{n}", lead_id=lead, occurred_at=ts(at), rep_id="r1",
                              outcome=rng.choice(["connected", "no_answer", "voicemail"])))
        if rng.random() < 0.3:
            lines.append(line("content-downloaded", event_id=f"{lead}-d", lead_id=lead,
                              occurred_at=ts(start + rng.uniform(3600, 5 * 86_400)), content_id="p",
                              content_type="pricing"))
        if rng.random() < 0.2:
            lines.append(line("opportunity-created", event_id=f"{lead}-o", lead_id=lead,
                              occurred_at=ts(start + rng.uniform(3600, 9 * 86_400)), amount=1000))
    lines += rng.sample(lines[1:], 15)  # duplicates: same event ids
    rng.shuffle(lines)
    lines.insert(7, b"{not json")
    return lines


def old_backtest(lines: list[bytes], policy, as_of: float | None = None) -> tuple[bytes, bytes, dict]:
    """The backtest as it was before streaming, kept here as the reference:
    everything in memory, sorted by event time, every state kept to the end."""
    events, roster = [], []
    from schemas.reps import RepRecord

    for raw in lines:
        try:
            events.append(parse_line(raw))
        except ValueError:
            record = orjson.loads(raw) if raw.startswith(b"{\"") else None
            if record and record.get("topic") == "reps":
                roster.append(RepRecord.model_validate(record["value"]))
    calendars = CalendarBook(policy)
    known = {}
    for record in roster:
        calendars.update_rep(record)
        known[record.rep_id] = record
    processor = LeadProcessor(policy, calendar_for=calendars.calendar_for, scorer=build_scorer(policy))
    index, states, outputs = DeadlineIndex(), {}, []
    counters = {"events": 0, "duplicates": 0, "ticks": 0}

    def record(lead_id, outcome):
        if outcome.state is not None:
            states[lead_id] = outcome.state
        index.schedule(0, lead_id, outcome.next_wakeup)
        outputs.extend(outcome.outputs)

    def fire_until(limit):
        while True:
            wakeup = index.next_wakeup(0)
            if wakeup is None or wakeup > limit:
                return
            for lead_id in index.pop_due(0, wakeup):
                counters["ticks"] += 1
                record(lead_id, processor.tick(states.get(lead_id), wakeup))

    now = None
    for _, event in sorted(events, key=lambda item: item[1].occurred_at.timestamp()):
        at = event.occurred_at.timestamp()
        now = at if now is None else max(now, at)
        fire_until(now)
        counters["events"] += 1
        outcome = processor.apply(states.get(event.lead_id), event, now)
        if outcome.result == "duplicate":
            counters["duplicates"] += 1
            continue
        record(event.lead_id, outcome)
    fire_until(now + DEFAULT_TAIL_SECONDS)
    breaches = [value for topic, _, value in outputs if topic == "sla-breaches"]
    standing = standing_breaches(breaches)
    leads = [
        lead
        for lead_id in sorted(states)
        if (lead := summarize_lead(states[lead_id], processor, 300, standing.get(lead_id, ()))) is not None
    ]
    as_of = now if as_of is None else as_of
    report = rep_report(
        bucket_leads(leads, as_of, calendars.calendar_for).values(),
        as_of,
        calendars.calendar_for,
        target_for(policy, known),
        reps=active_reps(policy, known),
    )
    counters.update(leads=len(states), workable=len(leads))
    report_bytes = orjson.dumps(report.to_dict(), option=orjson.OPT_SORT_KEYS)
    breach_bytes = b"".join(orjson.dumps(b, option=orjson.OPT_SORT_KEYS) + b"\n" for b in breaches)
    return report_bytes, breach_bytes, counters


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    lines = planted_history()
    path = tmp_path_factory.mktemp("history") / "history.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, lines


@pytest.fixture(scope="module")
def reference(history):
    return old_backtest(history[1], POLICY)


@pytest.mark.parametrize(("jobs", "run_lines"), [(1, 100_000), (1, 7), (2, 13), (3, 50)])
def test_the_streaming_backtest_gives_the_bytes_of_the_old_one(history, reference, tmp_path, jobs, run_lines):
    path, _ = history
    report_bytes, breach_bytes, counters = reference
    out = tmp_path / "breaches.jsonl"
    with open(out, "wb") as breaches:
        result = backtest_file(path, POLICY, breaches_out=breaches, jobs=jobs, run_lines=run_lines, spill_dir=tmp_path)
    assert orjson.dumps(result.report().to_dict(), option=orjson.OPT_SORT_KEYS) == report_bytes
    assert out.read_bytes() == breach_bytes and breach_bytes
    assert (result.events, result.duplicates, result.ticks) == (counters["events"], counters["duplicates"], counters["ticks"])
    assert (result.leads, result.workable) == (counters["leads"], counters["workable"])
    assert result.invalid == 1 and result.duplicates >= 15
    assert [p.name for p in tmp_path.iterdir()] == ["breaches.jsonl"]  # temporary files removed


def test_an_earlier_as_of_matches_the_old_backtest_too(history, tmp_path):
    path, lines = history
    as_of = (T0 + timedelta(days=6, hours=5)).timestamp()
    report_bytes, _, _ = old_backtest(lines, POLICY, as_of=as_of)
    result = backtest_file(path, POLICY, as_of=as_of, jobs=2, run_lines=20)
    assert orjson.dumps(result.report().to_dict(), option=orjson.OPT_SORT_KEYS) == report_bytes


def test_the_in_memory_replay_still_matches(history, reference):
    _, lines = history
    report_bytes, breach_bytes, _ = reference
    events, roster = [], []
    from stream.service.history import parse_record

    for raw in lines:
        try:
            item = parse_record(raw)
        except ValueError:
            continue
        (roster if not isinstance(item, tuple) else events).append(item)
    result = run_backtest(events, POLICY, roster=roster)
    assert orjson.dumps(result.report().to_dict(), option=orjson.OPT_SORT_KEYS) == report_bytes
    assert b"".join(orjson.dumps(b, option=orjson.OPT_SORT_KEYS) + b"\n" for b in result.breaches) == breach_bytes


def test_leads_that_can_no_longer_change_are_summarized_and_forgotten():
    """200 leads, one a day, each called in time and connected: a lead leaves
    memory once its last event is in and no wakeup is pending."""
    plain = parse_policy({"response": {"business_hours": False}, "scoring": {"workable_threshold": 0}})
    events = []
    for i in range(200):
        lead, start = f"L{i:03d}", i * 86_400.0
        events.append(parse_line(line("lead-created", event_id=f"{lead}-c", lead_id=lead, occurred_at=ts(start),
                                      source="web", owner_rep_id="r1")))
        events.append(parse_line(line("call-attempt", event_id=f"{lead}-a", lead_id=lead, occurred_at=ts(start + 60),
                                      rep_id="r1", outcome="connected")))
    remaining = {}
    for _, event in events:
        remaining[event.lead_id] = remaining.get(event.lead_id, 0) + 1
    processor = LeadProcessor(plain, calendar_for=CalendarBook(plain).calendar_for, scorer=build_scorer(plain))
    finished, held = [], []

    def emit(*_):
        held.append(len(replay.states))

    replay = Replay(processor, emit, remaining=remaining, finished=lambda lead_id, state, b: finished.append(lead_id))
    for sequence, (_, event) in enumerate(events):
        replay.apply(event, sequence)
        held.append(len(replay.states))
    replay.finish(None)
    assert finished == [f"L{i:03d}" for i in range(200)]
    assert max(held) <= 2 and not replay.states and not remaining


def test_the_external_sort_is_stable_and_puts_far_off_lines_in_place(tmp_path):
    with Spill(tmp_path) as spill:
        sorter = EventSorter(spill, "e", run_lines=3)
        items = [(5.0, 0, b"a"), (1.0, 1, b"b"), (5.0, 2, b"c"), (0.5, 3, b"d"), (5.0, 4, b"e"), (-1e9, 5, b"f x")]
        for at, seq, raw in items:
            sorter.add(at, seq, raw)
        assert [raw for _, _, raw in sorter.merged()] == [b"f x", b"d", b"b", b"a", b"c", b"e"]
    assert not tmp_path.joinpath(spill.folder.name).exists()
