"""Kafka security end to end: a broker of its own with a SCRAM-over-TLS
listener (deploy/kafka/local.sh, a CA and a broker certificate made here with
keytool), a worker and ``replay`` through it, and start-up refused in words
for a wrong password, an unknown CA or the wrong protocol.

The broker runs on its own ports and data directory and is stopped at the
end; the tests' shared broker is left alone.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import orjson
import pytest

from tests.support import events as ev
from tests.support.certs import make_broker_keystore, make_ca
from tests.support.kafka import LOCAL_SH, ROOT, unique_prefix
from tests.support.worker import WorkerProcess, wait_for

USER, PASSWORD = "sla-worker", "scram-Secret-42"
POLICY = """
[response]
deadline_seconds = 3600
business_hours = false
[scoring]
workable_threshold = 0
"""


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _free_ports() -> tuple[int, int]:
    """A client port whose neighbour (the controller's) is free too, and the SCRAM/TLS port."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65000 and _free(port + 1) and _free(port + 2):
            return port, port + 2
    raise RuntimeError("no free ports")


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory):
    folder = tmp_path_factory.mktemp("secure-kafka")
    ca = make_ca(folder / "ca")
    keystore = make_broker_keystore(folder / "ca", ca)
    port, scram_port = _free_ports()
    env = {
        **os.environ,
        "KAFKA_LOCAL_PORT": str(port),
        "KAFKA_LOCAL_DIR": str(folder / "kafka"),
        "KAFKA_LOCAL_HEAP": "512M",
        "KAFKA_LOCAL_SCRAM_TLS_PORT": str(scram_port),
        "KAFKA_LOCAL_KEYSTORE": str(keystore),
        "KAFKA_LOCAL_KEYSTORE_PASSWORD": "broker-store-pw",
        "KAFKA_LOCAL_SCRAM_USERS": f"{USER}:{PASSWORD}",
    }
    started = subprocess.run([str(LOCAL_SH), "start"], env=env, capture_output=True, text=True, timeout=300)
    assert started.returncode == 0, started.stderr
    assert f"SCRAM over TLS (SASL_SSL) on 127.0.0.1:{scram_port}" in started.stderr
    try:
        yield {"bootstrap": f"127.0.0.1:{scram_port}", "plaintext": f"127.0.0.1:{port}", "ca": ca, "folder": folder}
    finally:
        subprocess.run([str(LOCAL_SH), "stop"], env=env, capture_output=True, timeout=120)


def security_env(broker, mechanism: str = "SCRAM-SHA-512", password: str = PASSWORD, **extra) -> dict[str, str]:
    return {
        "SLA_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "SLA_KAFKA_SASL_MECHANISM": mechanism,
        "SLA_KAFKA_SASL_USERNAME": USER,
        "SLA_KAFKA_SASL_PASSWORD": password,
        "SLA_KAFKA_SSL_CAFILE": str(broker["ca"].pem),
        **extra,
    }


def stream_command(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "stream", *args],
        env=env,
        cwd=ROOT,
        input="",
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def secure_worker(secure_broker, tmp_path):
    worker = WorkerProcess(secure_broker["bootstrap"], unique_prefix(), tmp_path, POLICY, **security_env(secure_broker))
    yield worker
    worker.stop()


def test_a_worker_and_replay_run_through_scram_over_tls(secure_broker, secure_worker, tmp_path):
    worker = secure_worker
    worker.create_topics()
    worker.start().wait_ready()
    t0 = ev.now()
    history = tmp_path / "history.jsonl"
    lines = []
    for i in range(5):
        lead_id = f"S{i}"
        lines.append({"topic": "lead-created", "value": ev.lead(lead_id, ev.later(t0, -60), owner="r-1")})
        lines.append({"topic": "call-attempt", "value": ev.call(lead_id, ev.later(t0, -30), outcome="connected")})
    history.write_bytes(b"\n".join(orjson.dumps(line) for line in lines) + b"\n")
    # replay logs in with the other SCRAM mechanism: the broker holds both.
    env = {**worker.env, **security_env(secure_broker, mechanism="SCRAM-SHA-256")}
    replayed = stream_command(["replay", str(history)], env)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "published 10 events" in replayed.stdout

    wait_for(lambda: worker.metric("sla_events_total", topic="call-attempt", result="ok") == 5, timeout=60)
    status, body = worker.get("/sla/leads/S3")
    assert status == 200 and orjson.loads(body)["calls"][0]["outcome"] == "connected"
    assert "Authenticated as sla-worker via SCRAM-SHA-512" in worker.log_path.read_text()
    assert PASSWORD not in worker.log_path.read_text()


@pytest.mark.parametrize("command", [["worker"], ["topics"], ["replay", "-"]])
def test_a_wrong_password_stops_start_up_in_words(secure_broker, secure_worker, command):
    env = {**secure_worker.env, **security_env(secure_broker, password="not-the-password")}
    result = stream_command(command, env, timeout=90)
    expected = (
        f"Kafka at {secure_broker['bootstrap']} refused the SCRAM-SHA-512 login of "
        f"SLA_KAFKA_SASL_USERNAME='{USER}': check SLA_KAFKA_SASL_USERNAME and SLA_KAFKA_SASL_PASSWORD"
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert expected in " ".join(output.split()), output  # rich may wrap the line
    assert "not-the-password" not in output and "Traceback" not in output


def test_an_unknown_ca_stops_start_up_in_words(secure_broker, secure_worker):
    other = make_ca(secure_broker["folder"] / "other-ca", name="someone-else")
    env = {**secure_worker.env, **security_env(secure_broker), "SLA_KAFKA_SSL_CAFILE": str(other.pem)}
    result = stream_command(["worker"], env, timeout=90)
    assert result.returncode == 2
    assert f"the TLS certificate of Kafka at {secure_broker['bootstrap']} is not trusted by the CA in" in result.stderr


def test_the_wrong_protocol_stops_start_up_in_words(secure_broker, secure_worker):
    env = {k: v for k, v in secure_worker.env.items() if not k.startswith("SLA_KAFKA_S")}
    result = stream_command(["worker"], env, timeout=90)
    assert result.returncode == 2
    assert "does SLA_KAFKA_SECURITY_PROTOCOL=PLAINTEXT match that listener?" in result.stderr
