"""Personal data: marked in schemas.personal, masked for people, redacted from logs."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import LeadCreated
from schemas.personal import EMAIL, PERSONAL, is_masked, mask_email, mask_fields, redact_emails
from stream.policy import parse_policy
from stream.service.calendars import CalendarBook
from stream.service.leads import LeadProcessor
from stream.service.scorer import build_scorer


def test_email_of_lead_created_is_marked_personal():
    assert set(PERSONAL) == {"lead-created"}
    assert "email" in PERSONAL["lead-created"]
    # Every marked field is a field of the topic's model.
    assert set(PERSONAL["lead-created"]) <= set(LeadCreated.model_fields)


def test_an_email_keeps_its_first_letter_and_domain():
    assert mask_email("jane.doe@example.com") == "j***@example.com"
    assert mask_email("a@b.co") == "a***@b.co"
    assert mask_email("no-at-sign") == "***"
    assert mask_email("@example.com") == "***"


@settings(max_examples=300, derandomize=True, database=None)
@given(st.emails())
def test_redaction_masks_every_email(email):
    assert EMAIL.fullmatch(email), email
    masked = mask_email(email)
    assert is_masked(masked) and mask_email(masked) == masked
    redacted = redact_emails(f"lead {email} and again <{email}>, ({email}).")
    assert redacted == f"lead {masked} and again <{masked}>, ({masked})."


def test_mask_fields_masks_only_marked_fields():
    attributes = {"source": "web", "email": "jane@acme.test", "country": "US", "persona": None}
    assert mask_fields("lead-created", attributes) == {
        "source": "web",
        "email": "j***@acme.test",
        "country": "US",
        "persona": None,
    }
    assert mask_fields("call-attempt", {"rep_id": "r-1"}) == {"rep_id": "r-1"}


def test_redaction_leaves_other_text_alone():
    line = "[^--Table: leads]: Recovered 12 keys from t-1@2 in 0.4s; kafka://127.0.0.1:9092"
    assert redact_emails(line) == line
    assert redact_emails("sent to ana@ejemplo.es, björn@exämple.de") == "sent to a***@ejemplo.es, b***@exämple.de"


def test_the_lead_view_masks_the_email():
    policy = parse_policy({"scoring": {"workable_threshold": 0}, "response": {"business_hours": False}})
    processor = LeadProcessor(policy, CalendarBook(policy).calendar_for, build_scorer(policy))
    event = LeadCreated.model_validate(
        {"event_id": "e1", "lead_id": "L1", "occurred_at": "2026-11-20T14:03:00Z", "source": "web",
         "email": "jane.doe@acme.test", "company_size": 40}
    )
    state = processor.apply(None, event, time.time()).state
    view = processor.view(state, time.time())
    assert view["attributes"]["email"] == "j***@acme.test"
    assert view["attributes"]["company_size"] == 40
    assert "jane.doe" not in repr(view)
    # The stored state keeps the address (the owner's worker needs nothing else).
    assert state.attributes["email"] == "jane.doe@acme.test"
