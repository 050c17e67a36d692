"""Two workers with SLA_HTTP_TOKEN and JSON logs, fed leads with emails:

* every path but /healthz, /readyz and /metrics needs the token, and the
  workers pass it to each other (the group's /sla/reps, and /sla/leads/{id}
  forwarded to the lead's owner);
* no email leaves unmasked: everything the run wrote (metrics, /sla/reps,
  the wallboard, the lead pages, sla-breaches, lead-scored, the logs) is
  grepped for the addresses sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request

import orjson
import pytest

from schemas.personal import EMAIL, is_masked
from tests.support import events as ev
from tests.support.kafka import consume, produce, unique_prefix
from tests.support.worker import WorkerProcess, wait_for

TOKEN = "it-Token-7f3a9c"
# A 2-second deadline: breach events are emitted for the uncontacted leads.
POLICY = """
[response]
deadline_seconds = 2
business_hours = false
allowed_lateness_seconds = 0
[scoring]
workable_threshold = 0
[[reps]]
rep_id = "r-1"
team = "east"
timezone = "UTC"
"""
LEADS = [f"P{i}" for i in range(12)]
EMAILS = {lead: f"person.{lead.lower()}@customer-{i}.example" for i, lead in enumerate(LEADS)}
PAGES = ["/sla/reps", "/sla/reps/local", "/sla/reps/buckets", "/sla/segments", "/wallboard", "/sla/leads/P1",
         "/router/"]


def everything_in(bootstrap: str, topic: str) -> list[bytes]:
    """Every value ``topic`` holds now."""
    import asyncio

    from stream.cli.common import read_to_end
    from stream.settings import read_settings

    async def read() -> list[bytes]:
        return [record.value async for record in read_to_end(read_settings(kafka_bootstrap=bootstrap), topic)]

    return asyncio.run(read())


def fetch(worker: WorkerProcess, path: str, token: str | None = TOKEN) -> tuple[int, bytes]:
    request = urllib.request.Request(worker.url(path))
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def workers(kafka_bootstrap, tmp_path_factory):
    prefix = unique_prefix()
    env = {"SLA_HTTP_TOKEN": TOKEN, "SLA_LOG_FORMAT": "json"}
    pair = [
        WorkerProcess(kafka_bootstrap, prefix, tmp_path_factory.mktemp(name), POLICY, **env) for name in ("a", "b")
    ]
    pair[0].create_topics()
    try:
        for worker in pair:
            worker.start()
        for worker in pair:
            worker.wait_ready()
        wait_for(lambda: all(w.get("/readyz")[0] == 200 for w in pair), 60, message="both workers ready")
        t0 = ev.now()
        records = []
        for i, lead in enumerate(LEADS):
            created = ev.lead(lead, ev.later(t0, -60), owner="r-1" if i % 2 else None, email=EMAILS[lead],
                              company_size=50)
            records.append((pair[0].topic("lead-created"), lead, created))
            records.append((pair[0].topic("content-downloaded"), lead, ev.download(lead, ev.later(t0, -50), "pricing")))
            if i % 3 == 0:
                records.append((pair[0].topic("call-attempt"), lead, ev.call(lead, ev.later(t0, -40))))
        # A refused record with an email: its log line must not print it.
        records.append((pair[0].topic("lead-created"), "P-bad", {"event_id": "x", "lead_id": "P-bad",
                        "occurred_at": "2026-11-20T14:03:00", "source": "web", "email": "refused.person@bad.example"}))
        produce(kafka_bootstrap, records)

        def settled(worker) -> bool:
            report = orjson.loads(fetch(worker, "/sla/reps")[1])
            return report["complete"] and report["windows"]["7d"]["total"]["workable_leads"] == len(LEADS)

        wait_for(lambda: all(settled(w) for w in pair), timeout=90, message="both workers report every lead")
        # The leads not called get their breach stages (2 s deadline).
        wait_for(lambda: sum(w.metric("sla_breaches_total", rep="r-1", breach_type="first_response",
                                      stage="breach") for w in pair) > 0, timeout=60, message="breaches")
        yield pair
    finally:
        for worker in pair:
            worker.stop()


def test_probes_and_metrics_are_open_the_rest_needs_the_token(workers):
    for worker in workers:
        for path in ("/healthz", "/readyz", "/metrics"):
            assert fetch(worker, path, token=None)[0] == 200, path
        for path in PAGES:
            assert fetch(worker, path, token=None)[0] == 401, path
            assert fetch(worker, path, token=TOKEN + "x")[0] == 401, path
            assert fetch(worker, path)[0] == 200, path
        # Faust's /table pages would serve stored states (emails unmasked): off.
        assert fetch(worker, "/table/")[0] == 404


def test_workers_pass_the_token_to_each_other(workers):
    a, b = workers
    # Each worker owns some of the partitions: /sla/reps is complete only
    # when the other one answered /sla/reps/local with the token.
    for worker in workers:
        report = orjson.loads(fetch(worker, "/sla/reps")[1])
        assert report["complete"] and report["missing_workers"] == []
    # table_route forwards a lead's page to its owner with the caller's header.
    for lead in LEADS:
        for worker in workers:
            status, body = fetch(worker, f"/sla/leads/{lead}")
            assert status == 200, (lead, body)
            assert orjson.loads(body)["lead_id"] == lead
            assert fetch(worker, f"/sla/leads/{lead}", token=None)[0] == 401


def test_the_reps_command_sends_the_token(workers):
    command = [sys.executable, "-m", "stream", "reps", "--url", workers[0].url(""), "--json"]
    without = {k: v for k, v in os.environ.items() if k != "SLA_HTTP_TOKEN"}
    assert subprocess.run(command, env=without, capture_output=True, timeout=60).returncode != 0
    result = subprocess.run(command, env={**without, "SLA_HTTP_TOKEN": TOKEN}, capture_output=True, timeout=60)
    assert result.returncode == 0 and orjson.loads(result.stdout)["complete"]


def test_no_email_leaves_unmasked(workers, kafka_bootstrap):
    a, _ = workers
    written: dict[str, str] = {}
    for n, worker in enumerate(workers):
        written[f"metrics {n}"] = fetch(worker, "/metrics")[1].decode()
        written[f"reps {n}"] = fetch(worker, "/sla/reps")[1].decode()
        written[f"wallboard {n}"] = fetch(worker, "/wallboard")[1].decode()
        written[f"segments {n}"] = fetch(worker, "/sla/segments")[1].decode()
        for lead in LEADS:
            written[f"lead {lead} via {n}"] = fetch(worker, f"/sla/leads/{lead}")[1].decode()
    for topic in ("sla-breaches", "lead-scored"):
        values = everything_in(kafka_bootstrap, a.topic(topic))
        assert values, topic
        written[topic] = "\n".join(v.decode() for v in values)
    logs = {f"log {n}": w.log_path.read_text(errors="replace") for n, w in enumerate(workers)}
    written.update(logs)

    sent = [*EMAILS.values(), "refused.person@bad.example"]
    for where, text in written.items():
        for email in sent:
            assert email not in text, (where, email)
        for shaped in EMAIL.findall(text):
            assert is_masked(shaped), (where, shaped)
    # ... masked, not gone: a lead's page shows who it is to someone who knows.
    view = orjson.loads(fetch(a, "/sla/leads/P3")[1])
    assert view["attributes"]["email"] == "p***@customer-3.example"
    # The refused record was logged (by its reason), not its payload.
    assert any("dead-letter" in text for text in logs.values())

    # JSON logs: every line of both workers' output is one JSON object.
    for where, text in logs.items():
        for line in filter(None, text.splitlines()):
            entry = orjson.loads(line)
            assert {"ts", "level", "logger", "message"} <= set(entry), (where, line)


def test_dead_letter_keeps_the_raw_payload_by_contract(workers, kafka_bootstrap):
    """SPEC §4: dead-letter carries the raw value (to fix and replay it), so
    it is the one topic where a refused record's email stays; restrict it
    (docs/security.md)."""
    letters = consume(kafka_bootstrap, workers[0].topic("dead-letter"), timeout=10, until=lambda r: len(r) >= 1)
    assert [orjson.loads(r.value)["key"] for r in letters] == ["P-bad"]
    assert "refused.person@bad.example" in orjson.loads(letters[0].value)["payload"]
