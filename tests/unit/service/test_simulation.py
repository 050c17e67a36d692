from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from schemas.events import INPUT_MODELS
from schemas.reps import RepRecord
from schemas.types import parse_timestamp
from stream.policy import RepPolicy
from stream.service.simulation import LEAD_TOPICS, Scheduled, Simulation, to_history_lines

# A Monday morning in New York: every team works at some point of the window.
START = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)
WINDOW = timedelta(days=2)


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return Simulation(seed=11, start=START, leads_per_minute=1.5)


@pytest.fixture(scope="module")
def events(sim) -> list[Scheduled]:
    return list(sim.events(until=START + WINDOW))


@pytest.fixture(scope="module")
def by_lead(events) -> dict[str, list[Scheduled]]:
    out = defaultdict(list)
    for item in events:
        out[item.key].append(item)
    return out


def occurred(item: Scheduled) -> datetime:
    return parse_timestamp(item.value["occurred_at"])


def first_copies(events: list[Scheduled]) -> list[Scheduled]:
    seen, out = set(), []
    for item in events:
        if item.value["event_id"] not in seen:
            seen.add(item.value["event_id"])
            out.append(item)
    return out


def test_the_same_seed_gives_the_same_events_and_another_seed_others():
    def run(seed):
        sim = Simulation(seed=seed, start=START)
        return sim.roster(), list(sim.events(leads=150))

    assert run(3) == run(3)
    assert run(3)[1] != run(4)[1]


def test_every_value_validates_against_its_topic_model(events):
    for item in events:
        assert item.topic in LEAD_TOPICS
        model = INPUT_MODELS[item.topic].model_validate(item.value)
        assert item.key == model.lead_id
        # the wire format: JSON-serializable as-is, timestamps with an offset
        assert orjson.loads(orjson.dumps(item.value)) == item.value


def test_the_roster_is_valid_on_the_reps_topic_and_in_a_policy(sim):
    roster = sim.roster()
    assert len(roster) == 6
    assert len({r["rep_id"] for r in roster}) == 6
    for record in roster:
        RepRecord.model_validate(record)
        RepPolicy.model_validate(record)  # time zone, hours and holiday country are real
    assert {"America/New_York", "America/Los_Angeles", "Europe/Berlin"} <= {r["timezone"] for r in roster}
    assert len({r["team"] for r in roster}) >= 3
    assert any(r.get("out_of_office") for r in roster)


def test_events_come_in_publish_order_within_the_window(events):
    times = [item.publish_at for item in events]
    assert times == sorted(times)
    assert START <= times[0] and times[-1] <= START + WINDOW


def test_events_are_published_at_their_event_time_except_late_ones_and_duplicates(events):
    late = [item for item in first_copies(events) if item.publish_at != occurred(item)]
    assert late, "no late events planted"
    assert all(item.publish_at > occurred(item) for item in late)
    assert {item.topic for item in late} <= {"call-attempt", "lead-created"}
    calls = [item for item in first_copies(events) if item.topic == "call-attempt"]
    late_calls = [item for item in late if item.topic == "call-attempt"]
    assert 0.01 < len(late_calls) / len(calls) < 0.06
    assert max(item.publish_at - occurred(item) for item in late_calls) > timedelta(minutes=30)


def test_a_few_events_are_sent_twice_with_the_same_id_and_value(events):
    by_id = defaultdict(list)
    for item in events:
        by_id[item.value["event_id"]].append(item)
    repeated = [copies for copies in by_id.values() if len(copies) > 1]
    assert 0.003 < len(repeated) / len(by_id) < 0.03
    for first, *again in repeated:
        for copy in again:
            assert (copy.topic, copy.key, copy.value) == (first.topic, first.key, first.value)
            assert copy.publish_at >= first.publish_at


def test_events_happen_after_their_lead_and_arrive_after_it_unless_planted(by_lead):
    arrived_before_lead = Counter()
    for lead_id, items in by_lead.items():
        created = [i for i in items if i.topic == "lead-created"]
        if not created:
            continue  # its planted late lead-created falls after the window
        created_at, created_published = occurred(created[0]), created[0].publish_at
        for item in items:
            assert occurred(item) >= created_at, lead_id
            if item.publish_at < created_published:
                # only a lead-created planted late lets anything overtake it
                assert created_published > created_at, f"{lead_id}: {item.topic} arrived before its lead"
                arrived_before_lead[item.topic] += 1
    assert arrived_before_lead["content-downloaded"] > 0
    assert arrived_before_lead["call-attempt"] > 0


def test_leads_mostly_have_owners_and_realistic_segments(events):
    leads = [i.value for i in first_copies(events) if i.topic == "lead-created"]
    unowned = sum(1 for v in leads if "owner_rep_id" not in v)
    assert 0.05 < unowned / len(leads) < 0.2
    sources = Counter(v["source"] for v in leads)
    assert set(sources) == {"web", "paid", "referral", "event"}
    assert sources["web"] > sources["referral"]
    assert len({v["persona"] for v in leads}) >= 4
    sizes = [v["company_size"] for v in leads]
    assert min(sizes) < 10 and max(sizes) > 1000


def test_content_downloads_follow_a_realistic_mix(events):
    types = Counter(i.value["content_type"] for i in first_copies(events) if i.topic == "content-downloaded")
    assert set(types) == {"demo_request", "pricing", "webinar", "ebook", "blog"}
    assert types["ebook"] > types["demo_request"]
    assert types["blog"] > types["pricing"]


def test_call_outcomes_connect_about_one_in_five(events):
    outcomes = Counter(i.value["outcome"] for i in first_copies(events) if i.topic == "call-attempt")
    assert set(outcomes) == {"connected", "no_answer", "voicemail", "busy", "bad_number"}
    assert 0.15 <= outcomes["connected"] / sum(outcomes.values()) <= 0.25


def test_calls_fall_in_the_calling_reps_working_time(sim, events):
    reps = {rep.rep_id: rep for rep in sim.reps}
    for item in first_copies(events):
        if item.topic != "call-attempt":
            continue
        rep = reps[item.value["rep_id"]]
        at = occurred(item)
        assert at.utcoffset() == at.astimezone(rep.zone).utcoffset()  # stamped in the rep's zone
        start, _ = next(rep.working_intervals(at))
        assert start == at, f"{rep.rep_id} calls outside working time at {at}"


def test_response_delays_are_mostly_minutes_with_a_long_tail_and_some_never(sim, by_lead):
    reps = {rep.rep_id: rep for rep in sim.reps}

    def business_seconds(rep, a, b):
        total = 0.0
        for start, end in rep.working_intervals(a):
            if start >= b:
                break
            total += (min(end, b) - start).total_seconds()
        return total

    delays, never = [], 0
    for items in by_lead.values():
        downloads = [i for i in items if i.topic == "content-downloaded"]
        if not downloads or occurred(downloads[0]) > START + timedelta(hours=12):
            continue  # leave the later leads time to be called
        ready = occurred(downloads[0])
        calls = sorted((occurred(i), i.value["rep_id"]) for i in items if i.topic == "call-attempt")
        if not calls:
            never += 1
            continue
        at, rep_id = calls[0]
        delays.append(business_seconds(reps[rep_id], ready, at))
    delays.sort()
    assert delays[len(delays) // 2] <= 600  # the median is minutes
    assert sum(d <= 300 for d in delays) / len(delays) > 0.4
    assert sum(d > 3600 for d in delays) / len(delays) > 0.05  # the long tail
    assert never > 0


def test_leads_get_repeated_attempts_reassignments_and_opportunities(by_lead):
    attempts = [sum(1 for i in items if i.topic == "call-attempt") for items in by_lead.values()]
    assert max(attempts) >= 6
    assert sum(1 for n in attempts if n >= 2) > len(attempts) / 4
    assert any(i.topic == "lead-assigned" for items in by_lead.values() for i in items)
    opportunities = 0
    for items in by_lead.values():
        for item in items:
            if item.topic != "opportunity-created":
                continue
            opportunities += 1
            assert item.value["amount"] >= 0
            calls = [i for i in items if i.topic == "call-attempt"]
            connects = [occurred(i) for i in calls if i.value["outcome"] == "connected"]
            assert connects and min(connects) < occurred(item)
    assert opportunities > 0


def test_a_lead_count_stops_the_stream_after_that_many_leads():
    items = list(Simulation(seed=5, start=START).events(leads=20))
    created = {i.key for i in items if i.topic == "lead-created"}
    assert len(created) == 20
    assert {i.key for i in items} == created


def test_speed_compresses_the_timeline_toward_the_start():
    plain = list(Simulation(seed=5, start=START).events(leads=10))
    fast = list(Simulation(seed=5, start=START, speed=10).events(leads=10))
    assert [(i.topic, i.value["event_id"]) for i in plain] == [(i.topic, i.value["event_id"]) for i in fast]
    for slow, quick in zip(plain, fast):
        expected = START + (occurred(slow) - START) / 10
        assert abs(occurred(quick) - expected) < timedelta(milliseconds=2)


def test_history_lines_hold_the_roster_then_every_event(sim):
    items = list(sim.events(leads=5))
    lines = list(to_history_lines(items, roster=sim.roster()))
    docs = [orjson.loads(line) for line in lines]
    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    assert [d["topic"] for d in docs[:6]] == ["reps"] * 6
    assert docs[6:] == [{"topic": i.topic, "value": i.value} for i in items]


def test_a_start_without_time_zone_is_refused():
    with pytest.raises(ValueError, match="time zone"):
        Simulation(seed=1, start=datetime(2026, 11, 16, 12))


# ----------------------------------------------------------------- a floor at any hour, believable targets

SATURDAY_NIGHT = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 03:00 UTC: nobody's office hours


def first_calls(sim: Simulation, until: datetime) -> list[Scheduled]:
    return [i for i in sim.events(until=until) if i.topic == "call-attempt"]


def test_the_office_roster_is_silent_at_night_and_the_follow_the_sun_roster_is_not():
    quarter = SATURDAY_NIGHT + timedelta(minutes=15)
    office = Simulation(seed=4, start=SATURDAY_NIGHT, leads_per_minute=2)
    assert first_calls(office, quarter) == []
    floor = Simulation(seed=4, start=SATURDAY_NIGHT, leads_per_minute=2, roster="follow-the-sun")
    calls = first_calls(floor, quarter)
    assert len(calls) >= 5
    assert len({c.value["rep_id"] for c in calls}) >= 2


def test_the_follow_the_sun_roster_calls_in_every_hour_of_a_week():
    sim = Simulation(seed=8, start=SATURDAY_NIGHT, leads_per_minute=1, roster="follow-the-sun")
    hours = {parse_timestamp(c.value["occurred_at"]).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
             for c in first_calls(sim, SATURDAY_NIGHT + timedelta(days=7))}
    assert len(hours) == 7 * 24
    reps = {rep.rep_id: rep for rep in sim.reps}
    for record in sim.roster():
        RepPolicy.model_validate(record)
        assert record["working_days"] == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        assert record["holidays_country"] == ""  # explicitly none, not the policy's default
        assert reps[record["rep_id"]].working_hours == "08:00-20:00"
    assert len({r["timezone"] for r in sim.roster()}) == 6


def test_targets_follow_the_traffic():
    slow = Simulation(seed=2, start=START, leads_per_minute=0.5)
    fast = Simulation(seed=2, start=START, leads_per_minute=5)
    for a, b in zip(slow.reps, fast.reps):
        assert 8 <= b.monthly_workable_target / a.monthly_workable_target <= 12
    # a month of leads at 0.5/min, 43% workable, shared by six reps: about 1,600 each
    assert 1000 <= sum(r.monthly_workable_target for r in slow.reps) / 6 <= 2500


@pytest.mark.parametrize("roster", ["office", "follow-the-sun"])
def test_two_weeks_of_default_traffic_pace_near_target(tmp_path, roster):
    """What a marketing manager would see mid-month: pacing around 100%, not 5 to 25 times."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    history = tmp_path / "history.jsonl"
    report = tmp_path / "report.json"
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("SLA_")}

    def run(*args):
        result = subprocess.run([sys.executable, "-m", "stream", *args], cwd=root, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr

    run("simulate", "--history-out", str(history), "--days", "14", "--start", "2026-11-01T00:00:00Z",
        "--seed", "3", "--rate", "0.25", "--roster", roster)
    run("backtest", str(history), "--policy", str(root / "deploy/policy/dev.toml"),
        "--as-of", "2026-11-14T23:00:00Z", "--json", str(report))
    pacing = {m["rep"]: m["pacing_ratio"] for m in json.loads(report.read_text())["marketing"]["reps"] if m["target"]}
    assert len(pacing) == 6
    assert all(0.6 <= p <= 1.7 for p in pacing.values()), pacing
