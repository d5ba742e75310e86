#!/usr/bin/env bash
# Prepares (idempotently) the kernel, its modules and the base initramfs for the lvskeeper test VM
# in ${LVSK_VM_CACHE:-/var/cache/lvskeeper-vm}. Installs missing host packages with apt-get.
# Prints the kernel version (ABI) used on stdout. Override the kernel with LVSK_VM_KERNEL.
set -euo pipefail
umask 022
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"
source "$VM_LIB/stage.sh"
source "$VM_LIB/kernel.sh"

case "${1:-}" in
  -h | --help)
    sed -n '2,4s/^# //p' "$0"
    exit 0
    ;;
  --paths)
    vm_prepare
    printf 'abi=%s\nvmlinuz=%s\nbase=%s\n' "$VM_KERNEL_ABI" "$VM_VMLINUZ" "$VM_BASE_CPIO"
    exit 0
    ;;
  "") ;;
  *) vm_die "unknown argument: $1 (usage: build-kernel.sh [--paths])" ;;
esac
vm_prepare
printf '%s\n' "$VM_KERNEL_ABI"
