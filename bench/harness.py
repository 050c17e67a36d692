"""Broker and worker processes for the benchmarks (built on tests/support)."""

from __future__ import annotations

import os
import re
import sys
import threading
import time
import uuid

import orjson
from pathlib import Path

from bench.common import (
    IDLE_QUIET,
    IDLE_THRESHOLD,
    IDLE_WINDOW,
    ROOT,
    cpu_seconds,
    events_total,
    idle_end,
    parse_metrics,
    rss_kib,
)
from tests.support.kafka import start_broker, stop_broker
from tests.support.worker import WorkerProcess

__all__ = [
    "start_broker",
    "stop_broker",
    "Worker",
    "Sampler",
    "BenchError",
    "unique_prefix",
    "policy_toml",
    "delete_topics",
    "floor_command",
]


class BenchError(RuntimeError):
    """A section could not measure what it should (the message says why and what to change)."""


def floor_command() -> list[str]:
    """The framework floor (bench/floor.py) run like the worker; needs
    ``PYTHONPATH`` = the repository root (the process runs in its workdir)."""
    return [sys.executable, "-m", "bench.floor", "worker", "-l", "info"]


def floor_worker(bootstrap: str, workdir: Path, policy: str, prefix: str, app_id: str) -> "Worker":
    """The floor as a ``Worker``: same ``SLA_*`` settings and topics as the
    worker of ``prefix``, its own consumer group ``app_id``."""
    return Worker(
        bootstrap, workdir, policy, prefix, command=floor_command(), SLA_APP_ID=app_id, PYTHONPATH=str(ROOT)
    )


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

    def wait_idle(self, quiet: float = IDLE_QUIET, timeout: float = 900) -> float:
        """Wait until the worker is idle (see ``bench.common``: no 0.5 s window
        above 10 % of a core for ``quiet`` seconds); returns the seconds from
        now until its last busy moment."""
        t0 = time.perf_counter()
        with Sampler(self, interval=0.1) as sampler:
            end = sampler.wait_idle(t0, quiet=quiet, timeout=timeout)
        return end - t0

    @property
    def session_timeout(self) -> float:
        return float(self.env.get("SLA_KAFKA_SESSION_TIMEOUT_SECONDS", "10"))

    def lag(self) -> dict[str, float]:
        """``sla_consumer_lag_records`` by topic (nonzero ones), for error messages."""
        try:
            m = self.scrape()
        except (OSError, RuntimeError):
            return {}
        return {dict(k[1]).get("topic", "?"): v for k, v in m.items() if k[0] == "sla_consumer_lag_records" and v}

    def counted(self) -> float:
        """``sla_events_total`` over ok/duplicate/invalid (one /metrics scrape)."""
        return events_total(self.scrape())

    def wait_counted(
        self, n: int, timeout: float, poll: float = 1.0, log=None, every: float = 30.0, stall: float = 300.0
    ) -> tuple[float, list[tuple[float, float]]]:
        """Poll /metrics until ``sla_events_total`` reaches ``n``; returns the
        moment it did (``time.perf_counter()``, interpolated between the last
        two polls) and the polls as (perf_counter, count). Raises when the
        count stands still for ``stall`` seconds or ``timeout`` passes."""
        t0 = last_log = last_change = time.perf_counter()
        polls = [(t0, self.counted())]
        while polls[-1][1] < n:
            if self.proc is not None and self.proc.poll() is not None:
                raise BenchError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            now = time.perf_counter()
            if now - t0 > timeout or now - last_change > stall:
                lag = self.lag()
                why = f"in {timeout:.0f} s" if now - t0 > timeout else f"and then nothing more for {stall:.0f} s"
                raise BenchError(
                    f"the worker counted {polls[-1][1]:,.0f} of {n:,} events {why} (its "
                    f"sla_consumer_lag_records: {lag}); log {self.log_path}:\n{self.tail(20)}"
                )
            time.sleep(poll)
            polls.append((time.perf_counter(), self.counted()))
            if polls[-1][1] != polls[-2][1]:
                last_change = polls[-1][0]
            if log and time.perf_counter() - last_log >= every:
                log(f"    {polls[-1][1]:,.0f} of {n:,} counted")
                last_log = time.perf_counter()
        if len(polls) == 1:
            return polls[0][0], polls
        (t_prev, c_prev), (t_cur, c_cur) = polls[-2], polls[-1]
        reached = t_prev + (t_cur - t_prev) * (n - c_prev) / (c_cur - c_prev) if c_cur > c_prev else t_cur
        return reached, polls

    def log_count(self, pattern: str, starts: list[int] | None = None) -> int:
        """Lines of the worker's logs (every start, or ``starts``) matching ``pattern``."""
        total = 0
        for i in starts or range(1, self.starts + 1):
            path = self.workdir / f"worker-{i}.log"
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            total += len(re.findall(pattern, text))
        return total


class Sampler:
    """Samples a worker's CPU time and RSS every ``interval`` seconds in a
    thread, from /proc, at no cost to the worker: (perf_counter, pid, CPU
    seconds, RSS MiB). Follows the worker across restarts (the pid changes)."""

    def __init__(self, worker: Worker, interval: float = 0.1) -> None:
        self.worker = worker
        self.interval = interval
        self.samples: list[tuple[float, int, float, float]] = []
        self.timed_out = False  # the last wait_idle gave up
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="bench-sampler")

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> Sampler:
        return self.__enter__()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def sample(self) -> None:
        proc = self.worker.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            cpu = cpu_seconds(proc.pid)
            rss = rss_kib(proc.pid) / 1024
        except (OSError, ValueError, IndexError):
            return
        self.samples.append((time.perf_counter(), proc.pid, cpu, rss))

    def cpu_series(self, since: float = float("-inf")) -> list[tuple[float, float]]:
        """(time, CPU seconds) of the current process, from ``since`` on."""
        pid = self.worker.proc.pid if self.worker.proc is not None else None
        return [(t, c) for t, p, c, _ in list(self.samples) if p == pid and t >= since]

    def cpu_at(self, t: float) -> float:
        """CPU seconds of the current process at the first sample at or after ``t``."""
        series = self.cpu_series()
        for ts, c in series:
            if ts >= t:
                return c
        return series[-1][1] if series else float("nan")

    def peak_rss(self, start: float = float("-inf"), end: float = float("inf")) -> float:
        values = [r for t, _, _, r in list(self.samples) if start <= t <= end]
        return max(values) if values else float("nan")

    def last_rss(self) -> float:
        return self.samples[-1][3] if self.samples else float("nan")

    def rss_series(self, start: float = float("-inf"), end: float = float("inf")) -> list[tuple[float, float]]:
        return [(t, r) for t, _, _, r in list(self.samples) if start <= t <= end]

    def wait_idle(
        self,
        since: float,
        quiet: float = IDLE_QUIET,
        window: float = IDLE_WINDOW,
        threshold: float = IDLE_THRESHOLD,
        timeout: float = 900,
        strict: bool = False,
    ) -> float:
        """Block until the worker has been idle for ``quiet`` seconds; returns
        when its trailing work after ``since`` ended (``perf_counter``): the
        last moment its CPU use over a ``window`` was above ``threshold`` of
        a core, or ``since`` when there was none. After ``timeout`` seconds
        the last busy moment so far is returned and ``timed_out`` is set (the
        worker never settled), or, with ``strict``, BenchError is raised."""
        t0 = time.perf_counter()
        self.timed_out = False
        while True:
            if self.worker.proc is not None and self.worker.proc.poll() is not None:
                raise BenchError(f"worker exited with {self.worker.proc.returncode}:\n{self.worker.tail()}")
            series = self.cpu_series(since - window - self.interval)
            end = idle_end(series, since, quiet, window, threshold)
            if end is not None:
                return end
            if time.perf_counter() - t0 > timeout:
                self.timed_out = True
                if strict:
                    raise BenchError(f"the worker was not idle (< {threshold:.0%} of a core) within {timeout:.0f} s")
                from bench.common import last_busy

                return last_busy(series, since, window, threshold) or since
            time.sleep(max(self.interval, 0.1))


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
