"""The PromQL of the provisioned Grafana dashboards, ready to send to Prometheus.

    for query in dashboard_queries(WALLBOARD):
        promql = substitute(query.expr, range="1h")

``dashboard_queries`` walks every panel (panels inside collapsed rows too) and
yields one ``Query`` per target; ``substitute`` replaces the Grafana variables
the dashboards use, so the result is plain PromQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD_DIR = ROOT / "deploy" / "grafana" / "dashboards"
WALLBOARD = DASHBOARD_DIR / "sla-wallboard.json"
SERVICE_HEALTH = DASHBOARD_DIR / "sla-service-health.json"
DASHBOARDS = (WALLBOARD, SERVICE_HEALTH)


@dataclass(frozen=True)
class Query:
    dashboard_uid: str
    panel_title: str
    ref_id: str
    expr: str
    panel_id: int | None = None
    instant: bool = False
    time_from: str | None = None  # the panel's own relative time (e.g. "now/d"), if any

    @property
    def name(self) -> str:
        """``uid / panel title / refId``, for test ids and messages."""
        return f"{self.dashboard_uid} / {self.panel_title} / {self.ref_id}"


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])  # a collapsed row holds its panels


def dashboard_queries(path: str | Path) -> list[Query]:
    """Every target of every panel of the dashboard JSON at ``path``."""
    board = json.loads(Path(path).read_text())
    out = []
    for panel in _panels(board.get("panels") or []):
        for target in panel.get("targets") or []:
            out.append(
                Query(
                    dashboard_uid=board["uid"],
                    panel_title=panel.get("title", ""),
                    ref_id=target.get("refId", ""),
                    expr=target.get("expr", ""),
                    panel_id=panel.get("id"),
                    instant=bool(target.get("instant")),
                    time_from=panel.get("timeFrom"),
                )
            )
    return out


# $name, ${name} and ${name:format}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)")


def substitute(
    expr: str,
    team: str = ".*",
    range: str = "1h",  # noqa: A002 - Grafana's name for it
    rate_interval: str = "1m",
    interval: str = "30s",
) -> str:
    """``expr`` with the dashboards' Grafana variables replaced.

    ``team`` is a regular expression (what Grafana puts in ``=~"$team"``:
    ``.*`` for All, ``(a|b)`` for several teams); the others are PromQL
    durations. A variable not listed here raises ``KeyError``.
    """
    values = {"team": team, "__range": range, "__rate_interval": rate_interval, "__interval": interval}

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise KeyError(f"unknown Grafana variable ${name} in: {expr}")
        return values[name]

    return _VARIABLE.sub(replace, expr)
