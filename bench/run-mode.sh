#!/usr/bin/env bash
# The NativeAOT binary in `run` mode against the test API server (make fake-apiserver) holding a cluster shaped like
# a real one (bench/cluster.py: kubelet-written Nodes, helm-labelled Services of which one in five is served,
# EndpointSlices as the endpoint-slice controller writes them). Prints: time until every served Service is served,
# RSS idle / after load / peak (VmHWM), idle CPU over IDLE_SECONDS, CPU per EndpointSlice change at CHURN_RATE
# changes/s, RSS after a dnsperf run, where the memory is (smaps_rollup, GC gauges).
# Settings (environment): SERVICES (1000; 10000 is the scale run), NODES (50 / 200), MINILB (a built binary),
# DNS, HEALTH, PORT (listen addresses), MINILB_ARGS (extra `run` arguments, e.g. --leader-election false),
# SETTLE_SECONDS (5; 30 above 1,000 Services), IDLE_SECONDS (30), CHURN_RATE (5), CHURN_SECONDS (30), CHURN_QPS (0: no queries during the churn; e.g. 2000),
# LIVENESS (true; false turns node liveness off in the MiniLbConfig, to tell its probes of every node each second from the rest),
# HTTPS (true: the test API server serves TLS and HTTP/2, as kube-apiserver always does, so minilb runs its TLS and
# HTTP/2 code and OpenSSL as in a cluster; false: plain HTTP/1.1, the figures of the sessions before the tenth),
# KUBELETS (true: bench/kubelets.py listens on port 10250 of every Node's InternalIP, as kubelets do; false: probes are refused),
# AFTER_LOAD (a shell command run after the load with MINILB_PID set, e.g. dotnet-dump collect),
# PROFILE (idle or churn: that phase runs under `perf record -g`, its CPU figure then includes perf's own cost, and the
# hottest symbols are printed; PROFILE_HZ samples a second, 999; the data stays in artifacts/bench/perf-<phase>.data for `perf report`).
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=${SERVICES:-1000}
NODES=${NODES:-0}
MINILB=${MINILB:-artifacts/publish/minilb}
IDLE_SECONDS=${IDLE_SECONDS:-30}
# After every Service is answered, the leader still writes 1 in 5 Services' status and events; idle starts after that.
SETTLE_SECONDS=${SETTLE_SECONDS:-$(( SERVICES > 1000 ? 30 : 5 ))}
CHURN_RATE=${CHURN_RATE:-5}
CHURN_SECONDS=${CHURN_SECONDS:-30}
CHURN_QPS=${CHURN_QPS:-0}
LIVENESS=${LIVENESS:-true}
KUBELETS=${KUBELETS:-true}
HTTPS=${HTTPS:-true}
DATA=artifacts/bench/run-mode-$SERVICES-$NODES
KUBECONFIG_FILE=artifacts/bench/run-mode.kubeconfig
PORT=${PORT:-16443}
DNS=${DNS:-127.0.0.1:15353}
HEALTH=${HEALTH:-127.0.0.1:18080}

if ! command -v dnsperf >/dev/null; then
  echo "bench: installing dnsperf from Debian packages" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dnsperf >/dev/null
fi
[ -x "$MINILB" ] || make --no-print-directory publish
[ "$DATA/churn.json" -nt bench/cluster.py ] || python3 bench/cluster.py --services "$SERVICES" --nodes "$NODES" --out "$DATA"
SERVED=$(cat "$DATA/served")
make --no-print-directory tools >/dev/null
export PATH=$PWD/.tools/bin:$PATH
kc() { kubectl --kubeconfig "$KUBECONFIG_FILE" "$@"; }
status() { grep -E 'VmRSS|VmHWM' "/proc/$1/status" | awk '{printf "%s %.1f MiB  ", $1, $2/1024}'; }
# user+system CPU of a process in clock ticks
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# CPU of minilb in microseconds: from its own cpuacct cgroup (v1) or cpu.stat (v2) where the script may make one
# (root), which counts every thread to the nanosecond, exited ones included; else from its ticks (10 ms each, so 30 s
# of idle can only read 0, 0.33, 0.67, 1.0 ... millicores).
CPU_GROUP=
cpu_group() {
  local dir
  for dir in /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup; do
    [ -w "$dir" ] || continue
    [ -e "$dir/cpuacct.usage" ] || { [ -e "$dir/cgroup.controllers" ] && grep -qw cpu "$dir/cgroup.controllers"; } || continue
    mkdir -p "$dir/minilb-bench-$$" 2>/dev/null && echo "$1" > "$dir/minilb-bench-$$/cgroup.procs" 2>/dev/null \
      && { CPU_GROUP=$dir/minilb-bench-$$; return; }
    rmdir "$dir/minilb-bench-$$" 2>/dev/null || true
  done
}
cpu_us() {
  if [ -e "$CPU_GROUP/cpuacct.usage" ]; then echo $(( $(cat "$CPU_GROUP/cpuacct.usage") / 1000 ))
  elif [ -n "$CPU_GROUP" ]; then awk '/^usage_usec/ {print $2}' "$CPU_GROUP/cpu.stat"
  else echo $(( $(ticks "$1") * 1000000 / HZ )); fi
}
majflt() { awk '{print $12}' "/proc/$1/stat"; } # page faults that read from disk (the binary's pages handed back)
HZ=$(getconf CLK_TCK)
# Sleeps $2 seconds and prints how often process $1 was switched in meanwhile (threads that exit included): its wakeups.
count_wakeups() {
  if command -v perf >/dev/null; then
    perf stat -x, -e context-switches -p "$1" -- sleep "$2" 2>&1 >/dev/null | awk -F, '/context-switches/ {print $1}'
  else
    sleep "$2"; echo 0
  fi
}
# PROFILE=<phase>: perf samples the process during that phase
PROFILE=${PROFILE:-}
profile_start() {
  [ "$PROFILE" = "$1" ] || return 0
  perf record -q -g -F "${PROFILE_HZ:-999}" -p "$MINILB_PID" -o "artifacts/bench/perf-$1.data" > /dev/null 2>&1 &
  PERF_PID=$!
}
profile_stop() {
  [ "$PROFILE" = "$1" ] || return 0
  kill -INT "$PERF_PID"; wait "$PERF_PID" 2>/dev/null || true
  echo "  perf ($1), hottest symbols with their callees (artifacts/bench/perf-$1.data):"
  perf report -i "artifacts/bench/perf-$1.data" --children --no-demangle --stdio --sort symbol 2>/dev/null \
    | grep -E '^ +[0-9]' | head -40 | sed 's/^/    /'
}

mkdir -p artifacts/bench
# In its own session, so that stopping its process group stops `dotnet run` and the server it started.
# A bookmark per watch a minute, as kube-apiserver sends them (the test server's default of 5 s wakes minilb 12 times as often).
setsid make --no-print-directory fake-apiserver ARGS="--port $PORT --kubeconfig $KUBECONFIG_FILE --bookmark-seconds 60$( [ "$HTTPS" = true ] && echo " --https")" > artifacts/bench/run-mode-apiserver.log 2>&1 &
API=$!
MINILB_PID=
PERF_PID=
KUBELETS_PID=
# minilb stops gracefully (a lame-duck pause of a few seconds): waited for, so that no run outlives the script and holds its ports.
stop_all() {
  [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null || true
  kill ${MINILB_PID:-} ${KUBELETS_PID:-} 2>/dev/null || true
  for _ in $(seq 1 150); do [ -n "${MINILB_PID:-}" ] && kill -0 "$MINILB_PID" 2>/dev/null || break; sleep 0.1; done
  [ -n "${MINILB_PID:-}" ] && kill -9 "$MINILB_PID" 2>/dev/null || true
  kill -- -$API 2>/dev/null || true
  [ -n "$CPU_GROUP" ] && rmdir "$CPU_GROUP" 2>/dev/null || true
}
trap stop_all EXIT
for _ in $(seq 1 300); do grep -q '^ready' artifacts/bench/run-mode-apiserver.log && break; sleep 1; done
API_URL=$(awk '/server:/ {print $2; exit}' "$KUBECONFIG_FILE")

kc apply -f config/crd/ >/dev/null
sleep 1
sed -e "s/listen: .*/listen: $DNS/" -e "/nodeLiveness:/,/failures:/ s/enabled: true/enabled: $LIVENESS/" config/samples/minilb_v1alpha1_minilbconfig.yaml | kc apply -f - >/dev/null
for kind in namespaces nodes services endpointslices; do kc create -f "$DATA/$kind.json" >/dev/null; done

if [ "$KUBELETS" = true ]; then
  python3 bench/kubelets.py "$DATA/nodes.json" > artifacts/bench/run-mode-kubelets.log 2>&1 &
  KUBELETS_PID=$!
fi
start=$(date +%s.%N)
"$MINILB" run --kubeconfig "$KUBECONFIG_FILE" --health-listen "$HEALTH" --log-level Warning ${MINILB_ARGS:-} > artifacts/bench/run-mode-minilb.log 2>&1 &
MINILB_PID=$!
cpu_group $MINILB_PID
served=0
for _ in $(seq 1 2400); do
  served=$( { curl -s "http://$HEALTH/metrics" || true; } | awk '/^minilb_served_services / {print $2}')
  [ "${served:-0}" = "$SERVED" ] && break
  sleep 0.05
done
echo "run mode, $SERVICES Services ($SERVED served) × 5 endpoints, $(jq '.items | length' "$DATA/nodes.json" 2>/dev/null || echo "$NODES") Nodes in the test API server; $(stat -c %s "$MINILB" | awk '{printf "%.1f MiB", $1/1048576}') binary; node liveness $( [ "$LIVENESS" = true ] && echo on || echo off), kubelets $( [ "$KUBELETS" = true ] && echo listening || echo absent); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  start → all $served served Services answered: $(echo "$(date +%s.%N) - $start" | bc | xargs printf '%.2f') s"
sleep "$SETTLE_SECONDS"
echo "  idle:        $(status $MINILB_PID)"
profile_start idle
before=$(cpu_us $MINILB_PID); faults_before=$(majflt $MINILB_PID); woke=$(count_wakeups $MINILB_PID "$IDLE_SECONDS"); after=$(cpu_us $MINILB_PID); faults_after=$(majflt $MINILB_PID)
IDLE_MC=$(echo "($after - $before) / 1000 / $IDLE_SECONDS" | bc -l)
echo "  idle CPU:    $(printf '%.2f' "$IDLE_MC") millicores over $IDLE_SECONDS s ($( [ -n "$CPU_GROUP" ] && echo "cgroup CPU time" || echo "10 ms ticks")), $(echo "$woke / $IDLE_SECONDS" | bc -l | xargs printf '%.1f') thread wakeups/s (switches: sleeps, page-fault reads, yields), $((faults_after - faults_before)) major page faults"
profile_stop idle

if [ "$CHURN_QPS" != 0 ]; then
  dnsperf -s "${DNS%:*}" -p "${DNS#*:}" -d "$DATA/queries.txt" -c 4 -T 1 -Q "$CHURN_QPS" -l "$CHURN_SECONDS" > artifacts/bench/run-mode-churn-dnsperf.txt 2>&1 &
  PERF=$!
fi
profile_start churn
before=$(cpu_us $MINILB_PID); faults_before=$(majflt $MINILB_PID)
count_wakeups $MINILB_PID "$CHURN_SECONDS" > artifacts/bench/run-mode-churn-wakeups.txt &
WAKEUPS=$!
changes=$(python3 bench/churn.py "$API_URL" "$DATA/churn.json" "$CHURN_RATE" "$CHURN_SECONDS")
after=$(cpu_us $MINILB_PID); faults_after=$(majflt $MINILB_PID)
wait $WAKEUPS || true
churn_woke=$(cat artifacts/bench/run-mode-churn-wakeups.txt)
echo "  churn:       $changes EndpointSlice changes at $CHURN_RATE/s$( [ "$CHURN_QPS" != 0 ] && echo " with $CHURN_QPS queries/s"): $(echo "($after - $before) / 1000 / $CHURN_SECONDS" | bc -l | xargs printf '%.1f') millicores, $(echo "($after - $before) / 1000 / $changes" | bc -l | xargs printf '%.2f') ms CPU per change (queries included), $(echo "(($after - $before) / 1000 - $IDLE_MC * $CHURN_SECONDS) / $changes" | bc -l | xargs printf '%.2f') ms above the idle CPU, $((faults_after - faults_before)) major page faults, $(echo "${churn_woke:-0} / $changes" | bc -l | xargs printf '%.1f') thread wakeups per change"
profile_stop churn
if [ "$CHURN_QPS" != 0 ]; then
  wait $PERF || true
  awk '/Queries per second|Average Latency/ {print "               " $0}' artifacts/bench/run-mode-churn-dnsperf.txt
fi
echo "  after churn: $(status $MINILB_PID)"
dnsperf -s "${DNS%:*}" -p "${DNS#*:}" -d "$DATA/queries.txt" -c 8 -T 1 -q 500 -l 8 2>&1 | awk '/Queries per second/ {printf "  dnsperf:     %.0f QPS (half NXDOMAIN)\n", $4}'
sleep 0.5
echo "  after load:  $(status $MINILB_PID)"
awk '/^(Rss|Anonymous|Private_Clean|Shared_Clean|Private_Dirty):/ {printf "%s %.1f MiB  ", $1, $2/1024}' "/proc/$MINILB_PID/smaps_rollup" | sed 's/^/  smaps:       /'; echo
curl -s "http://$HEALTH/metrics" | awk '/^dotnet_gc_(last_collection_heap_size|committed_memory)_bytes|^dotnet_gc_pause_seconds_total|^process_num_threads/ {printf "  %s %.1f %s\n", $1, ($1 ~ /threads/ ? $2 : $1 ~ /seconds/ ? $2*1000 : $2/1e6), ($1 ~ /threads/ ? "" : $1 ~ /seconds/ ? "ms" : "MB")}'
# After a quiet interval minilb hands back what the burst grew (Operator/IdleTrim.cs, checked every 5 s).
sleep 12
echo "  12 s later:  $(status $MINILB_PID) $(curl -s "http://$HEALTH/metrics" | awk '/^dotnet_gc_committed_memory_bytes/ {printf "GC committed %.1f MB, ", $2/1e6} /^dotnet_gc_pause_seconds_total/ {printf "GC pauses %.1f ms in all", $2*1000}')"
# AFTER_LOAD: a command run now with MINILB_PID set, e.g. a heap dump of a JIT build (docs/benchmarks.md, "Where the heap goes")
if [ -n "${AFTER_LOAD:-}" ]; then MINILB_PID=$MINILB_PID bash -c "$AFTER_LOAD"; fi
