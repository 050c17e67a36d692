"""SIGTERM while stages are falling due: the worker exits by itself within
Kubernetes' default grace period, having committed and flushed what it did,
and a clean restart repeats no breach event and loses none."""

import collections
import signal
import time

import orjson

from tests.support import events as ev
from tests.support.kafka import consume, produce
from tests.support.worker import wait_for

DEADLINE = 2.0
POLICY = f"""
[response]
deadline_seconds = {DEADLINE}
business_hours = false
allowed_lateness_seconds = 0
[attempts]
required = 1
window_days = 30
[scoring]
workable_threshold = 0
"""
LEADS = 1000
GRACE_SECONDS = 30  # what Kubernetes gives a pod between SIGTERM and SIGKILL


def breaches(kafka_bootstrap, worker) -> list[dict]:
    return [orjson.loads(r.value) for r in consume(kafka_bootstrap, worker.topic("sla-breaches"), timeout=3)]


def test_sigterm_mid_stream_then_a_clean_restart_repeats_and_loses_nothing(make_worker, kafka_bootstrap):
    worker = make_worker(POLICY)
    worker.create_topics()
    worker.start().wait_ready()
    now = ev.now()
    produce(kafka_bootstrap, [(worker.topic("lead-created"), f"G{i}", ev.lead(f"G{i}", now)) for i in range(LEADS)])
    # Stop while the warnings and breaches are being emitted.
    wait_for(lambda: worker.metric("sla_breaches_total", rep="unassigned", breach_type="first_response", stage="warning") > 0, 30)
    worker.proc.send_signal(signal.SIGTERM)  # the process itself, as Kubernetes does
    worker.proc.wait(GRACE_SECONDS + 5)
    assert worker.proc.returncode == 0, worker.tail()
    worker.log.close()
    # Restart once every escalation is due.
    time.sleep(3 * DEADLINE + 1)
    worker.start().wait_ready()

    def complete():
        found = breaches(kafka_bootstrap, worker)
        stages = collections.Counter((b["lead_id"], b["stage"]) for b in found if b["breach_type"] == "first_response")
        return found if len(stages) == 3 * LEADS else None

    found = wait_for(complete, timeout=60, message="every stage of every lead")
    ids = collections.Counter(b["event_id"] for b in found)
    assert [i for i, n in ids.items() if n > 1] == []  # no repeat after a clean restart
    assert {b["stage"] for b in found} <= {"warning", "breach", "escalation"}
