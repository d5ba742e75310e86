#!/usr/bin/env bash
# Benchmark: where a no-op reconcile of a large table spends its time (kernel dump, our split and
# decode, desired table, plan) next to `ipvsadm -Ln`, and the CPU an idle daemon's drift repair
# costs: a full reconcile every interval (lvskeeper before DriftRepairSchedule) against
# IPVSReconciler.repairDrift every interval. Real 6.1 kernel in the qemu VM (TCG).
# usage: bench/ipvs-drift-repair.sh [SERVICES [SERVERS [SECONDS [INTERVAL]]]]   (default 1 10000 60 10)
# Writes bench/results/ipvs-drift-repair-SERVICESxSERVERS.txt. Needs the VM harness (vm/kernel-tests.sh) and qemu.
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
args=(bench-drift "${1:-1}" "${2:-10000}" "${3:-60}" "${4:-10}")
out="$repo/bench/results/ipvs-drift-repair-${args[1]}x${args[2]}.txt"
cmd=("$repo/vm/kernel-tests.sh" --project "$repo" --release --timeout 900 -- "${args[@]}")
{
  echo "# command: bench/ipvs-drift-repair.sh ${*:-} -> ${cmd[*]}"
  echo "# date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  host: $(nproc) cpus, load $(cut -d' ' -f1-3 /proc/loadavg); VM: Debian 6.1 cloud kernel under qemu TCG, 1 vCPU"
  "${cmd[@]}" 2>/dev/null
} | tee "$out.tmp"
mv "$out.tmp" "$out"
