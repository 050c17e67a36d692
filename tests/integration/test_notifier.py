"""The breach notifier against the real broker and a local webhook that fails
when told to: each breach is posted once after retries, a worker killed while
the webhook is down still delivers every breach after its restart (repeats
only under the same event_id), the URL never shows up in the worker's log or
HTTP pages, and a missing URL stops start-up."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from tests.support import events as ev
from tests.support.kafka import consume, group_offsets, produce, values
from tests.support.worker import wait_for

SECRET = "xoxb-s3cr3t-T0KEN-9f8e7d6c"
SECRET_PATH = f"/services/T0000/B0000/{SECRET}"


def policy(**notifier: str) -> str:
    """Breaches 2 s after the lead, on plain time; retries at most 1 s apart."""
    lines = "\n".join(f"{key} = {value}" for key, value in notifier.items())
    return f"""
[response]
deadline_seconds = 2
business_hours = false
allowed_lateness_seconds = 0.5
[scoring]
workable_threshold = 0
[notifier]
max_backoff_seconds = 1
{lines}
"""


class Webhook:
    """Records every POST. Answers the first ones as ``script`` says (a
    status, or "hang": no answer for 2 s), then 500 while ``failing`` is set,
    else 200."""

    def __init__(self) -> None:
        self.script: list[int | str] = []
        self.failing = False
        self.retry_after: str | None = None
        self.lock = threading.Lock()
        # (status answered, path, Idempotency-Key, body)
        self.posts: list[tuple[int, str, str | None, bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with hook.lock:
                    status = hook.script.pop(0) if hook.script else 500 if hook.failing else 200
                    hook.posts.append((status, self.path, self.headers.get("Idempotency-Key"), body))
                if status == "hang":
                    time.sleep(2)
                    return
                self.send_response(status)
                if hook.retry_after is not None:
                    self.send_header("Retry-After", hook.retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{SECRET_PATH}"

    def accepted(self) -> list[tuple[str | None, bytes]]:
        with self.lock:
            return [(key, body) for status, _, key, body in self.posts if status == 200]

    def attempts(self) -> int:
        with self.lock:
            return len(self.posts)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook():
    hook = Webhook()
    yield hook
    hook.close()


def start(make_worker, policy_text: str, **env: str):
    worker = make_worker(policy_text, **env)
    worker.create_topics()
    worker.start().wait_ready()
    return worker


def breaches(bootstrap, worker, stage: str = "breach", timeout: float = 2.0, until=None) -> list[dict]:
    records = consume(bootstrap, worker.topic("sla-breaches"), timeout=timeout, until=until)
    return [b for b in values(records) if b["stage"] == stage]


def produce_leads(bootstrap, worker, leads: list[str]) -> None:
    t0 = ev.now()
    produce(bootstrap, [(worker.topic("lead-created"), lead, ev.lead(lead, t0, owner="r-1")) for lead in leads])


def assert_secret_never_shown(worker) -> None:
    log = worker.log_path.read_text(errors="replace")
    assert SECRET not in log and SECRET_PATH not in log
    for path in ("/metrics", "/healthz", "/readyz", "/sla/reps"):
        _, body = worker.get(path)
        assert SECRET.encode() not in body, path


def test_each_breach_is_posted_once_after_the_webhook_failed_twice(make_worker, webhook, kafka_bootstrap):
    webhook.script = [500, 500]
    worker = start(make_worker, policy(stages='["breach"]'), SLA_NOTIFIER_URL=webhook.url)
    leads = ["N1", "N2", "N3"]
    produce_leads(kafka_bootstrap, worker, leads)

    wait_for(lambda: len(breaches(kafka_bootstrap, worker)) >= 3, timeout=60, message="three breach events")
    emitted = {b["event_id"]: b for b in breaches(kafka_bootstrap, worker)}
    assert {b["lead_id"] for b in emitted.values()} == set(leads)

    wait_for(lambda: {key for key, _ in webhook.accepted()} >= set(emitted), timeout=60, message="every breach posted")
    # Escalations fall due at 6 s: they are read and skipped, never posted.
    wait_for(lambda: worker.metric("sla_notifications_total", result="skipped") >= 6, timeout=60, message="skips")

    accepted = webhook.accepted()
    assert Counter(key for key, _ in accepted) == Counter(set(emitted))  # each exactly once
    with webhook.lock:
        assert [status for status, *_ in webhook.posts] == [500, 500, 200, 200, 200]
        assert {path for _, path, _, _ in webhook.posts} == {SECRET_PATH}
    for key, body in accepted:
        message = orjson.loads(body)
        assert list(message) == ["text"]
        text = message["text"]
        event = emitted[key]
        assert text.startswith(":rotating_light: *SLA breach*: first response\n")
        assert f"Lead `{event['lead_id']}` · owner `r-1`" in text
        assert "Due " in text and " late" in text
        assert text.endswith(f"Event `{key}`")

    assert worker.metric("sla_notifications_total", result="sent") == 3
    assert worker.metric("sla_notifications_total", result="retried") == 2
    assert worker.metric("sla_notifications_total", result="rejected") == 0
    assert worker.metric("sla_notifications_total", result="duplicate") == 0
    assert "not delivered (HTTP 500)" in worker.log_path.read_text(errors="replace")
    assert_secret_never_shown(worker)

    # A breach emitted again (as after an SLA worker crash) is not posted again.
    first, second, _ = emitted.values()
    resend(kafka_bootstrap, worker, first)
    wait_for(lambda: worker.metric("sla_notifications_total", result="duplicate") == 1, timeout=60, message="dup")

    # A clean stop has committed everything read; after a restart nothing is
    # posted again, not even a repeat of an event handled before the restart.
    worker.stop()
    assert "notifier:" not in "".join(
        line for line in worker.log_path.read_text(errors="replace").splitlines(True) if "not delivered" not in line
    )
    group = worker.env["SLA_APP_ID"] + "-notifier"
    committed, ends = group_offsets(kafka_bootstrap, group, worker.topic("sla-breaches"))
    assert sum(ends.values()) >= 2
    assert committed == ends
    worker.start().wait_ready()
    resend(kafka_bootstrap, worker, second)
    produce_leads(kafka_bootstrap, worker, ["N4"])
    wait_for(lambda: len(webhook.accepted()) == 4, timeout=60, message="the new lead's breach posted")
    wait_for(lambda: worker.metric("sla_notifications_total", result="duplicate") == 1, timeout=60, message="dup")
    assert Counter(key for key, _ in webhook.accepted()) == Counter(
        {b["event_id"] for b in breaches(kafka_bootstrap, worker)}
    )
    assert worker.metric("sla_notifications_total", result="sent") == 1
    assert_secret_never_shown(worker)


def resend(bootstrap, worker, breach: dict) -> None:
    produce(bootstrap, [(worker.topic("sla-breaches"), breach["lead_id"], breach)])



def test_a_worker_killed_while_the_webhook_is_down_delivers_every_breach_after_restart(
    make_worker, webhook, kafka_bootstrap
):
    webhook.failing = True
    worker = start(make_worker, policy(stages='["breach"]'), SLA_NOTIFIER_URL=webhook.url)
    leads = ["K1", "K2", "K3"]
    produce_leads(kafka_bootstrap, worker, leads)
    # The notifier is stuck retrying the first breach it read.
    wait_for(lambda: webhook.attempts() >= 3, timeout=60, message="failing posts")
    worker.kill()
    webhook.failing = False
    worker.start().wait_ready()

    def delivered():
        emitted = {b["event_id"] for b in breaches(kafka_bootstrap, worker, timeout=1.0)}
        got = {key for key, _ in webhook.accepted()}
        return len(emitted) == len(leads) and got >= emitted and emitted

    emitted = wait_for(delivered, timeout=120, message="every breach delivered after the restart")
    all_breaches = breaches(kafka_bootstrap, worker)
    # Emitted again after the crash perhaps, but always under one id per lead.
    assert {b["lead_id"]: b["event_id"] for b in all_breaches} == {
        b["lead_id"]: b["event_id"] for b in reversed(all_breaches)
    }
    for key, body in webhook.accepted():
        assert key in emitted  # a repeat is allowed, only under the same event_id
        assert orjson.loads(body)["text"].endswith(f"Event `{key}`")
    assert SECRET not in (worker.workdir / "worker-1.log").read_text(errors="replace")
    assert_secret_never_shown(worker)


def test_json_format_posts_the_event_as_is(make_worker, webhook, kafka_bootstrap):
    worker = start(
        make_worker,
        policy(url_env='"SLA_TEST_HOOK_URL"', format='"json"', stages='["breach", "escalation"]'),
        SLA_TEST_HOOK_URL=webhook.url,
    )
    produce_leads(kafka_bootstrap, worker, ["J1"])
    wait_for(lambda: len(webhook.accepted()) >= 2, timeout=60, message="breach and escalation posted")
    events = {
        b["event_id"]: b
        for stage in ("breach", "escalation")
        for b in breaches(kafka_bootstrap, worker, stage=stage)
    }
    posted = {key: orjson.loads(body) for key, body in webhook.accepted()}
    assert posted == events
    assert {e["stage"] for e in posted.values()} == {"breach", "escalation"}
    assert_secret_never_shown(worker)


@pytest.mark.parametrize("value", [None, "s3cr3t-but-not-a-url"])
def test_a_missing_or_bad_url_stops_the_worker_at_start(make_worker, monkeypatch, value):
    monkeypatch.delenv("SLA_TEST_UNSET_HOOK", raising=False)
    env = {} if value is None else {"SLA_TEST_UNSET_HOOK": value}
    worker = make_worker(policy(url_env='"SLA_TEST_UNSET_HOOK"'), **env)
    worker.start()
    assert worker.proc.wait(60) == 2
    log = worker.log_path.read_text(errors="replace")
    assert "notifier.url_env: " in log and "SLA_TEST_UNSET_HOOK" in log
    assert "s3cr3t" not in log


async def test_refusals_are_not_retried_and_failures_are_logged_without_the_url(webhook, caplog):
    """The delivery loop in process (no Kafka): 429 honours Retry-After, a
    timeout and a refused connection are retried, a 404 is given up."""
    import aiohttp
    from prometheus_client import CollectorRegistry
    from prometheus_client import Counter as PromCounter

    from stream.adapters.notifier import BreachNotifier
    from stream.policy import NotifierPolicy
    from stream.settings import Settings

    def counted(counter, result):
        return counter.labels(result=result)._value.get()

    webhook.script = [429, "hang", 503, 404]
    webhook.retry_after = "0.7"
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    counter = PromCounter("sla_notifications", "test", ["result"], registry=CollectorRegistry())
    policy = NotifierPolicy(timeout_seconds=0.5, max_backoff_seconds=30)
    notifier = BreachNotifier(Settings(), policy, webhook.url, counter, random=lambda: 0.5, sleep=sleep)
    event = {"event_id": "br-1", "stage": "breach", "breach_type": "first_response", "lead_id": "L1"}
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=policy.timeout_seconds)) as session:
        await notifier._deliver(session, event)
        assert [status for status, *_ in webhook.posts] == [429, "hang", 503, 404]
        assert (counted(counter, "retried"), counted(counter, "rejected"), counted(counter, "sent")) == (3, 1, 0)
        # Half (the injected random) of 0.5, 1, 2 s; an answer's Retry-After
        # (0.7 s) is honoured where it is longer; a timeout has none.
        assert waits == [0.7, 0.5, 1.0]
        assert "refused event br-1 with HTTP 404" in caplog.text
        assert "not delivered (timeout)" in caplog.text

        # Nobody listening: retried, and logged as the exception type only.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed_port = s.getsockname()[1]
        unreachable = f"http://127.0.0.1:{closed_port}{SECRET_PATH}"
        stopped = BreachNotifier(Settings(), policy, unreachable, counter, random=lambda: 0.5, sleep=stop_after(3))
        with pytest.raises(StopRetrying):
            await stopped._deliver(session, event)
    assert "not delivered (ClientConnectorError)" in caplog.text
    assert SECRET not in caplog.text and "127.0.0.1:" not in caplog.text
    assert SECRET not in repr(notifier)


class StopRetrying(Exception):
    pass


def stop_after(tries: int):
    count = 0

    async def sleep(seconds: float) -> None:
        nonlocal count
        count += 1
        if count >= tries:
            raise StopRetrying

    return sleep
