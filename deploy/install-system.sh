#!/usr/bin/env bash
# Installs the system packages the project needs when they are missing:
# Java 17+ and Maven (the local Kafka broker), Python venv support,
# Prometheus (promtool checks the metrics output and the alert rules),
# Alertmanager (amtool checks deploy/alertmanager/alertmanager.yml) and
# Chromium (headless browser tests of the HTML pages).
set -euo pipefail

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v promtool >/dev/null || missing+=(prometheus)
command -v amtool >/dev/null || missing+=(prometheus-alertmanager)
# Browser tests drive Debian's Chromium with Playwright (no browser download).
command -v chromium >/dev/null || missing+=(chromium)
command -v curl >/dev/null || missing+=(curl)
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)

[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
  echo "install-system: missing ${missing[*]} and no root to install them" >&2
  exit 1
fi
echo "install-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's prometheus packages start their servers as services; we only want
# their tools (promtool, amtool).
if command -v systemctl >/dev/null; then
  for service in prometheus prometheus-alertmanager; do
    if [[ " ${missing[*]} " == *" $service "* ]]; then
      "${sudo[@]}" systemctl disable --now "$service" >/dev/null 2>&1 || true
    fi
  done
fi
