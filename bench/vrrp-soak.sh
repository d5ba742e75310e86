#!/bin/sh
# False-failover soak (issue #5): lvskeeper pair vs keepalived pair at VRRPv3 0.01 s adverts, side by
# side, with both cores kept busy. Needs root, keepalived, iproute2, python3. Usage:
#   bench/vrrp-soak.sh [SECONDS]   (default 600)
set -eu
cd "$(dirname "$0")/.."
swift build -c release --product VRRPHarness >/dev/null
BIN="$(swift build -c release --show-bin-path)/VRRPHarness"
python3 bench/vrrp-soak.py "$BIN" "${1:-600}" | tee bench/results/vrrp-soak.txt
