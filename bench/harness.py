"""Broker and worker processes for the benchmarks (built on tests/support)."""

from __future__ import annotations

import os
import time
import uuid

import orjson
from pathlib import Path

from bench.common import cpu_seconds, parse_metrics, rss_kib
from tests.support.kafka import start_broker, stop_broker
from tests.support.worker import WorkerProcess

__all__ = ["start_broker", "stop_broker", "Worker", "unique_prefix", "policy_toml", "delete_topics"]


PREFIXES: list[str] = []  # every topic prefix handed out in this process


def unique_prefix(kind: str) -> str:
    prefix = f"bench-{kind}-{uuid.uuid4().hex[:8]}."
    PREFIXES.append(prefix)
    return prefix


def policy_toml(
    deadline_seconds: float,
    escalation: str = '[{ at = 1.0, stage = "breach" }]',
    allowed_lateness_seconds: float = 0,
) -> str:
    """A plain-time policy in which every lead is workable."""
    return f"""
[response]
deadline_seconds = {deadline_seconds}
business_hours = false
allowed_lateness_seconds = {allowed_lateness_seconds}
escalation = {escalation}
[scoring]
workable_threshold = 0
"""


class Worker(WorkerProcess):
    """``python -m stream worker`` with 8 partitions, a fresh prefix and app
    id, plus finer-grained readiness and resource sampling."""

    def __init__(
        self, bootstrap: str, workdir: Path, policy: str, prefix: str, command: list[str] | None = None, **env
    ):
        workdir.mkdir(parents=True, exist_ok=True)
        env.setdefault("partitions", "8")
        super().__init__(bootstrap, prefix, workdir, policy, command, **env)

    def wait_ready_phases(self, timeout: float = 300, interval: float = 0.05) -> tuple[float, list[tuple[str, float]]]:
        """Seconds from now until /readyz answers 200, and every change of
        the not-ready reason on the way as (reason, seconds from now)."""
        t0 = time.perf_counter()
        phases: list[tuple[str, float]] = []

        def seen(reason: str) -> None:
            if not phases or phases[-1][0] != reason:
                phases.append((reason, time.perf_counter() - t0))

        while time.perf_counter() - t0 < timeout:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                status, body = self.get("/readyz")
            except OSError:
                seen("http not up")
            else:
                if status == 200:
                    return time.perf_counter() - t0, phases
                try:
                    reason = orjson.loads(body).get("reason", "?")
                except ValueError:
                    reason = "?"
                seen(reason)
            time.sleep(interval)
        raise RuntimeError(f"worker not ready within {timeout}s:\n{self.tail()}")

    def scrape(self) -> dict:
        status, body = self.get("/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return parse_metrics(body.decode())

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_mib(self) -> float:
        try:
            return rss_kib(self.pid) / 1024
        except OSError:
            return float("nan")

    def cpu(self) -> float:
        try:
            return cpu_seconds(self.pid)
        except OSError:
            return float("nan")

    def thread_cpu(self) -> dict[int, float]:
        """CPU seconds so far of each thread of the worker, by thread id
        (the main thread's id is the process id)."""
        out = {}
        try:
            tids = os.listdir(f"/proc/{self.pid}/task")
        except OSError:
            return out
        for tid in tids:
            try:
                out[int(tid)] = cpu_seconds(f"{self.pid}/task/{tid}")
            except (OSError, ValueError):
                pass
        return out

    def wait_idle(self, below: float = 0.1, window: float = 2.0, timeout: float = 600) -> float:
        """Wait until the worker uses less than ``below`` of a core over
        ``window`` seconds (trailing work on internal topics done); returns
        the seconds waited."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            c0 = self.cpu()
            time.sleep(window)
            if (self.cpu() - c0) / window < below:
                break
        return time.perf_counter() - t0

    @property
    def session_timeout(self) -> float:
        return float(self.env.get("SLA_KAFKA_SESSION_TIMEOUT_SECONDS", "10"))


def scratch_dir(root: Path, name: str) -> Path:
    path = root / f"{name}-{uuid.uuid4().hex[:6]}"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def _delete_topics(bootstrap: str, prefixes: list[str]) -> int:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if any(t.startswith(p) for p in prefixes)]
        if names:
            await admin.delete_topics(names)
        return len(names)
    finally:
        await admin.close()


async def _topic_totals(bootstrap: str, prefix: str) -> dict[str, int]:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.structs import TopicPartition

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        described = await admin.describe_topics(names) if names else []
    finally:
        await admin.close()
    tps = [TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"]]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps) if tps else {}
    finally:
        await consumer.stop()
    totals: dict[str, int] = {}
    for tp, end in ends.items():
        name = tp.topic.removeprefix(prefix)
        totals[name] = totals.get(name, 0) + end
    return totals


def topic_totals(bootstrap: str, prefix: str) -> dict[str, int]:
    """Records ever written to each topic of a prefix (sum of end offsets),
    by topic name without the prefix."""
    import asyncio

    return asyncio.run(_topic_totals(bootstrap, prefix))


def delete_topics(bootstrap: str, prefixes: list[str]) -> int:
    """Delete the topics a benchmark created (by prefix); returns how many."""
    import asyncio

    if not prefixes:
        return 0
    return asyncio.run(_delete_topics(bootstrap, prefixes))
