#!/usr/bin/env bash
# Removes what an interrupted home lab (make lab, Operator.Tests/Lab) left behind: its network namespaces
# (mlb<pid>-rtr|cli|n1..n3), the programs still running in them, and /etc/netns/<namespace>. A later lab run does
# the same for namespaces whose test process is gone; this is for doing it by hand.
set -euo pipefail
for ns in $(ip netns list | cut -d' ' -f1 | grep -E '^mlb[0-9]{1,5}-(rtr|cli|n[0-9])$' || true); do
  for pid in $(ip netns pids "$ns"); do kill -9 "$pid" 2>/dev/null || true; done
  ip netns del "$ns"
  rm -rf "/etc/netns/$ns"
  echo "removed $ns"
done
