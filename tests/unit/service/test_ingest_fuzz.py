"""Fuzzing the edge: whatever bytes arrive on an input topic or ``reps``,
``decode`` answers with a model or a reason in words, never an exception;
what it accepts can be processed; its reasons never quote an email.

Hypothesis runs derandomized (a fixed seed) without an example database, so
every run tries the same examples.
"""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.events import INPUT_MODELS
from schemas.personal import EMAIL
from stream.policy import parse_policy
from stream.service.calendars import CalendarBook
from stream.service.ingest import Rejected, decode
from stream.service.leads import LeadProcessor
from stream.service.scorer import build_scorer
from tests.support import payloads

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def processor(business_hours: bool) -> LeadProcessor:
    policy = parse_policy(
        {
            "response": {"deadline_seconds": 300, "business_hours": business_hours},
            "scoring": {"workable_threshold": 0},  # every lead workable: clocks for all
            "attempts": {"required": 3, "window_days": 2, "max_gap_hours": 4},
        }
    )
    return LeadProcessor(policy, CalendarBook(policy).calendar_for, build_scorer(policy))


PROCESSORS = {True: processor(True), False: processor(False)}


def check_answer(topic: str, key: bytes | None, value: bytes | None):
    answer = decode(topic, key, value)
    if isinstance(answer, Rejected):
        assert isinstance(answer.error, str) and answer.error.strip(), answer
    else:
        field = "rep_id" if topic == "reps" else "lead_id"
        assert key == getattr(answer, field).encode()
    return answer


@settings(FUZZ, max_examples=1000)
@given(
    st.sampled_from(payloads.TOPICS),
    st.none() | st.binary(max_size=16),
    st.none() | st.binary(max_size=300),
)
def test_any_bytes_are_decoded_or_rejected_with_a_reason(topic, key, value):
    check_answer(topic, key, value)


@settings(FUZZ, max_examples=1000)
@given(payloads.records())
def test_generated_records_are_decoded_or_rejected_with_a_reason(record):
    topic, key, value, _ = record
    answer = check_answer(topic, key, value)
    if not isinstance(answer, Rejected):
        # What was accepted reads back the same from its own JSON.
        again = decode(topic, key, orjson.dumps(answer.model_dump(mode="json")))
        assert again == answer


@settings(FUZZ, max_examples=500)
@given(st.sampled_from(payloads.LEAD_TOPICS).flatmap(lambda t: st.tuples(st.just(t), payloads.valid_fields(t))))
def test_valid_events_decode(pair):
    topic, value = pair
    answer = decode(topic, value["lead_id"].encode(), payloads.dumps(value))
    assert isinstance(answer, INPUT_MODELS[topic]), answer


@settings(FUZZ, max_examples=400)
@given(
    st.lists(
        st.sampled_from(payloads.LEAD_TOPICS).flatmap(lambda t: st.tuples(st.just(t), payloads.valid_fields(t))),
        min_size=1,
        max_size=6,
    ),
    st.booleans(),
)
def test_accepted_events_are_processed_without_error(events, business_hours):
    """Timestamps between 1971 and 2100, any offset: the lead's state, its
    view and a tick a month later never raise."""
    lead_processor = PROCESSORS[business_hours]
    state = None
    now = time.time()
    for topic, value in events:
        value = {**value, "lead_id": "L"}  # one lead: the events meet
        model = decode(topic, b"L", payloads.dumps(value))
        assert not isinstance(model, Rejected), model
        outcome = lead_processor.apply(state, model, now)
        state = outcome.state or state
    lead_processor.view(state, now)
    lead_processor.tick(state, now + 30 * 86_400)


# Accepted by decode today, yet processing raises: outside datetime's range
# once in UTC, or a business-hours deadline past the end of year 9999.
POISON = [
    *[(at, hours) for at in payloads.utc_instants_outside_datetime() for hours in (False, True)],
    ("9999-12-25T12:00:00Z", True),
]


@pytest.mark.parametrize("occurred_at,business_hours", POISON)
def test_far_instants_are_rejected_or_processed(occurred_at, business_hours):
    value = {"event_id": "e", "lead_id": "L", "occurred_at": occurred_at, "source": "web", "owner_rep_id": "r-1"}
    model = decode("lead-created", b"L", orjson.dumps(value))
    if isinstance(model, Rejected):
        return
    outcome = PROCESSORS[business_hours].apply(None, model, time.time())
    PROCESSORS[business_hours].view(outcome.state, time.time())


@settings(FUZZ, max_examples=500)
@given(st.data())
def test_rejections_never_quote_an_email(data):
    """A lead-created record with an email and something else wrong: the
    reason (logged, and kept in dead-letter's `error`) names the field, never
    the email."""
    value = data.draw(payloads.valid_fields("lead-created"))
    value["email"] = data.draw(st.emails())
    broken = data.draw(st.sampled_from(["source", "occurred_at", "company_size", "country", "email", "event_id"]))
    value[broken] = data.draw(payloads.json_values | payloads.bad_timestamps)
    answer = decode("lead-created", value["lead_id"].encode(), payloads.dumps(value))
    if isinstance(answer, Rejected):
        assert not EMAIL.search(answer.error), answer.error
