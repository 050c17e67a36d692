"""A real Prometheus (Debian's package) for tests, on the project's own
configuration and rules (``stream.cli.monitoring``), queried over its HTTP API."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from stream.cli.monitoring import LocalPrometheus, prometheus_config
from tests.support.worker import free_port


class PrometheusProcess(LocalPrometheus):
    def __init__(self, workdir: Path, targets: list[str], interval: str = "1s", alertmanager: str | None = None):
        super().__init__(workdir, prometheus_config(targets, interval, alertmanager), free_port())
        assert self.binary, "prometheus is installed by `make install` (Debian package prometheus)"

    def start(self) -> PrometheusProcess:
        self.log_path = self.workdir / "prometheus.log"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")
        super().start(self.log)
        try:
            self.wait_ready()
        except RuntimeError as exc:
            raise AssertionError(f"{exc}:\n{self.tail()}") from None
        return self

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def api(self, path: str, **params: str) -> dict:
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def query(self, expr: str) -> list[dict]:
        """The result of an instant query; AssertionError naming the query when
        Prometheus refuses it."""
        body = self.api("query", query=expr)
        assert body.get("status") == "success", f"{expr!r}: {body.get('errorType')}: {body.get('error')}"
        data = body["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    def values(self, expr: str, *labels: str) -> dict[tuple, float]:
        """{label values: sample value} of an instant query."""
        return {tuple(r["metric"].get(k, "") for k in labels): float(r["value"][1]) for r in self.query(expr)}

    def rules(self) -> list[dict]:
        """Every rule Prometheus loaded, with its group."""
        body = self.api("rules")
        assert body["status"] == "success", body
        return [{**rule, "group": group["name"]} for group in body["data"]["groups"] for rule in group["rules"]]

    def stop(self) -> None:
        super().stop()
        if getattr(self, "log", None):
            self.log.close()
