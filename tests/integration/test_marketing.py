"""Marketing shortfalls on wall-clock time: the daily pacing check warns a
rep behind pace, keyed by rep, with no traffic needed, once a day, and a
restarted worker does not warn again."""

import time

import orjson

from tests.support import events as ev
from tests.support.kafka import consume, produce
from tests.support.worker import wait_for

# Every day a business day from midnight, so the check is due whenever the test runs.
POLICY = """
[marketing]
workable_leads_per_rep_per_month = 1000
pacing_warning_ratio = 0.8
check_at = "00:00"
[scoring]
workable_threshold = 0
[calendar]
timezone = "UTC"
working_hours = "00:00-24:00"
working_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
holidays_country = ""
[[reps]]
rep_id = "r-behind"
[[reps]]
rep_id = "r-ahead"
monthly_workable_target = 1
"""


def shortfalls(kafka_bootstrap, worker, seconds: float = 3) -> list:
    records = consume(kafka_bootstrap, worker.topic("sla-breaches"), timeout=seconds)
    return [(r.key, orjson.loads(r.value)) for r in records if orjson.loads(r.value)["breach_type"] == "marketing_shortfall"]


def test_a_rep_behind_pace_is_warned_once_a_day(start_workers, kafka_bootstrap):
    (worker,) = start_workers(POLICY, 1)
    now = ev.now()
    produce(
        kafka_bootstrap,
        [(worker.topic("lead-created"), f"M{i}", ev.lead(f"M{i}", now, owner="r-ahead")) for i in range(2)],
    )
    wait_for(lambda: shortfalls(kafka_bootstrap, worker, 1), timeout=60, message="a marketing shortfall")
    time.sleep(2)
    found = shortfalls(kafka_bootstrap, worker)
    assert [(key, b["rep_id"], b["stage"], b["lead_id"]) for key, b in found] == [
        (b"r-behind", "r-behind", "warning", None)
    ]
    policy = found[0][1]["policy"]
    assert policy["target"] == 1000 and policy["workable_leads"] == 0 and policy["pacing_ratio"] == 0
    assert worker.metric("sla_breaches_total", rep="r-behind", breach_type="marketing_shortfall", stage="warning") == 1
    # A restarted worker knows the day's check was made.
    worker.stop()
    worker.start().wait_ready()
    time.sleep(25)  # more than a check interval
    assert len(shortfalls(kafka_bootstrap, worker)) == 1
