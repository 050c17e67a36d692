"""Run ``python -m stream worker`` as a process for tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.support.kafka import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WorkerProcess:
    def __init__(
        self,
        bootstrap: str,
        prefix: str,
        workdir: Path,
        policy: str | None = None,
        command: list[str] | None = None,
        **env: str,
    ):
        # ``command``: another way to run the worker (e.g. under a profiler)
        self.command = command or [sys.executable, "-m", "stream", "worker", "-l", "info"]
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.workdir = workdir
        self.port = free_port()
        self.policy_path = None
        if policy is not None:
            self.policy_path = workdir / "policy.toml"
            self.policy_path.write_text(policy)
        self.env = {
            **os.environ,
            "SLA_KAFKA_BOOTSTRAP": bootstrap,
            "SLA_TOPIC_PREFIX": prefix,
            "SLA_APP_ID": f"{prefix}app".replace(".", "-"),
            "SLA_DATA_DIR": str(workdir / "data"),
            "SLA_WEB_PORT": str(self.port),
            "SLA_WEB_HOST": "127.0.0.1",
            "SLA_WEB_ADVERTISED_HOST": "127.0.0.1",
            "SLA_PARTITIONS": env.pop("partitions", "4"),
            **({"SLA_POLICY_FILE": str(self.policy_path)} if self.policy_path else {}),
            **env,
        }
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def settings_env(self) -> dict[str, str]:
        return {k: v for k, v in self.env.items() if k.startswith("SLA_")}

    def create_topics(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "stream", "topics"], env=self.env, check=True, capture_output=True, cwd=ROOT
        )

    def start(self, port: int | None = None) -> WorkerProcess:
        if port is not None:
            self.port = port
            self.env["SLA_WEB_PORT"] = str(port)
        self.starts += 1
        self.log_path = self.workdir / f"worker-{self.starts}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            start_new_session=True,
        )
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url(path), timeout=5) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                status, _ = self.get("/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"worker not ready within {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 60, records_only: bool = False, width: int | None = None) -> str:
        """The log's last ``lines``; ``records_only`` skips the lines of
        Faust's tables and tracebacks (log records start with a ``[``)."""
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        if records_only:
            text = [line for line in text if line.startswith("[")]
        return "\n".join(line[:width] for line in text[-lines:])

    def metrics(self) -> dict[tuple[str, tuple], float]:
        """{(sample name, sorted label items): value}"""
        status, body = self.get("/metrics")
        assert status == 200
        out = {}
        for family in text_string_to_metric_families(body.decode()):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final commit."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        if getattr(self, "log", None):
            self.log.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"


def wait_for(predicate, timeout: float = 30, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message} (last: {last!r})")


