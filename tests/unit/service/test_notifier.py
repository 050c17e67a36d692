"""The notifier's pure rules: what is posted, what is filtered, when a post is
tried again, and how repeats are dropped."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone
from email.utils import format_datetime

import orjson
import pytest

from stream.policy import NotifierPolicy, PolicyError
from stream.service.notifier import (
    Action,
    Dispatcher,
    RecentEvents,
    Verdict,
    backoff_delay,
    classify,
    decode_breach,
    duration_text,
    headers,
    payload,
    retry_after_seconds,
    retry_delay,
    slack_text,
    webhook_url,
)

SECRET_URL = "https://hooks.example.com/services/T000/B000/s3cr3t-token"


def breach(stage: str = "breach", breach_type: str = "first_response", event_id: str = "fr-1", **extra) -> dict:
    return {
        "event_id": event_id,
        "breach_type": breach_type,
        "stage": stage,
        "lead_id": "L-1",
        "rep_id": "r-1",
        "clock_started_at": "2026-11-20T14:00:00Z",
        "deadline": "2026-11-20T14:05:00Z",
        "detected_at": "2026-11-20T14:07:05Z",
        "policy": {"deadline_seconds": 300, "business_hours": True},
        "lead_score": 72.5,
        "segment": "web|smb|buyer",
        **extra,
    }


# -- the URL ------------------------------------------------------------------------------


def test_the_url_comes_from_the_variable_the_policy_names():
    policy = NotifierPolicy(url_env="HOOK")
    assert webhook_url(policy, {"HOOK": f"  {SECRET_URL}\n"}) == SECRET_URL
    assert webhook_url(policy, {"HOOK": "http://127.0.0.1:8080/x"}) == "http://127.0.0.1:8080/x"


@pytest.mark.parametrize("environ", [{}, {"SLA_NOTIFIER_URL": ""}, {"SLA_NOTIFIER_URL": "   "}])
def test_an_unset_variable_names_the_key_and_the_variable(environ):
    with pytest.raises(PolicyError) as info:
        webhook_url(NotifierPolicy(), environ)
    message = str(info.value)
    assert message.startswith("notifier.url_env: ")
    assert "SLA_NOTIFIER_URL is not set" in message


@pytest.mark.parametrize(
    "value",
    [
        "hooks.example.com/s3cr3t-token",
        "ftp://hooks.example.com/s3cr3t-token",
        "https:///s3cr3t-token",
        "https://hooks.example.com:port/s3cr3t-token",
        "https://[s3cr3t-token/",
    ],
)
def test_a_value_that_is_not_an_http_url_is_refused_without_showing_it(value):
    with pytest.raises(PolicyError) as info:
        webhook_url(NotifierPolicy(), {"SLA_NOTIFIER_URL": value})
    message = str(info.value)
    assert message.startswith("notifier.url_env: SLA_NOTIFIER_URL does not hold an http(s) URL")
    assert "s3cr3t" not in message and "hooks.example.com" not in message


# -- decoding ----------------------------------------------------------------------------


def test_decode_takes_json_objects_with_an_event_id():
    assert decode_breach(orjson.dumps(breach())) == breach()
    for raw in (None, b"", b"not json", b"[1, 2]", b'"text"', b"{}", b'{"event_id": ""}', b'{"event_id": 5}'):
        assert decode_breach(raw) is None, raw


# -- the filter and repeats ---------------------------------------------------------------


def test_the_default_filter_posts_breaches_and_escalations_of_every_type():
    dispatcher = Dispatcher(NotifierPolicy())
    for breach_type in ("first_response", "attempt_cadence", "marketing_shortfall"):
        for stage, action in [
            ("warning", Action.SKIP),
            ("breach", Action.POST),
            ("escalation", Action.POST),
            ("retracted", Action.SKIP),
        ]:
            event = breach(stage, breach_type, event_id=f"{breach_type}-{stage}")
            assert dispatcher.triage(event) is action, (breach_type, stage)


def test_the_filter_follows_stages_and_breach_types():
    dispatcher = Dispatcher(NotifierPolicy(stages=["warning"], breach_types=["attempt_cadence"]))
    assert dispatcher.triage(breach("warning", "attempt_cadence")) is Action.POST
    assert dispatcher.triage(breach("warning", "first_response")) is Action.SKIP
    assert dispatcher.triage(breach("breach", "attempt_cadence")) is Action.SKIP
    assert dispatcher.triage(None) is Action.SKIP
    assert dispatcher.triage({"event_id": "x", "stage": "panic", "breach_type": "attempt_cadence"}) is Action.SKIP


def test_a_posted_event_id_is_a_duplicate_afterwards_and_a_skipped_one_stays_skipped():
    dispatcher = Dispatcher(NotifierPolicy())
    posted, skipped = breach(event_id="a"), breach("warning", event_id="w")
    assert dispatcher.triage(posted) is Action.POST
    dispatcher.handled(posted, Action.POST)
    assert dispatcher.triage(posted) is Action.DUPLICATE
    assert dispatcher.triage(dict(posted)) is Action.DUPLICATE  # the same id in another record
    assert dispatcher.triage(skipped) is Action.SKIP
    dispatcher.handled(skipped, Action.SKIP)
    assert dispatcher.triage(skipped) is Action.SKIP


def test_a_retraction_is_posted_only_for_an_alert_that_was_not_filtered_out():
    dispatcher = Dispatcher(NotifierPolicy(stages=["breach", "retracted"]))
    warning, shown = breach("warning", event_id="w"), breach("breach", event_id="b")
    for event in (warning, shown):
        dispatcher.handled(event, dispatcher.triage(event))
    retract_warning = breach("retracted", event_id="rw", retracts="w")
    retract_breach = breach("retracted", event_id="rb", retracts="b")
    retract_unknown = breach("retracted", event_id="ru", retracts="forgotten")
    assert dispatcher.triage(retract_warning) is Action.SKIP
    assert dispatcher.triage(retract_breach) is Action.POST
    assert dispatcher.triage(retract_unknown) is Action.POST  # not known: better said than not


def test_recall_remembers_what_an_earlier_run_handled_without_posting():
    dispatcher = Dispatcher(NotifierPolicy())
    dispatcher.recall(breach(event_id="old"))
    dispatcher.recall(breach("warning", event_id="old-warning"))
    dispatcher.recall(None)
    assert dispatcher.triage(breach(event_id="old")) is Action.DUPLICATE
    assert dispatcher.recent.wanted("old-warning") is False


def test_recent_events_are_bounded_and_least_recently_used_go_first():
    recent = RecentEvents(3)
    for event_id in ("a", "b", "c"):
        recent.remember(event_id, True)
    assert recent.wanted("a") is True  # touched: now the most recent
    recent.remember("d", False)
    assert len(recent) == 3
    assert "b" not in recent and recent.wanted("b") is None
    assert [e in recent for e in ("a", "c", "d")] == [True, True, True]
    for i in range(1000):
        recent.remember(f"x{i}", True)
    assert len(recent) == 3
    with pytest.raises(ValueError):
        RecentEvents(0)


def test_the_dispatcher_forgets_beyond_its_bound():
    dispatcher = Dispatcher(NotifierPolicy(), remember=2)
    for event_id in ("a", "b", "c"):
        dispatcher.handled(breach(event_id=event_id), Action.POST)
    assert dispatcher.triage(breach(event_id="a")) is Action.POST
    assert dispatcher.triage(breach(event_id="c")) is Action.DUPLICATE


# -- payloads -----------------------------------------------------------------------------


def test_the_slack_payload_is_one_text_field_saying_what_whose_when_and_how_late():
    body = orjson.loads(payload(breach(), "slack"))
    assert list(body) == ["text"]
    assert body["text"] == (
        ":rotating_light: *SLA breach*: first response\n"
        "Lead `L-1` · owner `r-1`\n"
        "Due 2026-11-20 14:05:00 UTC · 2m 05s late\n"
        "Score 72.5 · segment `web|smb|buyer`\n"
        "Event `fr-1`"
    )


def test_slack_text_for_other_stages_and_subjects():
    assert slack_text(breach("warning")).startswith(":warning: *SLA warning*: first response\n")
    assert slack_text(breach("escalation", "attempt_cadence")).startswith(":fire: *SLA escalation*: attempt cadence\n")
    unowned = slack_text(breach(rep_id=None, lead_score=None, segment=None))
    assert "Lead `L-1` · owner _none_" in unowned and "Score" not in unowned
    shortfall = slack_text(breach(breach_type="marketing_shortfall", lead_id=None, rep_id="r-7"))
    assert "*SLA breach*: marketing shortfall\nRep `r-7`\n" in shortfall
    # Offsets are shown in UTC; a detection before the due time says no lateness.
    early = slack_text(breach(deadline="2026-11-20T09:05:00-05:00", detected_at="2026-11-20T14:04:00Z"))
    assert "Due 2026-11-20 14:05:00 UTC\n" in early


def test_a_retraction_says_what_it_retracts():
    text = slack_text(breach("retracted", event_id="fr-1-r", retracts="fr-1"))
    assert text.startswith(":white_check_mark: *SLA alert retracted*: first response\nLead `L-1` · owner `r-1`\n")
    assert "The alert due 2026-11-20 14:05:00 UTC no longer stands" in text
    assert text.endswith("Event `fr-1-r` retracts `fr-1`")
    assert " late\n" not in text and "s late" not in text


def test_slack_control_characters_in_data_are_escaped():
    text = slack_text(breach(lead_id="<!channel> & `x`", segment="a>b"))
    assert "<!channel>" not in text
    assert "Lead `&lt;!channel&gt; &amp; 'x'`" in text
    assert "segment `a&gt;b`" in text


def test_odd_values_do_not_break_the_text():
    text = slack_text({"event_id": "e", "stage": "breach", "breach_type": "new_kind", "deadline": "soon"})
    assert "*SLA breach*: new_kind" in text and "Due soon" in text
    assert slack_text(breach(lead_score=True)).count("Score") == 0


def test_the_json_payload_is_the_event_as_is():
    event = breach(extra_field={"kept": [1, 2]})
    assert orjson.loads(payload(event, "json")) == event


def test_headers_carry_the_event_id_for_receivers_that_dedupe():
    sent = headers(breach())
    assert sent["Idempotency-Key"] == "fr-1"
    assert sent["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "seconds,text",
    [(0, "0s"), (-3, "0s"), (45.9, "45s"), (125, "2m 05s"), (3600, "1h 00m"), (11_040, "3h 04m"), (183_600, "2d 03h")],
)
def test_duration_text(seconds, text):
    assert duration_text(seconds) == text


# -- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status,verdict",
    [
        (200, Verdict.SENT),
        (201, Verdict.SENT),
        (204, Verdict.SENT),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (599, Verdict.RETRY),
        (301, Verdict.REJECTED),
        (302, Verdict.REJECTED),
        (400, Verdict.REJECTED),
        (401, Verdict.REJECTED),
        (403, Verdict.REJECTED),
        (404, Verdict.REJECTED),
        (410, Verdict.REJECTED),
        (413, Verdict.REJECTED),
    ],
)
def test_which_statuses_are_retried(status, verdict):
    assert classify(status) is verdict


def test_retry_after_in_seconds_or_as_an_http_date():
    now = datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc).timestamp()
    assert retry_after_seconds("30", now) == 30
    assert retry_after_seconds(" 1.5 ", now) == 1.5
    assert retry_after_seconds("-4", now) == 0
    later = format_datetime(datetime(2026, 11, 20, 14, 0, 42, tzinfo=timezone.utc), usegmt=True)
    assert retry_after_seconds(later, now) == 42
    earlier = format_datetime(datetime(2026, 11, 20, 13, 0, tzinfo=timezone.utc), usegmt=True)
    assert retry_after_seconds(earlier, now) == 0
    for bad in (None, "", "soon", "nan"):
        assert retry_after_seconds(bad, now) is None, bad


def test_backoff_doubles_from_half_a_second_up_to_the_cap_with_full_jitter():
    top = [backoff_delay(n, cap=60, random=lambda: 0.999999) for n in range(1, 12)]
    assert [round(d, 3) for d in top] == [0.5, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    assert all(backoff_delay(n, cap=60, random=lambda: 0.0) == 0 for n in range(1, 12))
    assert backoff_delay(3, cap=60, random=lambda: 0.5) == 1.0
    # Huge attempt numbers do not overflow.
    assert backoff_delay(10_000, cap=5, random=lambda: 0.5) == 2.5


def test_backoff_is_spread_by_the_injected_random():
    values = itertools.cycle([0.1, 0.9, 0.5])
    delays = [backoff_delay(4, cap=60, random=lambda: next(values)) for _ in range(3)]
    assert delays == pytest.approx([0.4, 3.6, 2.0])


def test_retry_after_is_honoured_but_capped():
    half = lambda: 0.5  # noqa: E731
    assert retry_delay(1, 60, half) == 0.25
    assert retry_delay(1, 60, half, retry_after=10) == 10
    assert retry_delay(6, 60, half, retry_after=1) == 8  # never shorter than the backoff either
    assert retry_delay(1, 60, half, retry_after=3600) == 60
    assert retry_delay(20, 5, half) == 2.5
