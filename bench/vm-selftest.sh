#!/usr/bin/env bash
# Measures the qemu VM harness: base initramfs build, per-run image build, kernel boot to /init,
# /init setup, and the wall time of `bash vm/selftest.sh`. Prints figures; asserts nothing.
# usage: bench/vm-selftest.sh [RUNS]   (output is also meant for bench/results/vm-selftest.txt)
set -euo pipefail
repo="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
runs="${1:-3}"
cache="${LVSK_VM_CACHE:-/var/cache/lvskeeper-vm}"

echo "# lvskeeper VM harness benchmark, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "host: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo "qemu: $(qemu-system-x86_64 --version | head -n1), accel ${LVSK_VM_ACCEL:-tcg}"
abi="$("$repo/vm/build-kernel.sh")"
echo "kernel: $abi (cache $cache)"

# Base image from a warm kernel: build it into a scratch cache that shares the kernel.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/kernels"
ln -s "$cache/kernels/$abi" "$scratch/kernels/$abi"
cp "$cache/abi" "$scratch/abi" 2>/dev/null || true
start=$(date +%s.%N)
LVSK_VM_CACHE="$scratch" "$repo/vm/build-kernel.sh" >/dev/null 2>&1
end=$(date +%s.%N)
base="$(ls "$scratch"/base/*.cpio)"
awk -v s="$start" -v e="$end" -v b="$(stat -c %s "$base")" \
  'BEGIN { printf "base initramfs build (busybox, bash, ipvsadm, %d-byte cpio): %.2fs\n", b, e - s }'

echo "per-run figures (image = payload cpio + concatenation; vm = qemu start to exit):"
for ((i = 1; i <= runs; i++)); do
  LVSK_VM_TIMING=1 "$repo/vm/run-in-vm.sh" -- true 2>&1 | sed 's/^/  true: /'
done
LVSK_VM_TIMING=1 "$repo/vm/run-in-vm.sh" --with-program ip --with-program keepalived \
  --with-program nginx -- true 2>&1 | sed 's/^/  ip+keepalived+nginx payload: /'

echo "selftest: time bash vm/selftest.sh"
{ time bash "$repo/vm/selftest.sh"; } 2>&1 | grep -E '^(timing|real|user|sys|[0-9]+ passed)' |
  sed 's/^/  /'
echo "programs selftest: time bash vm/programs-selftest.sh"
{ time bash "$repo/vm/programs-selftest.sh" >/dev/null 2>&1; } 2>&1 | grep -E '^(real|user|sys)' |
  sed 's/^/  /'
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
