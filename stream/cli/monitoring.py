"""A local Prometheus for ``dev`` and the tests: the project's own
``deploy/prometheus`` configuration and rules, with the workers it scrapes
given as addresses instead of found through docker compose's DNS."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
WORKER_JOB = "sla-worker"


def prometheus_config(targets: list[str], interval: str | None = None, alertmanager: str | None = None) -> dict:
    """``deploy/prometheus/prometheus.yml`` with the worker job's service
    discovery replaced by ``targets``, rule files made absolute, alerts sent to
    ``alertmanager`` (host:port) or nowhere, and, when ``interval`` is given,
    every scrape and evaluation interval set to it."""
    config = yaml.safe_load(CONFIG.read_text())
    if interval is not None:
        config.setdefault("global", {}).update(scrape_interval=interval, evaluation_interval=interval)
    for job in config["scrape_configs"]:
        if interval is not None:
            job.pop("scrape_interval", None)
        if job["job_name"] == WORKER_JOB:
            for key in [k for k in job if k.endswith("_sd_configs")]:
                del job[key]
            job["static_configs"] = [{"targets": list(targets)}]
    config["rule_files"] = [str((CONFIG.parent / f).resolve()) for f in config.get("rule_files", [])]
    config.pop("alerting", None)
    if alertmanager:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    return config


class LocalPrometheus:
    """Debian's ``prometheus`` binary (installed by ``make install``) on loopback."""

    def __init__(self, workdir: Path, config: dict, port: int, binary: str | None = None) -> None:
        self.binary = binary or shutil.which("prometheus")
        self.workdir = workdir
        self.config = config
        self.port = port
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log) -> LocalPrometheus:
        if self.binary is None:
            raise FileNotFoundError("prometheus is not installed (make install, or apt-get install prometheus)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config_path}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError("prometheus exited")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
