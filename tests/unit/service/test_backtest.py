"""The backtest replays the worker's SLA rules in event time over hand-made histories."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import orjson
import pytest

from schemas.events import INPUT_MODELS
from stream.policy import parse_policy
from stream.service.backtest import read_recorded, run_backtest, sort_by_event_time

T0 = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def policy(deadline: float = 300, **sections):
    data = {
        "response": {"deadline_seconds": deadline, "business_hours": False, "allowed_lateness_seconds": 0},
        "scoring": {"workable_threshold": 0},
        # one attempt in the window meets the cadence: only first-response stages here
        "attempts": {"required": 1, "window_days": 10},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return parse_policy(data)


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def event(topic: str, **value):
    return topic, INPUT_MODELS[topic].model_validate(value)


def created(lead: str, at: float = 0, owner: str | None = "r1"):
    extra = {"owner_rep_id": owner} if owner else {}
    return event("lead-created", event_id=f"{lead}-c", lead_id=lead, occurred_at=ts(at), source="web", **extra)


def called(lead: str, at: float, outcome: str = "no_answer", n: int = 0):
    return event(
        "call-attempt", event_id=f"{lead}-a{n}", lead_id=lead, occurred_at=ts(at), rep_id="r1", outcome=outcome
    )


def stages(result, breach_type: str = "first_response") -> dict[str, list[tuple[str, float]]]:
    """lead -> [(stage, seconds after T0 the stage was due)] in emission order."""
    out: dict[str, list[tuple[str, float]]] = {}
    for b in result.breaches:
        if b["breach_type"] == breach_type:
            due = datetime.fromisoformat(b["deadline"].replace("Z", "+00:00"))
            out.setdefault(b["lead_id"], []).append((b["stage"], (due - T0).total_seconds()))
    return out


def report_bytes(result, as_of: float | None = None) -> bytes:
    return orjson.dumps(result.report(as_of).to_dict(), option=orjson.OPT_SORT_KEYS)


def test_an_uncontacted_lead_gets_warning_breach_and_escalation_without_further_traffic():
    result = run_backtest([created("L1")], policy())
    assert stages(result) == {"L1": [("warning", 240.0), ("breach", 300.0), ("escalation", 900.0)]}
    # event time is the wall clock: each stage is detected when it falls due (no allowed lateness here)
    assert [b["detected_at"] for b in result.breaches if b["breach_type"] == "first_response"] == [
        ts(240), ts(300), ts(900)
    ]
    assert all(b["rep_id"] == "r1" and b["clock_started_at"] == ts(0) for b in result.breaches)


def test_the_allowed_lateness_delays_detection_not_the_deadline():
    result = run_backtest([created("L1")], policy(response={"allowed_lateness_seconds": 2}))
    warning = result.breaches[0]
    assert (warning["deadline"], warning["detected_at"]) == (ts(240), ts(242))


def test_a_lead_called_in_time_gets_nothing():
    result = run_backtest([created("L1"), called("L1", 200)], policy())
    assert result.breaches == []


def test_a_lead_called_late_gets_warning_and_breach_but_no_escalation():
    result = run_backtest([created("L1"), called("L1", 400)], policy())
    assert stages(result) == {"L1": [("warning", 240.0), ("breach", 300.0)]}


def test_what_if_the_deadline_were_ten_minutes():
    history = [created("L1"), called("L1", 400), created("L2", 10), called("L2", 700, n=1)]
    now = run_backtest(history, policy(300))
    what_if = run_backtest(history, policy(600))
    assert set(stages(now)) == {"L1", "L2"}
    assert stages(what_if) == {"L2": [("warning", 490.0), ("breach", 610.0)]}
    as_of = (T0 + timedelta(hours=1)).timestamp()
    before = now.report(as_of).totals["all"]
    after = what_if.report(as_of).totals["all"]
    assert (before.totals.clocks_within_sla, before.totals.clocks_missed) == (0, 2)
    assert (after.totals.clocks_within_sla, after.totals.clocks_missed) == (1, 1)
    assert after.first_response_within_sla_ratio == 0.5


def test_a_call_before_the_lead_was_created_does_not_stop_the_clock():
    result = run_backtest([called("L1", -30), created("L1")], policy())
    assert [stage for stage, _ in stages(result)["L1"]] == ["warning", "breach", "escalation"]


def test_events_are_judged_in_event_time_whatever_the_file_order():
    in_order = run_backtest([created("L1"), called("L1", 200)], policy())
    call_first = run_backtest([called("L1", 200), created("L1")], policy())
    assert in_order.breaches == call_first.breaches == []


def test_duplicates_change_nothing():
    history = [created("L1"), called("L1", 400), created("L2", 5), called("L2", 100, n=1)]
    once = run_backtest(history, policy())
    twice = run_backtest(history + history[::-1], policy())
    assert twice.duplicates == 4 and once.duplicates == 0
    assert twice.breaches == once.breaches
    assert report_bytes(twice) == report_bytes(once)


def test_wakeups_stop_at_until():
    result = run_backtest([created("L1")], policy(), until=(T0 + timedelta(seconds=600)).timestamp())
    assert [stage for stage, _ in stages(result)["L1"]] == ["warning", "breach"]


def test_breaches_are_emitted_in_detection_order_across_leads():
    history = [created("L2", 0), created("L1", 100), created("L3", 50)]
    detected = [b["detected_at"] for b in run_backtest(history, policy()).breaches]
    assert detected == sorted(detected)


def test_breach_types_other_than_first_response_are_counted_by_type():
    # two attempts required within one (plain) day; the lead gets one, not connected
    p = policy(attempts={"required": 2, "window_days": 1})
    result = run_backtest([created("L1"), called("L1", 100)], p)
    assert stages(result, "attempt_cadence") == {"L1": [("breach", 86_400.0)]}
    as_of = (T0 + timedelta(days=2)).timestamp()
    assert result.report(as_of).totals["all"].breaches() == {"attempt_cadence": {"breach": 1}}
    # before the window's end the breach is not due, so not counted
    assert result.report((T0 + timedelta(hours=1)).timestamp()).totals["all"].breaches() == {}


def test_the_report_follows_the_leads_cohort_and_owner_when_it_became_workable():
    history = [
        created("L1", 0, owner="r1"),
        called("L1", 60, "connected"),
        event("lead-assigned", event_id="L1-r", lead_id="L1", occurred_at=ts(120), rep_id="r2"),
        event("opportunity-created", event_id="L1-o", lead_id="L1", occurred_at=ts(3600), amount=1000),
        created("L2", 10, owner=None),
        called("L2", 20),
        called("L2", 30, n=1),
    ]
    report = run_backtest(history, policy()).report((T0 + timedelta(hours=2)).timestamp())
    rows = {s.rep: s for s in report.windows["7d"]}
    assert set(rows) == {"r1", "unassigned"}
    r1, unassigned = rows["r1"], rows["unassigned"]
    assert (r1.workable_leads, r1.connect_rate, r1.pipeline_conversion_rate) == (1, 1.0, 1.0)
    assert r1.response_seconds_median == 60.0
    assert (unassigned.attempts_per_workable_lead, unassigned.connect_rate) == (2.0, 0.0)
    assert report.totals["7d"].first_response_within_sla_ratio == 1.0


def random_history(seed: int, leads: int = 40) -> list[tuple[str, object]]:
    rng = random.Random(seed)
    history = []
    used: set[float] = set()

    def instant(low: float, high: float) -> float:
        while True:
            at = round(rng.uniform(low, high), 3)
            if at not in used:
                used.add(at)
                return at

    for i in range(leads):
        lead = f"L{i:02d}"
        start = instant(0, 3600)
        history.append(created(lead, start, owner=rng.choice(["r1", "r2", None])))
        for n in range(rng.choice([0, 1, 1, 2, 3])):
            history.append(called(lead, instant(start - 60, start + 1500), rng.choice(["connected", "no_answer"]), n))
        if rng.random() < 0.3:
            history.append(
                event("opportunity-created", event_id=f"{lead}-o", lead_id=lead, occurred_at=ts(instant(start, 9000)),
                      amount=500)
            )
    return history


def test_shuffling_the_history_gives_the_same_report_bytes():
    history = random_history(7)
    expected = run_backtest(history, policy())
    for seed in range(3):
        shuffled = list(history)
        random.Random(seed).shuffle(shuffled)
        result = run_backtest(shuffled, policy())
        assert report_bytes(result) == report_bytes(expected)
        assert result.breaches == expected.breaches


def test_sorting_is_stable_for_events_at_the_same_instant():
    a, b = created("A", 5), created("B", 5)
    assert sort_by_event_time([b, created("C", 1), a]) == [created("C", 1), b, a]


def test_the_history_file_gives_events_roster_and_invalid_lines(tmp_path):
    path = tmp_path / "history.jsonl"
    lines = [
        {"topic": "reps", "value": {"rep_id": "r1", "timezone": "Europe/Berlin", "monthly_workable_target": 7}},
        {"topic": "lead-created", "value": {"event_id": "c1", "lead_id": "L1", "occurred_at": ts(0), "source": "w",
                                            "owner_rep_id": "r1"}},
        {"topic": "reps", "value": {"timezone": "Europe/Berlin"}},  # no rep_id
        {"topic": "nope", "value": {}},
    ]
    path.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n\n{broken\n")
    problems = []
    recorded = read_recorded(path, lambda n, why: problems.append((n, why)))
    assert [e.lead_id for _, e in recorded.events] == ["L1"]
    assert [r.rep_id for r in recorded.roster] == ["r1"]
    assert recorded.invalid == 3
    assert [n for n, _ in problems] == [3, 4, 6] and "rep_id" in problems[0][1]
    result = run_backtest(recorded.events, policy(), roster=recorded.roster)
    assert result.calendars.calendar_for("r1").timezone == "Europe/Berlin"
    report = result.report()
    assert {m.rep: m.target for m in report.marketing} == {"r1": 7}


def test_a_roster_record_with_a_bad_calendar_is_refused():
    from schemas.reps import RepRecord

    result = run_backtest([created("L1")], policy(), roster=[RepRecord(rep_id="r1", timezone="Mars/Base")])
    assert result.rejected_reps and "Mars/Base" in result.rejected_reps[0]
    assert result.roster == {}


def test_an_empty_history_needs_an_as_of():
    result = run_backtest([], policy())
    assert result.breaches == [] and result.until is None
    with pytest.raises(ValueError):
        result.report()
    assert result.report(T0.timestamp()).totals["all"].workable_leads == 0
