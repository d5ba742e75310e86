#!/bin/sh
# Failover benchmark: lvskeeper pair vs keepalived pair in network namespaces (needs root,
# keepalived, iproute2, python3). Usage:
#   bench/vrrp-failover.sh [default=N] [v2-1.0=N] [v3-0.1=N] [v3-0.01=N]
set -eu
cd "$(dirname "$0")/.."
swift build -c release --product VRRPHarness >/dev/null
BIN="$(swift build -c release --show-bin-path)/VRRPHarness"
python3 bench/vrrp-failover.py "$BIN" "$@" | tee bench/results/vrrp-failover.txt
