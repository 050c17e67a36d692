"""The lead processor: SLA results follow event time, whatever the arrival order."""

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import CallAttempted, ContentDownloaded, LeadAssigned, LeadCreated
from stream.policy import parse_policy
from stream.service.calendars import CalendarBook
from stream.service.leads import LeadProcessor
from stream.service.scorer import build_scorer

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
NEVER = (T0 - timedelta(days=1)).timestamp()  # wall clock before any due time
LATER = (T0 + timedelta(days=30)).timestamp()  # wall clock after every due time


def processor(**response) -> LeadProcessor:
    policy = parse_policy(
        {
            "response": {"deadline_seconds": 300, "business_hours": False, "allowed_lateness_seconds": 2, **response},
            "scoring": {"workable_threshold": 0},
            "attempts": {"required": 3, "window_days": 1, "max_gap_hours": 2},
        }
    )
    return LeadProcessor(policy, CalendarBook(policy).calendar_for, build_scorer(policy))


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def created(lead="L", s=0.0, owner="r-1", eid="c"):
    return LeadCreated.model_validate(
        {"event_id": eid, "lead_id": lead, "occurred_at": ts(s), "source": "web", "owner_rep_id": owner}
    )


def call(s: float, eid: str, outcome="no_answer", lead="L"):
    return CallAttempted.model_validate(
        {"event_id": eid, "lead_id": lead, "occurred_at": ts(s), "rep_id": "r-1", "outcome": outcome}
    )


def download(s: float, eid: str, kind="demo_request", lead="L"):
    return ContentDownloaded.model_validate(
        {"event_id": eid, "lead_id": lead, "occurred_at": ts(s), "content_id": "c1", "content_type": kind}
    )


def run(p: LeadProcessor, events, now=NEVER):
    state, outputs = None, []
    for e in events:
        out = p.apply(state, e, now)
        state = out.state or state
        outputs += out.outputs
    return state, outputs


def breaches(outputs, stage=None):
    return [v for t, _, v in outputs if t == "sla-breaches" and (stage is None or v["stage"] == stage)]


def active(state):
    """Ids of emitted breaches that were not retracted."""
    return {eid for eid, sent in state.emitted.items() if not sent["retracted"]}


def test_an_uncontacted_lead_gets_every_stage_on_wall_clock_time():
    p = processor()
    state, _ = run(p, [created()])
    first = p.tick(state, T0.timestamp() + 241)
    assert [v["stage"] for _, _, v in first.outputs] == []
    assert first.next_wakeup == T0.timestamp() + 242
    out = p.tick(state, T0.timestamp() + 302)
    assert [v["stage"] for v in breaches(out.outputs)] == ["warning", "breach"]
    again = p.tick(out.state, T0.timestamp() + 303)
    assert again.outputs == [] and again.state is None
    last = p.tick(out.state, LATER)
    stages = sorted(v["stage"] for v in breaches(last.outputs) if v["breach_type"] == "first_response")
    assert stages == ["escalation"]


def test_a_call_within_the_deadline_prevents_every_stage():
    p = processor()
    state, _ = run(p, [created(), call(200, "k1", "connected")])
    out = p.tick(state, LATER)
    assert [v for v in breaches(out.outputs) if v["breach_type"] == "first_response"] == []


def test_a_call_before_the_lead_existed_does_not_stop_the_clock():
    p = processor()
    state, _ = run(p, [call(-60, "k0"), created()])
    out = p.tick(state, LATER)
    assert {v["stage"] for v in breaches(out.outputs) if v["breach_type"] == "first_response"} == {
        "warning",
        "breach",
        "escalation",
    }


def test_a_late_call_from_before_the_deadline_retracts_the_breach():
    p = processor()
    state, _ = run(p, [created()])
    fired = p.tick(state, T0.timestamp() + 400)
    ids = {v["stage"]: v["event_id"] for v in breaches(fired.outputs)}
    late = p.apply(fired.state, call(100, "k1"), T0.timestamp() + 500)
    retractions = breaches(late.outputs, "retracted")
    assert {v["retracts"] for v in retractions} == {ids["warning"], ids["breach"]}
    assert all(v["event_id"].startswith("rt-") for v in retractions)


def test_a_repeated_event_id_changes_nothing():
    p = processor()
    state, _ = run(p, [created()])
    out = p.apply(state, created(), LATER)
    assert out.result == "duplicate" and out.state is None and out.outputs == []


def test_a_lead_keeps_at_most_max_events_facts_and_refuses_the_newest():
    p = processor()
    p.max_events = 20
    state, _ = run(p, [created(), *[call(10 + i, f"k{i}") for i in range(19)]])
    assert state.fact_count == 20
    before = state.to_dict()
    out = p.apply(state, call(5, "late"), LATER)
    assert out.result == "rejected" and out.state is None and out.outputs == []
    assert "SLA_MAX_EVENTS_PER_LEAD" in out.reason and "'L'" in out.reason
    assert state.to_dict() == before  # the first call still stopped the clock
    # A repeat of a kept event is still a duplicate, not a refusal.
    assert p.apply(state, call(10, "k0"), LATER).result == "duplicate"


def test_reassignment_changes_the_owner_on_the_breach():
    p = processor()
    state, _ = run(p, [created(owner="r-1")])
    assigned = LeadAssigned.model_validate({"event_id": "a", "lead_id": "L", "occurred_at": ts(10), "rep_id": "r-2"})
    state = p.apply(state, assigned, NEVER).state
    out = p.tick(state, LATER)
    assert {v["rep_id"] for v in breaches(out.outputs)} == {"r-2"}


def test_the_response_time_is_observed_once_per_clock():
    p = processor()
    state, _ = run(p, [created()])
    out = p.apply(state, call(42, "k1"), NEVER)
    assert [s for _, s in out.response_seconds] == [42]
    out = p.apply(out.state, call(50, "k2"), NEVER)
    assert out.response_seconds == []


def test_cadence_breach_when_too_few_attempts_in_the_window():
    p = processor()
    state, _ = run(p, [created(), call(60, "k1"), call(120, "k2")])
    out = p.tick(state, LATER)
    cadence = [v for v in breaches(out.outputs) if v["breach_type"] == "attempt_cadence"]
    assert cadence and cadence[0]["deadline"] == (T0 + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    connected, _ = run(p, [created(), call(60, "k1", "connected")])
    assert [v for v in breaches(p.tick(connected, LATER).outputs) if v["breach_type"] == "attempt_cadence"] == []


# -- order independence ------------------------------------------------------

event_lists = st.lists(
    st.one_of(
        st.tuples(st.just("call"), st.integers(-600, 2000), st.sampled_from(["no_answer", "connected", "busy"])),
        st.tuples(st.just("download"), st.integers(-600, 2000), st.sampled_from(["demo_request", "blog"])),
    ),
    max_size=8,
)


def build(spec):
    events = [created(s=0.0)]
    for i, (kind, s, extra) in enumerate(spec):
        events.append(call(s, f"k{i}", extra) if kind == "call" else download(s, f"d{i}", extra))
    return events


@settings(max_examples=200, deadline=None)
@given(spec=event_lists, data=st.data())
def test_results_follow_event_time_whatever_the_arrival_order(spec, data):
    p = processor()
    events = build(spec)
    shuffled = data.draw(st.permutations(events))
    reference, _ = run(p, sorted(events, key=lambda e: e.occurred_at))
    state, _ = run(p, shuffled)
    assert p.view(state, LATER)["response_clocks"] == p.view(reference, LATER)["response_clocks"]
    # Emitting everything at the end gives the same breaches either way.
    assert active(p.tick(state, LATER).state or state) == active(p.tick(reference, LATER).state or reference)


@settings(max_examples=200, deadline=None)
@given(spec=event_lists, data=st.data())
def test_eager_emission_then_late_events_settles_on_the_event_time_result(spec, data):
    """Stages emitted early and retracted later leave exactly the breaches
    that event-time processing gives."""
    p = processor()
    events = build(spec)
    shuffled = data.draw(st.permutations(events))
    state = None
    for e in shuffled:
        out = p.apply(state, e, LATER)  # every due stage is emitted at once
        state = out.state or state
    reference, _ = run(p, sorted(events, key=lambda e: e.occurred_at))
    expected = active(p.tick(reference, LATER).state or reference)
    assert active(p.tick(state, LATER).state or state) == expected


def test_a_later_change_of_the_segment_model_does_not_rewrite_when_a_lead_became_workable():
    from stream.domain.scoring import LeadScore

    verdict = {"workable": True}

    def scorer(attributes, types):
        return LeadScore(60.0 if verdict["workable"] else 10.0, verdict["workable"], "web", ())

    base = processor()
    p = LeadProcessor(base.policy, base.calendar_for, scorer)
    state, _ = run(p, [created()])
    fired = p.tick(state, T0.timestamp() + 400)
    assert {v["stage"] for v in breaches(fired.outputs)} == {"warning", "breach"}
    verdict["workable"] = False  # the live segment statistics flip
    out = p.apply(fired.state, call(3600, "k1"), T0.timestamp() + 3600)
    assert breaches(out.outputs, "retracted") == []
    assert p.workable_at(out.state) == T0.timestamp()


def test_a_late_download_rescoring_later_points_in_event_time():
    p = LeadProcessor(
        parse_policy({"response": {"business_hours": False}, "scoring": {"workable_threshold": 50}}),
        lambda rep: None,
        build_scorer(parse_policy({"scoring": {"workable_threshold": 50}})),
    )
    # pricing at 20 s arrives first: 25 fit + 30 intent = 55, workable from 20 s.
    state, _ = run(p, [created(), download(20, "d2", "pricing")])
    assert p.workable_at(state) == T0.timestamp() + 20
    # A blog download at 10 s arrives late: still not workable at 10 s (25 + 5),
    # and the 20 s decision now counts both downloads.
    state = p.apply(state, download(10, "d1", "blog"), NEVER).state
    assert p.workable_at(state) == T0.timestamp() + 20
    assert state.decisions["d2"][2] == 60.0


def test_the_next_stage_comes_ready_to_emit_and_emitting_it_elsewhere_is_recorded_once():
    p = processor()
    state, _ = run(p, [created()])
    out = p.tick(state, NEVER)
    upcoming = out.upcoming
    assert upcoming["value"]["stage"] == "warning" and upcoming["value"]["detected_at"] is None
    assert upcoming["at"] == upcoming["due"] + 2  # allowed lateness
    # The sweeper emits it when it may; recording it twice changes nothing the second time.
    emitted = {**upcoming, "value": {**upcoming["value"], "detected_at": ts(300)}}
    after = p.tick(state, upcoming["at"], emitted=[emitted])
    assert after.state is not None and not [o for o in after.outputs if o[2]["stage"] == "warning"]
    assert p.record_emitted(state, [emitted]) is False
    assert after.upcoming["value"]["stage"] == "breach"
    # A call from before the warning's due time, read late, retracts it.
    outputs = p.apply(state, call(100, "c1"), LATER).outputs
    first_response = [o[2] for o in outputs if o[0] == "sla-breaches" and o[2]["breach_type"] == "first_response"]
    assert [(b["stage"], b.get("retracts")) for b in first_response] == [("retracted", emitted["value"]["event_id"])]
    # The sweeper's record of the retracted emission arriving afterwards does not revive it.
    assert p.record_emitted(state, [emitted]) is False


def test_a_fact_ahead_of_the_clock_wakes_the_lead_when_its_time_comes():
    p = processor()
    # The worker's clock reads 10 s; the call says 11 s (a producer clock a little ahead).
    state, _ = run(p, [created()], now=T0.timestamp() + 10)
    out = p.apply(state, call(11, "c1", outcome="connected"), T0.timestamp() + 10)
    assert out.next_wakeup == T0.timestamp() + 11
    # At its time the lead is looked at again; nothing is ahead any more but the cadence.
    later = p.tick(state, T0.timestamp() + 11)
    assert later.next_wakeup is None or later.next_wakeup > T0.timestamp() + 11
