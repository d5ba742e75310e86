#!/bin/sh
# False-failover soak (issue #5): lvskeeper pairs vs keepalived pairs (default scheduling and vrrp_rt_priority 50) at VRRPv3 0.01 s adverts, side by
# side, with both cores kept busy. Needs root, keepalived, iproute2, python3. Usage:
#   bench/vrrp-soak.sh [SECONDS]   (default 600)
set -eu
cd "$(dirname "$0")/.."
swift build -c release --product VRRPHarness >/dev/null
BIN="$(swift build -c release --show-bin-path)/VRRPHarness"
{
  echo "# bench/vrrp-soak.sh ${1:-600}  ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, kernel $(uname -r), $(keepalived --version 2>&1 | head -1))"
  echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 bench/vrrp-soak.py "$BIN" "${1:-600}"
} | tee bench/results/vrrp-soak.txt
