#!/usr/bin/env bash
# Memory per real server side by side with keepalived, in the IPVS VM (qemu TCG, real IPVS, real
# keepalived 2.2.7 from Debian): keepalived's checker process and lvskeeper's whole daemon run the
# same keepalived.conf with 1, 1,000 and 10,000 TCP_CHECK real servers, one after the other in one
# VM boot, measured by the same method (bench/memory-vm-guest.sh says which), then the marginal
# RSS per real server of each and where the one-server daemon's RSS lives.
# usage: [THP=never] LVSKEEPER_BIN=<release lvskeeper> bench/memory-vm.sh
# Build: swift build -c release --scratch-path .build-release --product lvskeeper
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bin="${LVSKEEPER_BIN:-.build-release/release/lvskeeper}"
[[ -x "$bin" ]] || { echo "no release lvskeeper at $bin"; exit 1; }
vm="${LVSK_VM_HARNESS:-$root/vm/run-in-vm.sh}"
echo "host: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
echo "# $vm --smp 2 --mem 2048 --with-bin $bin --with-program keepalived -- bash guest.sh"
conf="$(mktemp -d)"
trap 'rm -rf "$conf"' EXIT
cp "$root/bench/memory-vm-guest.sh" "$conf/guest.sh"
# THP=never|madvise|always sets the guest's transparent huge pages before either side runs.
[[ -n "${THP:-}" ]] && echo "$THP" > "$conf/thp"
# --with-bin installs a binary under its own name: the guest runs `lvskeeper`.
mkdir "$conf/bin"
cp "$bin" "$conf/bin/lvskeeper"
"$vm" --timeout 1500 --smp 2 --mem 2048 --with-bin "$conf/bin/lvskeeper" --with-program keepalived \
  --with-file "$conf:/opt/mem" -- bash /opt/mem/guest.sh
