#!/usr/bin/env bash
# The NativeAOT binary in `run` mode against the test API server (make fake-apiserver), holding the objects of the
# benchmark snapshot: time from start until every Service is served, RSS idle and after a dnsperf run.
# Settings (environment): SERVICES, ENDPOINTS (the snapshot bench/generate.py writes), MINILB (a built binary).
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=${SERVICES:-1000}
ENDPOINTS=${ENDPOINTS:-5000}
MINILB=${MINILB:-artifacts/publish/minilb}
DATA=artifacts/bench/$SERVICES-$ENDPOINTS
KUBECONFIG_FILE=artifacts/bench/run-mode.kubeconfig
PORT=${PORT:-16443}
DNS=127.0.0.1:15353
HEALTH=127.0.0.1:18080

[ -x "$MINILB" ] || make --no-print-directory publish
[ -f "$DATA/snapshot.yaml" ] || python3 bench/generate.py --services "$SERVICES" --endpoints "$ENDPOINTS" --out "$DATA"
make --no-print-directory tools >/dev/null
export PATH=$PWD/.tools/bin:$PATH
kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
status() { grep -E 'VmRSS|VmHWM' "/proc/$1/status" | awk '{printf "%s %.1f MiB  ", $1, $2/1024}'; }

make --no-print-directory fake-apiserver ARGS="--port $PORT --kubeconfig $KUBECONFIG_FILE" > artifacts/bench/run-mode-apiserver.log 2>&1 &
API=$!
MINILB_PID=
trap 'kill $API ${MINILB_PID:-} 2>/dev/null || true; pkill -f "fake-apiserver.*--port $PORT" 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do grep -q '^ready' artifacts/bench/run-mode-apiserver.log && break; sleep 1; done

kc apply -f config/crd/ >/dev/null
sleep 1
sed "s/listen: .*/listen: $DNS/" config/samples/minilb_v1alpha1_minilbconfig.yaml | kc apply -f - >/dev/null
grep -o 'namespace: [a-z0-9-]*' "$DATA/snapshot.yaml" | sort -u | awk '{print "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" $2 "\"}}"}' | kc create -f - >/dev/null
kc create -f "$DATA/snapshot.yaml" >/dev/null

start=$(date +%s.%N)
"$MINILB" run --kubeconfig "$KUBECONFIG_FILE" --health-listen "$HEALTH" --log-level Warning > artifacts/bench/run-mode-minilb.log 2>&1 &
MINILB_PID=$!
served=0
for _ in $(seq 1 1200); do
  served=$( { curl -s "http://$HEALTH/metrics" || true; } | awk '/^minilb_served_services / {print $2}')
  [ "${served:-0}" = "$SERVICES" ] && break
  sleep 0.05
done
echo "run mode, $SERVICES Services / $ENDPOINTS endpoints in the test API server (load average $(cut -d' ' -f1-3 /proc/loadavg)):"
echo "  start → all $served Services served: $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.2f') s"
sleep 2
echo "  idle:       $(status $MINILB_PID)"
dnsperf -s "${DNS%:*}" -p "${DNS#*:}" -d "$DATA/queries.txt" -c 8 -T 1 -q 500 -l 8 2>&1 | awk '/Queries per second/ {printf "  dnsperf:    %.0f QPS\n", $4}'
sleep 0.5
echo "  after load: $(status $MINILB_PID)"
curl -s "http://$HEALTH/metrics" | awk '/^dotnet_gc_(last_collection_heap_size|committed_memory)_bytes/ {printf "  %s %.1f MB\n", $1, $2/1e6}'
