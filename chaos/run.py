"""``make chaos``: SLA breaches through worker kills and broker restarts.

Two or more workers of one group process a seeded scenario
(``chaos.scenario``) sent on wall-clock time, while workers are killed with
SIGKILL at random moments (some right after another one restarted, in the
middle of a rebalance) and restarted, and the broker is stopped and started
again. A worker that exits is restarted, as an orchestrator would. At the
end, ``sla-breaches`` is compared with the expectation after retractions:
0 missed, 0 false, and a repeated event only ever under the same id.

    python -m chaos --seed 7 --seconds 600 --workers 3      (make chaos)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import orjson

from chaos.scenario import DEADLINE_SECONDS, Send, expected_standing, policy_toml, traffic
from tests.support.kafka import consume, start_broker, stop_broker, unique_prefix
from tests.support.worker import WorkerProcess, wait_for


def log(message: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", flush=True)


async def _send_all(bootstrap: str, prefix: str, sends: list[Send], stop: threading.Event) -> int:
    """Send each record at its time, retrying through broker outages."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.errors import KafkaError

    sent = 0
    producer = None
    for send in sends:
        while time.time() < send.send_at and not stop.is_set():
            await asyncio.sleep(min(0.05, send.send_at - time.time()))
        while True:
            try:
                if producer is None:
                    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=5000)
                    await producer.start()
                await producer.send_and_wait(f"{prefix}{send.topic}", orjson.dumps(send.value), key=send.key.encode())
                sent += 1
                break
            except (KafkaError, OSError):
                if producer is not None:
                    try:
                        await producer.stop()
                    except Exception:  # noqa: BLE001 - a producer that lost its broker
                        pass
                producer = None
                await asyncio.sleep(1.0)
    if producer is not None:
        await producer.stop()
    return sent


class Supervisor:
    """The workers, restarted whenever one is found dead (killed or crashed)."""

    def __init__(self, workers: list[WorkerProcess]) -> None:
        self.workers = workers
        self.down_until: dict[int, float] = {}
        self.restarts = 0

    def tend(self) -> None:
        now = time.monotonic()
        for i, worker in enumerate(self.workers):
            if not worker.alive and now >= self.down_until.get(i, 0.0):
                worker.start()
                self.restarts += 1

    def kill(self, i: int, down_seconds: float) -> None:
        self.workers[i].kill()
        self.down_until[i] = time.monotonic() + down_seconds


def run(seed: int, seconds: float, workers: int, leads: int, broker_restarts: int, kafka_port: int, workdir: Path) -> dict:
    rng = random.Random(seed)
    bootstrap, started = start_broker(kafka_port)
    prefix = unique_prefix()
    policy = policy_toml()
    procs = []
    for i in range(workers):
        path = workdir / f"w{i}"
        path.mkdir(parents=True, exist_ok=True)
        procs.append(WorkerProcess(bootstrap, prefix, path, policy, SLA_KAFKA_SESSION_TIMEOUT_SECONDS="6"))
    procs[0].create_topics()
    for w in procs:
        w.start()
    for w in procs:
        w.wait_ready(180)
    start = time.time() + 2
    sends = traffic(seed, start, seconds, leads)
    log(f"seed {seed}: {len(sends)} records for {leads} leads over {seconds:.0f} s, {workers} workers")
    stop = threading.Event()
    sent: list[int] = []
    sender = threading.Thread(target=lambda: sent.append(asyncio.run(_send_all(bootstrap, prefix, sends, stop))))
    sender.start()
    supervisor = Supervisor(procs)
    kills = 0
    restarts_of_broker = 0
    broker_at = sorted(start + rng.uniform(0.2, 0.8) * seconds for _ in range(broker_restarts))
    next_kill = time.time() + rng.uniform(3, 8)
    end = start + seconds
    try:
        while time.time() < end:
            supervisor.tend()
            if broker_at and time.time() >= broker_at[0]:
                broker_at.pop(0)
                log("broker: stop")
                stop_broker(kafka_port)
                time.sleep(rng.uniform(1, 4))
                start_broker(kafka_port)
                restarts_of_broker += 1
                log("broker: started again")
            if time.time() >= next_kill:
                victim = rng.randrange(workers)
                supervisor.kill(victim, rng.uniform(0, 4))
                kills += 1
                log(f"SIGKILL worker {victim}")
                if rng.random() < 0.4:
                    # Another one in the middle of the rebalance that follows.
                    time.sleep(rng.uniform(0.5, 3))
                    supervisor.tend()
                    other = rng.randrange(workers)
                    supervisor.kill(other, rng.uniform(0, 2))
                    kills += 1
                    log(f"SIGKILL worker {other} mid-rebalance")
                next_kill = time.time() + rng.uniform(4, 12)
            time.sleep(0.2)
        sender.join()
        # Every worker up and ready, then let every stage fall due and settle.
        supervisor.down_until.clear()
        wait_for(lambda: (supervisor.tend(), all(_ready(w) for w in procs))[1], 240, 0.5, "every worker ready")
        time.sleep(3 * DEADLINE_SECONDS + 5)
        expected = expected_standing(sends)
        observed = _observed(bootstrap, prefix)
        result = _compare(set(expected), observed)
        result["diagnosis"] = [
            _diagnose(expected[event_id], sends, observed, start, workdir) for event_id in result["missed"][:10]
        ]
        result.update(
            seed=seed, seconds=seconds, workers=workers, leads=leads, records=len(sends),
            sent=sent[0] if sent else 0, kills=kills, broker_restarts=restarts_of_broker,
            worker_restarts=supervisor.restarts,
        )
        return result
    finally:
        stop.set()
        for w in procs:
            w.stop()
        if started:
            stop_broker(kafka_port)


def _ready(worker: WorkerProcess) -> bool:
    try:
        return worker.alive and worker.get("/readyz")[0] == 200
    except OSError:
        return False


def _observed(bootstrap: str, prefix: str) -> list[dict]:
    records = consume(bootstrap, f"{prefix}sla-breaches", timeout=15)
    return [orjson.loads(r.value) for r in records]


def _diagnose(what: str, sends: list[Send], observed: list[dict], start: float, workdir: Path) -> str:
    """What the run shows of a missed stage's lead: its records with their
    send times, its breach events, and the worker log lines naming it."""
    lead = what.split()[0]
    lines = [f"missed {what}:"]
    for send in sends:
        if send.key == lead:
            lines.append(f"  sent at +{send.send_at - start:.1f} s: {send.topic} {send.value['occurred_at']}")
    for event in observed:
        if event.get("lead_id") == lead:
            lines.append(f"  on sla-breaches: {event['stage']} {event['event_id']} detected {event.get('detected_at')}")
    for path in sorted(workdir.glob("w*/worker-*.log")):
        for line in path.read_text(errors="replace").splitlines():
            if lead in line:
                lines.append(f"  {path.parent.name}/{path.name}: {line[:300]}")
    return "\n".join(lines)


def _compare(expected: set[str], events: list[dict]) -> dict:
    first_response = [e for e in events if e["breach_type"] == "first_response"]
    retracted = {e["retracts"] for e in first_response if e["stage"] == "retracted"}
    emitted = [e for e in first_response if e["stage"] != "retracted"]
    standing = {e["event_id"] for e in emitted} - retracted
    ids = Counter(e["event_id"] for e in first_response)
    # One id per stage of a clock: a repeat must carry the same id.
    per_stage: dict[tuple, set[str]] = {}
    for e in emitted:
        per_stage.setdefault((e["lead_id"], e["clock_started_at"], e["stage"]), set()).add(e["event_id"])
    return {
        "expected": len(expected),
        "standing": len(standing),
        "missed": sorted(expected - standing),
        "false": sorted(standing - expected),
        "events": len(first_response),
        "retractions": len(retracted),
        "repeats": sum(n - 1 for n in ids.values() if n > 1),
        "stages_with_two_ids": sorted(str(k) for k, v in per_stage.items() if len(v) > 1),
    }


def _rereads(workdir: Path) -> dict[str, int]:
    """How often the workers found input skipped and read it again
    (stream/adapters/faust_transport.py logs each time)."""
    counts = {"withheld": 0, "accepted": 0, "sought": 0}
    for path in workdir.glob("w*/worker-*.log"):
        text = path.read_text(errors="replace")
        counts["withheld"] += text.count("were not delivered: not acknowledged")
        counts["accepted"] += text.count("taken for offsets without records")
        counts["sought"] += text.count("were skipped: reading them again")
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m chaos", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=None, help="scenario and chaos seed (default: random, printed)")
    p.add_argument("--seconds", type=float, default=600, help="length of the traffic (%(default)s)")
    p.add_argument("--workers", type=int, default=3, help="workers in the group (%(default)s)")
    p.add_argument("--leads", type=int, default=1500, help="leads in the scenario (%(default)s)")
    p.add_argument("--broker-restarts", type=int, default=3, help="times the broker is stopped and started (%(default)s)")
    p.add_argument("--kafka-port", type=int, default=29092, help="the local broker's port (%(default)s)")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    workdir = Path(tempfile.mkdtemp(prefix="sla-chaos-"))
    result = run(seed, args.seconds, args.workers, args.leads, args.broker_restarts, args.kafka_port, workdir)
    ok = not result["missed"] and not result["false"] and not result["stages_with_two_ids"]
    rereads = _rereads(workdir)
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
    log(
        f"seed {seed}: expected {result['expected']} standing breaches, found {result['standing']}: "
        f"{len(result['missed'])} missed, {len(result['false'])} false, {result['repeats']} repeats "
        f"(same id), {result['retractions']} retractions; {result['kills']} SIGKILLs, "
        f"{result['broker_restarts']} broker restarts, {result['worker_restarts']} worker starts; "
        f"skipped input read again: {rereads['withheld']} gaps held back, {rereads['accepted']} of them "
        f"taken for holes, {rereads['sought']} partitions sought back"
    )
    if not ok:
        log(f"missed: {result['missed'][:10]} false: {result['false'][:10]} two ids: {result['stages_with_two_ids'][:5]}")
        for text in result["diagnosis"]:
            log(text)
        log(f"the workers' data and logs are kept in {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
