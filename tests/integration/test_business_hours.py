"""Clocks pause outside the owner's working time: a rep whose calendar is
closed now gets no breach while a 24/7 rep does; a roster update on the
`reps` topic applies to that rep."""

import time
from datetime import datetime, timedelta, timezone

import orjson

from tests.support import events as ev
from tests.support.kafka import consume, produce, values
from tests.support.worker import wait_for

ALL_DAYS = '["mon", "tue", "wed", "thu", "fri", "sat", "sun"]'


def closed_hours_now() -> str:
    """A one-hour working range twelve hours away from now (UTC)."""
    h = (datetime.now(timezone.utc) + timedelta(hours=12)).hour
    return f"{h:02d}:00-{h + 1:02d}:00" if h < 23 else "23:00-24:00"


def test_a_closed_calendar_pauses_the_clock_while_a_24_7_rep_breaches(make_worker, kafka_bootstrap):
    policy = f"""
[response]
deadline_seconds = 2
business_hours = true
allowed_lateness_seconds = 0.5
escalation = [{{ at = 1.0, stage = "breach" }}]
[scoring]
workable_threshold = 0
[calendar]
timezone = "UTC"
working_hours = "{closed_hours_now()}"
working_days = {ALL_DAYS}
holidays_country = ""

[[reps]]
rep_id = "r-closed"
timezone = "UTC"
working_hours = "{closed_hours_now()}"
working_days = {ALL_DAYS}

[[reps]]
rep_id = "r-always"
timezone = "Asia/Tokyo"
working_hours = "00:00-24:00"
working_days = {ALL_DAYS}

[[reps]]
rep_id = "r-later"
timezone = "UTC"
working_hours = "{closed_hours_now()}"
working_days = {ALL_DAYS}
"""
    w = make_worker(policy)
    w.create_topics()
    # The roster topic opens r-later's calendar all day: it overrides the file.
    produce(
        kafka_bootstrap,
        [(w.topic("reps"), "r-later", {"rep_id": "r-later", "working_hours": "00:00-24:00", "timezone": "UTC"})],
    )
    w.start().wait_ready()
    t0 = ev.now()
    produce(
        kafka_bootstrap,
        [
            (w.topic("lead-created"), "BH1", ev.lead("BH1", t0, owner="r-closed")),
            (w.topic("lead-created"), "BH2", ev.lead("BH2", t0, owner="r-always")),
            (w.topic("lead-created"), "BH3", ev.lead("BH3", t0, owner="r-later")),
            (w.topic("lead-created"), "BH4", ev.lead("BH4", t0)),  # unowned: the closed default calendar
        ],
    )
    wait_for(
        lambda: {b["lead_id"] for b in values(consume(kafka_bootstrap, w.topic("sla-breaches"), 1))} >= {"BH2", "BH3"},
        timeout=30,
    )
    time.sleep(3)
    breaches = values(consume(kafka_bootstrap, w.topic("sla-breaches"), 2))
    first = {b["lead_id"] for b in breaches if b["breach_type"] == "first_response"}
    assert first == {"BH2", "BH3"}
    status, body = w.get("/sla/leads/BH1")
    assert status == 200
    view = orjson.loads(body)
    due = datetime.fromisoformat(view["response_clocks"][0]["stages"][0]["due"])
    assert due - datetime.now(timezone.utc) > timedelta(hours=10)
