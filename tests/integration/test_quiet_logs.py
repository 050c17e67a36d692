"""A healthy worker logs no error, also once Faust's stall detection has had
time to look at every partition it was assigned (shortened here)."""

import re
import time

from tests.support import events as ev
from tests.support.kafka import produce

POLICY = """
[response]
deadline_seconds = 2
business_hours = false
[scoring]
workable_threshold = 0
"""
STALL_SECONDS = 5


def test_no_error_lines_after_the_stall_detection_time(make_worker, kafka_bootstrap):
    worker = make_worker(POLICY, SLA_STALL_TIMEOUT_SECONDS=str(STALL_SECONDS))
    worker.create_topics()
    worker.start().wait_ready()
    now = ev.now()
    # Traffic that makes every kind of record flow: leads, calls, breaches
    # emitted by the sweeper, dead letters.
    produce(
        kafka_bootstrap,
        [(worker.topic("lead-created"), f"Q{i}", ev.lead(f"Q{i}", now)) for i in range(10)]
        + [(worker.topic("call-attempt"), f"Q{i}", ev.call(f"Q{i}", ev.later(now, 1))) for i in range(5)]
        + [(worker.topic("call-attempt"), "bad", b"{not json")],
    )
    time.sleep(4 * STALL_SECONDS)  # traffic, then idle, each past the stall time
    produce(kafka_bootstrap, [(worker.topic("lead-created"), "Q-late", ev.lead("Q-late", ev.now()))])
    time.sleep(2 * STALL_SECONDS)
    assert worker.get("/readyz")[0] == 200
    errors = [line for line in worker.log_path.read_text(errors="replace").splitlines() if re.search(r"\[ERROR\]", line)]
    assert errors == [], "\n".join(errors[:20])
