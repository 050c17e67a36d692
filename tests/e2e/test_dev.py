"""`python -m stream dev` end to end: it reuses the broker, creates the
topics, starts a worker and the simulator, prints the URLs, serves traffic,
and Ctrl-C stops what it started."""

import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import orjson

from tests.conftest import TEST_KAFKA_PORT
from tests.support.kafka import ROOT, unique_prefix
from tests.support.worker import free_port, wait_for


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=3) as resp:
            return resp.status, resp.read()
    except OSError:
        return None, b""


def test_dev_runs_everything_and_ctrl_c_stops_it(kafka_bootstrap, tmp_path):
    port, prometheus_port = free_port(), free_port()
    prefix = unique_prefix()
    env = {
        **os.environ,
        "KAFKA_LOCAL_PORT": str(TEST_KAFKA_PORT),
        "SLA_TOPIC_PREFIX": prefix,
        "SLA_APP_ID": f"{prefix}dev".replace(".", "-"),
        "SLA_WEB_PORT": str(port),
        "SLA_DATA_DIR": str(tmp_path / "data"),
        "SLA_PARTITIONS": "4",
    }
    log = open(tmp_path / "dev.log", "wb")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "stream", "dev", "--rate", "120", "--speed", "20",
            "--prometheus-port", str(prometheus_port),
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # Ctrl-C is the SIGINT below: a run started in the background by a
        # shell without job control ignores SIGINT, and the child would too.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: b"wallboard" in (tmp_path / "dev.log").read_bytes(), timeout=120, message="the URLs")
        text = (tmp_path / "dev.log").read_text()
        assert f"{base}/wallboard" in text and f"{base}/metrics" in text
        assert get(f"{base}/readyz")[0] == 200

        def events_seen():
            status, body = get(f"{base}/metrics")
            return status == 200 and b'sla_events_total{result="ok",topic="lead-created"}' in body

        wait_for(events_seen, timeout=90, message="simulated traffic reaching the worker")
        status, body = get(f"{base}/sla/reps")
        assert status == 200 and orjson.loads(body)["complete"] is True
        assert get(f"{base}/wallboard")[0] == 200

        # A local Prometheus with the project's rules scrapes the dev worker.
        prometheus = f"http://127.0.0.1:{prometheus_port}"
        assert f"{prometheus}/alerts" in text

        def scraped():
            query = urllib.parse.urlencode({"query": 'rep:sla_workable_leads:sum{window="mtd"}'})
            status, body = get(f"{prometheus}/api/v1/query?{query}")
            return status == 200 and orjson.loads(body)["data"]["result"]

        wait_for(scraped, timeout=90, message="the local Prometheus to record the worker's series")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        log.close()
    assert code == 0, (tmp_path / "dev.log").read_text()[-3000:]
    time.sleep(1)
    assert get(f"{base}/healthz")[0] is None  # the worker is gone
    assert get(f"http://127.0.0.1:{prometheus_port}/-/healthy")[0] is None  # and Prometheus
    # The broker was already running (the test session's): dev leaves it alone.
    assert subprocess.run(
        [str(ROOT / "deploy/kafka/local.sh"), "status"], env={**os.environ, "KAFKA_LOCAL_PORT": str(TEST_KAFKA_PORT)}
    ).returncode == 0
