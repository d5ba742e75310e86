#!/usr/bin/env bash
# Benchmark: lvskeeper reconcile vs `ipvsadm -R` on a real 6.1 kernel in the qemu VM.
# usage: bench/ipvs-reconcile.sh [SERVICES [SERVERS]]   (default 1000 x 10)
# Writes bench/results/ipvs-reconcile.txt. Needs the VM harness (vm/kernel-tests.sh) and qemu.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
harness="${VM_HARNESS:-$repo/vm/kernel-tests.sh}"
[[ -x "$harness" ]] || harness=/work/wt/vm/vm/kernel-tests.sh
out="$repo/bench/results/ipvs-reconcile.txt"
cmd=("$harness" --project "$repo" --release -- bench "${1:-1000}" "${2:-10}")
{
  echo "# command: bench/ipvs-reconcile.sh ${*:-} -> ${cmd[*]}"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(nproc) cpus; VM: Debian 6.1 cloud kernel under qemu"
  "${cmd[@]}" 2>/dev/null
} | tee "$out.tmp"
mv "$out.tmp" "$out"
