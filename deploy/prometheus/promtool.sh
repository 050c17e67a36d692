#!/usr/bin/env bash
# Builds promtool from Prometheus 3.7.3 (the version docker-compose.yml runs)
# into .tools/prometheus-3.7.3/promtool, once. Debian ships promtool 2.42;
# the rules are checked and unit-tested with both. Prints the binary's path
# on the last line.
set -euo pipefail

PROM_VERSION=3.7.3
# Prometheus 3.x tags its Go module as v0.3MM.P: 3.7.3 is v0.307.3.
MODULE=github.com/prometheus/prometheus
MODULE_VERSION=v0.307.3

root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/.tools/prometheus-$PROM_VERSION/promtool
scratch=$root/.tools/build/promtool-$PROM_VERSION

if [[ -x $out ]]; then
  echo "$out"
  exit 0
fi

fail() { echo "promtool.sh: $*" >&2; exit 1; }

command -v go >/dev/null ||
  fail "go is not installed (needed to build promtool $PROM_VERSION); install Go from https://go.dev/dl/ and re-run"

# Never let go fetch a newer toolchain behind our back: an old go is an error
# the user should see, not a silent download.
export GOTOOLCHAIN=local
export GOFLAGS=-mod=mod

have=$(go env GOVERSION 2>/dev/null || true)
have=${have#go}
[[ $have =~ ^[0-9]+\.[0-9]+ ]] || fail "cannot tell the version of $(command -v go); Go 1.16+ is required to even ask"

# The minimum comes from the module's own go.mod, so it stays right if the pin moves.
gomod=$(go mod download -json "$MODULE@$MODULE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' || true)
[[ -f $gomod ]] || fail "could not download $MODULE@$MODULE_VERSION (is the Go module proxy reachable?)"
need=$(sed -n 's/^go \([0-9][0-9.]*\).*/\1/p' "$gomod")
if [[ $(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1) != "$need" ]]; then
  fail "go $have is too old: $MODULE@$MODULE_VERSION needs go $need or newer"
fi

echo "promtool.sh: building promtool $PROM_VERSION with go $have (a few minutes the first time)" >&2
rm -rf "$scratch"
mkdir -p "$scratch" "$(dirname "$out")"
cd "$scratch"
go mod init promtool-build >/dev/null 2>&1
# `go get` lists every dependency it adds: keep that in a log, show it on failure.
go get "$MODULE/cmd/promtool@$MODULE_VERSION" >get.log 2>&1 ||
  { cat get.log >&2; fail "go get $MODULE/cmd/promtool@$MODULE_VERSION failed (log: $scratch/get.log)"; }
# -X sets what `promtool --version` reports; a plain go build leaves it empty.
go build -trimpath \
  -ldflags="-s -w -X github.com/prometheus/common/version.Version=$PROM_VERSION" \
  -o "$out.tmp" "$MODULE/cmd/promtool"
mv "$out.tmp" "$out"
echo "$out"
