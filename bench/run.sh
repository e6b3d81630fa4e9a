#!/usr/bin/env bash
# make bench / make bench-scale: minilb (NativeAOT, snapshot mode) against Knot DNS on loopback, one table.
# Settings (environment): SERVICES, ENDPOINTS, DURATION (s per throughput run), ROUNDS, RATE (latency run QPS),
# CLIENTS, MINILB (an already built binary; skips the AOT build), MINILB_ARGS (extra `serve` arguments),
# PORT (first of the ports the servers use), P99_RUNS (instead of the table: both servers side by side, this many fixed-rate runs each, every run printed).
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=${SERVICES:-1000}
ENDPOINTS=${ENDPOINTS:-5000}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
RATE=${RATE:-10000}
CLIENTS=${CLIENTS:-8}
OUT=artifacts/bench

need() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
if ! need dnsperf || ! need knotd; then
  echo "bench: installing dnsperf and knot from Debian packages" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsperf knot >/dev/null
fi

if [ -z "${MINILB:-}" ]; then
  if grep -q '^publish:' Makefile; then
    make --no-print-directory publish
    MINILB=artifacts/publish/minilb
  else
    # Until `make publish` is in main: the same NativeAOT publish with the settings in bench/Aot.targets.
    command -v clang >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null; }
    dotnet publish Operator -c Release -r linux-x64 -p:PublishAot=true \
      -p:CustomAfterMicrosoftCommonTargets="$PWD/bench/Aot.targets" -o $OUT/publish
    MINILB=$OUT/publish/minilb
  fi
fi

DATA=$OUT/$SERVICES-$ENDPOINTS
python3 bench/generate.py --services "$SERVICES" --endpoints "$ENDPOINTS" --out "$DATA"

{
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "versions: $(dnsperf -h 2>&1 | grep -m1 Version), knotd $(knotd --version | grep -o '[0-9.]*$'), minilb $(stat -c %s "$MINILB" | awk '{printf "%.1f MiB", $1/1048576}') binary"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 bench/bench.py --minilb "$MINILB" --data "$DATA" --duration "$DURATION" --rounds "$ROUNDS" --rate "$RATE" \
    --clients "$CLIENTS" --label "at $SERVICES Services / $ENDPOINTS endpoints " --minilb-args "${MINILB_ARGS:-}" \
    --p99-runs "${P99_RUNS:-0}" --port "${PORT:-15353}"
  if [ -n "${PROPAGATION:-}" ]; then
    # Run mode against the in-process test API server (the operator in-process too, JIT build): see
    # Operator.Tests/EndToEnd/RunModeFiguresTests.cs. Category Slow keeps these out of `make test`.
    echo "run mode (operator in-process, test API server; load average $(cut -d' ' -f1-3 /proc/loadavg)):"
    MINILB_SYNC_SERVICES=$SERVICES dotnet test Operator.Tests -c Release --filter "TestCategory=RunModeFigures" \
      --logger "console;verbosity=normal" 2>&1 | grep -E "propagation over|initial sync of|created in the test API|Failed" | sed 's/^ */  /' || true
  fi
} | tee "$OUT/results-$SERVICES-$ENDPOINTS.txt"
