"""Where the tests find the deploy tools: Debian's promtool and amtool on
PATH, and the Prometheus 3.x promtool that `make install` builds."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
ALERTMANAGER_DIR = ROOT / "deploy" / "alertmanager"
# Must match deploy/prometheus/promtool.sh.
PROMTOOL_3_VERSION = "3.7.3"


def promtool3() -> Path:
    """The promtool built from Prometheus 3.x (the version docker-compose.yml runs)."""
    return ROOT / ".tools" / f"prometheus-{PROMTOOL_3_VERSION}" / "promtool"


def on_path(name: str) -> str | None:
    return shutil.which(name)
