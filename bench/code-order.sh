#!/usr/bin/env bash
# Regenerates Operator/code-order.txt, the order in which ILC lays out the binary's methods: what `run` uses while
# serving first, then what start-up uses, then the rest (docs/building.md, "Methods in the order they are used").
# Each round publishes the binary with the current order, runs `bench/run-mode.sh` on it (start-up, 30 s idle, an
# EndpointSlice churn, a dnsperf run: 1,000 Services) with every page fault of the process recorded (perf, one sample
# per fault), and writes a new order from the faults; later rounds tell apart the methods that share a page.
# Needs root and perf. For the profile the disk holding the binary reads no ahead (read_ahead_kb 0, put back on exit),
# the binary's unmapped pages are dropped from the page cache every 0.1 s, and its code is paged out every 50 ms:
# every use of a page then faults by itself, again and again, and the faults name the methods used.
# The profiled run is slow (~10 ms of CPU per change instead of 2); its figures are not the bench's.
# Settings: ROUNDS (4), WORK (artifacts/code-order), FROM (1; a later round resumes with the profiles already in WORK).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-4}
WORK=${WORK:-artifacts/code-order}
[ "$(id -u)" = 0 ] || { echo "code-order: needs root (read_ahead_kb, perf -a)" >&2; exit 1; }
command -v perf >/dev/null || { echo "code-order: needs perf (apt-get install linux-perf)" >&2; exit 1; }
FROM=${FROM:-1}
mkdir -p "$WORK"
[ "$FROM" = 1 ] && rm -rf "${WORK:?}"/p* "${WORK:?}"/b* "${WORK:?}"/order-*

# The disk that holds the build output: its read-ahead decides how much a fault reads around it.
mkdir -p artifacts
disk=$(lsblk -no pkname "$(findmnt -no SOURCE -T artifacts)" 2>/dev/null | head -1 || true)
[ -n "$disk" ] || disk=$(basename "$(findmnt -no SOURCE -T artifacts)")
RA=/sys/block/$disk/queue/read_ahead_kb
if [ -w "$RA" ]; then
  old_ra=$(cat "$RA")
  trap 'echo "$old_ra" > "$RA"' EXIT
else
  echo "code-order: cannot set $RA; the profile is coarser (faults read ahead and map 64 KiB)" >&2
  RA=
fi

order=$PWD/Operator/code-order.txt
profiles=()
for k in $(seq 1 $((FROM - 1))); do profiles+=("$WORK/p$k"); order=$PWD/$WORK/order-$k.txt; done
for k in $(seq "$FROM" "$ROUNDS"); do
  b=$WORK/b$k p=$WORK/p$k
  mkdir -p "$p"
  # Round 1 lays out by the committed order, if there is one (Operator.csproj); each later round by the one before.
  with=(); [ "$k" -gt 1 ] && with=(-p:IlcOrderFile="$order")
  echo "round $k: publishing with $( [ -f "$order" ] && basename "$order" || echo "ILC's own order")"
  dotnet publish Operator -c Release -r linux-x64 -p:PublishAot=true "${with[@]}" -o "$b" > "$b.log" 2>&1 \
    || { tail -20 "$b.log"; exit 1; }
  nm -n -S --defined-only "$b/minilb.dbg" > "$p/syms.txt"
  [ -n "$RA" ] && echo 0 > "$RA"
  python3 bench/code_order.py droploop "$b/minilb" &
  drop=$!
  python3 bench/code_order.py pageoutloop minilb 0.05 &
  pageout=$!
  perf record -q -c 1 -e page-faults -d -e syscalls:sys_enter_madvise -a -o "$p/perf.data" > /dev/null 2>&1 &
  rec=$!
  sleep 1
  MINILB=$b/minilb bash bench/run-mode.sh > "$p/run-mode.txt" 2>&1
  kill -INT $rec; wait $rec || true
  kill $drop $pageout 2>/dev/null || true; wait $drop $pageout 2>/dev/null || true
  [ -n "$RA" ] && echo "$old_ra" > "$RA"
  pid=$(perf script -i "$p/perf.data" -F comm,pid 2>/dev/null | awk '$1 == "minilb" && !pid {pid = $2} END {print pid}')
  perf script -i "$p/perf.data" -F sw:pid,tid,time,addr -F trace:pid,tid,time,trace 2>/dev/null \
    | awk -v p="^$pid/" '$1 ~ p' > "$p/events.txt"
  grep -v behavior "$p/events.txt" | awk '{sub(":", "", $2); print $2, $3}' > "$p/faults.txt"
  rm -f "$p/perf.data"
  # start-up's last page-out (MADV_PAGEOUT, 0x15) in its first 20 s: after it, what faults is serving's
  t0=$(head -1 "$p/faults.txt" | cut -d' ' -f1)
  { grep 'behavior: 0x00000015' "$p/events.txt" || true; } | awk -v t0="$t0" '{sub(":", "", $2); if ($2 - t0 < 20) b = $2 - t0} END {print b + 0.001}' > "$p/boundary"
  echo "  $(wc -l < "$p/faults.txt") page faults; start-up's last page-out at $(cat "$p/boundary") s"
  profiles+=("$p")
  python3 bench/code_order.py order "$WORK/order-$k.txt" "${profiles[@]}"
  order=$PWD/$WORK/order-$k.txt
done
{
  echo "# The order of minilb's methods in the NativeAOT binary (IlcOrderFile), written by bench/code-order.sh"
  echo "# ($ROUNDS rounds, $(date -u +%Y-%m-%d)): what serving uses, then what start-up uses. Lines that name no method are"
  echo "# ignored by ILC; methods not listed follow in ILC's own order. docs/building.md, \"Methods in the order they are used\"."
  cat "$order"
} > Operator/code-order.txt
echo "Operator/code-order.txt: $(grep -vc '^#' Operator/code-order.txt) methods"
