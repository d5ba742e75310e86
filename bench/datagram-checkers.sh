#!/usr/bin/env bash
# PING_CHECK and UDP_CHECK side by side with keepalived, in the IPVS VM (qemu TCG): keepalived's
# checker process and lvskeeper's whole daemon (release build) on the same keepalived.conf of N
# loopback real servers at delay_loop D, one after the other in one boot, counted by the same
# kernel counters (bench/datagram-keepalived-guest.sh: Icmp InEchos for PING_CHECK, Udp NoPorts for
# UDP_CHECK to a closed port), CPU from /proc/PID/stat.
# usage: bench/datagram-checkers.sh [WINDOW_SECONDS]   (output also saved to bench/results/datagram-checkers.txt)
#   DG_VM_TRIPLES     CHECK:N:D triples (default "PING:2000:1 UDP:2000:1")
#   DG_VM_WARM        seconds each side runs before its window (default 30)
#   LVSK_VM_HARNESS   the VM runner (default vm/run-in-vm.sh)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
window="${1:-20}"
out="$root/bench/results/datagram-checkers.txt"
vm="${LVSK_VM_HARNESS:-$root/vm/run-in-vm.sh}"
cd "$root"
swift build -c release --product lvskeeper >/dev/null
binpath="$(swift build -c release --show-bin-path)"
exec > >(tee "$out") 2>&1
triples="${DG_VM_TRIPLES:-PING:2000:1 UDP:2000:1}"
warm="${DG_VM_WARM:-30}"
echo "# bench/datagram-checkers.sh $window   $(date -u +%Y-%m-%dT%H:%MZ), host $(uname -r), $(nproc) cores SHARED with other helpers' builds"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $vm --smp 2 --mem 4096 ... -- guest.sh $window $warm $triples"
conf="$(mktemp -d)"
trap 'rm -rf "$conf"' EXIT
cp "$root/bench/datagram-keepalived-guest.sh" "$conf/guest.sh"
"$vm" --timeout 1800 --smp 2 --mem 4096 --with-bin "$binpath/lvskeeper" \
  --with-program keepalived --with-file "$conf:/opt/dg" -- bash /opt/dg/guest.sh "$window" "$warm" $triples \
  || echo "VM run failed: exit $?"
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
