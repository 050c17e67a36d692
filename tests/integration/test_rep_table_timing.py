"""The per-rep table counts a fact once its time has come, whatever the
order of time and arrival: a call stamped a little ahead of the worker's
clock (producers' clocks often are) counts without waiting for another event."""

import orjson

from tests.support import events as ev
from tests.support.kafka import produce
from tests.support.worker import wait_for

POLICY = """
[response]
deadline_seconds = 300
business_hours = false
[scoring]
workable_threshold = 0
[[reps]]
rep_id = "r-1"
timezone = "UTC"
"""


def test_a_call_stamped_ahead_of_the_clock_counts_once_its_time_comes(start_workers, kafka_bootstrap):
    (worker,) = start_workers(POLICY, 1)
    now = ev.now()
    produce(
        kafka_bootstrap,
        [
            (worker.topic("lead-created"), "SK", ev.lead("SK", ev.later(now, -60), owner="r-1")),
            (worker.topic("call-attempt"), "SK", ev.call("SK", ev.later(now, 3), outcome="connected")),
        ],
    )

    def r1():
        report = orjson.loads(worker.get("/sla/reps")[1])
        return next((row for row in report["windows"]["7d"]["reps"] if row["rep"] == "r-1"), None)

    row = wait_for(lambda: (r := r1()) and r["attempts"] == 1 and r, timeout=30, message="the call counted")
    assert row["connect_rate"] == 1.0 and row["first_response_within_sla_ratio"] == 1.0
