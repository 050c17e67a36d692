"""``python -m stream dev``: the embedded default, on one machine.

Starts (or reuses) the local Kafka broker, creates the topics, runs a worker
and the simulator, prints the URLs, and stops everything on Ctrl-C (the
broker too, when this command started it). The worker listens on 127.0.0.1
only, unless SLA_WEB_HOST says otherwise.

The simulated floor works round the clock (the ``follow-the-sun`` roster), so
calls happen whatever the hour. Its reps' targets follow the traffic, so a
month of it paces near 100%; a fresh run starts the month with what it has
published so far. ``--backfill`` first replays the month so far (at
real-time speed only), so that month-to-date figures and pacing look like a
month's work at once; the worker then detects that history's breaches
today. That timeline's seed is the month's, and the instant dev stopped is
kept in the data directory: a second run in the same month resumes it
instead of adding a second month.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from schemas.types import format_timestamp

ROOT = Path(__file__).resolve().parents[2]
LOCAL_KAFKA = ROOT / "deploy" / "kafka" / "local.sh"
DEV_POLICY = ROOT / "deploy" / "policy" / "dev.toml"
# Leads of the month so far replayed at most: a whole month at the default
# rate, a few minutes of catching up for the worker.
BACKFILL_MAX_LEADS = 50_000


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", default="1", help="simulated leads per minute (default 1)")
    parser.add_argument("--speed", default="1", help="simulation speed-up (default 1 = real time)")
    parser.add_argument(
        "--backfill",
        action="store_true",
        help="replay the simulated month so far first (a few minutes of catching up; speed 1 only)",
    )
    parser.add_argument("--no-simulate", action="store_true", help="run Kafka and the worker only")
    parser.add_argument("--keep-kafka", action="store_true", help="leave the broker running on exit")
    parser.add_argument(
        "--prometheus-port",
        type=int,
        default=9090,
        help="a local Prometheus with the project's rules and alerts on this port (default 9090; 0 = none)",
    )


def simulator_args(args: argparse.Namespace, settings, now: datetime) -> tuple[list[str], dict | None]:
    """The simulator's arguments, and the timeline to record when it stops
    (None: nothing to resume later)."""
    command = ["--rate", args.rate, "--speed", args.speed, "--roster", "follow-the-sun"]
    if not args.backfill or float(args.speed) != 1:
        return command, None  # a compressed timeline cannot replay the past
    # Each rep's month to date is its local month: start where the earliest
    # one begins, the 1st of the month at UTC-12 read at 00:00 in UTC+14.
    west = now - timedelta(hours=12)
    month = west.strftime("%Y-%m")
    start = datetime(west.year, west.month, 1, tzinfo=UTC) - timedelta(hours=14)
    timeline = {
        "month": month,
        "seed": zlib.crc32(f"dev {month} {args.rate}".encode()),
        "start": format_timestamp(start),
        "topics": f"{settings.kafka_bootstrap} {settings.topic_prefix}",
    }
    command += ["--seed", str(timeline["seed"]), "--start", timeline["start"]]
    # The timeline always starts on the 1st (so that a second run can resume
    # it); at a high rate only its last BACKFILL_MAX_LEADS leads are published.
    skip = now - timedelta(minutes=BACKFILL_MAX_LEADS / float(args.rate))
    saved = _saved_timeline(settings)
    if saved and {k: saved.get(k) for k in timeline} == timeline and saved.get("stopped_at"):
        skip = max(skip, datetime.fromisoformat(saved["stopped_at"]))
    if skip > start:
        command += ["--skip-before", format_timestamp(skip)]
    return command, timeline


def _timeline_file(settings) -> Path:
    return Path(settings.data_dir) / "dev-simulation.json"


def _saved_timeline(settings) -> dict | None:
    try:
        return json.loads(_timeline_file(settings).read_text())
    except (OSError, ValueError):
        return None


def _save_timeline(settings, timeline: dict) -> None:
    path = _timeline_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**timeline, "stopped_at": format_timestamp(datetime.now(UTC))}))


def dev_environment(bootstrap: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment of dev's worker and simulator: ``environ`` with dev's defaults."""
    env = {**environ, "SLA_KAFKA_BOOTSTRAP": bootstrap}
    env.setdefault("SLA_POLICY_FILE", str(DEV_POLICY))
    env.setdefault("SLA_DATA_DIR", str(ROOT / ".sla-data"))
    # A development worker serves this machine only (the worker's own default,
    # 0.0.0.0, is for containers); SLA_WEB_HOST still picks another address.
    env.setdefault("SLA_WEB_HOST", "127.0.0.1")
    env.setdefault("SLA_WEB_ADVERTISED_HOST", "127.0.0.1")
    return env


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
    env = dev_environment(bootstrap, os.environ)
    os.environ.update(env)
    settings = load_settings_or_report()
    if settings is None:
        return 2
    from stream.adapters.topics import create_topics

    for name, status in asyncio.run(create_topics(settings)):
        print(f"  topic {name}: {status}")

    worker = simulator = prometheus = timeline = None
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
            command, timeline = simulator_args(args, settings, datetime.now(UTC))
            simulator = subprocess.Popen(
                [sys.executable, "-m", "stream", "simulate", *command], env=env, start_new_session=True
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
        if simulator is not None and timeline is not None:
            _save_timeline(settings, timeline)
        if prometheus is not None:
            prometheus.stop()
        _stop(worker)
        if not was_running and not args.keep_kafka:
            _kafka("stop")
