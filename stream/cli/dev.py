"""``python -m stream dev``: the embedded default, on one machine.

Starts (or reuses) the local Kafka broker, creates the topics, runs a worker
and the simulator, prints the URLs, and stops everything on Ctrl-C (the
broker too, when this command started it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL_KAFKA = ROOT / "deploy" / "kafka" / "local.sh"
DEV_POLICY = ROOT / "deploy" / "policy" / "dev.toml"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", default="6", help="simulated leads per minute (default 6)")
    parser.add_argument("--speed", default="1", help="simulation speed-up (default 1 = real time)")
    parser.add_argument("--no-simulate", action="store_true", help="run Kafka and the worker only")
    parser.add_argument("--keep-kafka", action="store_true", help="leave the broker running on exit")
    parser.add_argument(
        "--prometheus-port",
        type=int,
        default=9090,
        help="a local Prometheus with the project's rules and alerts on this port (default 9090; 0 = none)",
    )


def _kafka(command: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LOCAL_KAFKA), command], capture_output=True, text=True)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _start_prometheus(port: int, settings):
    """A local Prometheus scraping the dev worker, or None (not installed, port taken, or port 0)."""
    import socket

    from stream.cli.monitoring import LocalPrometheus, prometheus_config

    if not port:
        return None
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            print(f"port {port} is taken: no local Prometheus (--prometheus-port picks another)", flush=True)
            return None
    workdir = Path(settings.data_dir) / "prometheus"
    config = prometheus_config([f"127.0.0.1:{settings.web_port}"])
    prometheus = LocalPrometheus(workdir, config, port)
    if prometheus.binary is None:
        print("prometheus is not installed (make install): no local Prometheus", flush=True)
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    prometheus.start(open(workdir / "prometheus.log", "ab"))
    try:
        prometheus.wait_ready()
    except RuntimeError as exc:
        print(f"local Prometheus did not start ({exc}); see {workdir / 'prometheus.log'}", flush=True)
        prometheus.stop()
        return None
    return prometheus


def run(args: argparse.Namespace) -> int:
    from stream.cli.common import load_settings_or_report

    was_running = _kafka("status").returncode == 0
    print("starting Kafka (deploy/kafka/local.sh start)...", flush=True)
    started = _kafka("start")
    if started.returncode != 0:
        print(started.stderr, file=sys.stderr)
        return 1
    bootstrap = started.stdout.strip().splitlines()[-1]
    env = {**os.environ, "SLA_KAFKA_BOOTSTRAP": bootstrap}
    env.setdefault("SLA_POLICY_FILE", str(DEV_POLICY))
    env.setdefault("SLA_DATA_DIR", str(ROOT / ".sla-data"))
    os.environ.update(env)
    settings = load_settings_or_report()
    if settings is None:
        return 2
    from stream.adapters.topics import create_topics

    for name, status in asyncio.run(create_topics(settings)):
        print(f"  topic {name}: {status}")

    worker = simulator = prometheus = None
    base = f"http://127.0.0.1:{settings.web_port}"
    try:
        worker = subprocess.Popen(
            [sys.executable, "-m", "stream", "worker", "-l", "warn"], env=env, start_new_session=True
        )
        print("waiting for the worker to be ready...", flush=True)
        while not _ready(f"{base}/readyz"):
            if worker.poll() is not None:
                print("the worker exited", file=sys.stderr)
                return 1
            time.sleep(0.5)
        prometheus = _start_prometheus(args.prometheus_port, settings)
        if not args.no_simulate:
            simulator = subprocess.Popen(
                [sys.executable, "-m", "stream", "simulate", "--rate", args.rate, "--speed", args.speed],
                env=env,
                start_new_session=True,
            )
        print(
            "\n".join(
                [
                    "",
                    f"Kafka      {bootstrap}",
                    f"policy     {env['SLA_POLICY_FILE']}",
                    f"wallboard  {base}/wallboard",
                    f"metrics    {base}/metrics",
                    f"reps       {base}/sla/reps",
                    f"lead       {base}/sla/leads/<lead_id>",
                    f"health     {base}/healthz  {base}/readyz",
                    *(
                        [f"prometheus {prometheus.url}/alerts  (rules and alerts of deploy/prometheus)"]
                        if prometheus
                        else []
                    ),
                    "breaches   python -m stream tail",
                    "Ctrl-C stops everything.",
                    "",
                ]
            ),
            flush=True,
        )
        while worker.poll() is None:
            time.sleep(1)
        return worker.returncode or 0
    except KeyboardInterrupt:
        print("\nstopping...", flush=True)
        return 0
    finally:
        _stop(simulator)
        if prometheus is not None:
            prometheus.stop()
        _stop(worker)
        if not was_running and not args.keep_kafka:
            _kafka("stop")
