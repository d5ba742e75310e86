#!/usr/bin/env bash
# Prepares (idempotently) the systemd VM in ${LVSK_VM_CACHE:-/var/cache/lvskeeper-vm}/systemd: a
# Debian 12 root file system whose init is systemd (mmdebstrap from the host's apt sources, as an
# ext4 image) and the initramfs that boots it on the cached cloud kernel. Rebuilt only when the
# package list, the harness files or the host's apt sources change. Prints the paths on stdout.
set -euo pipefail
umask 022
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"
source "$VM_LIB/stage.sh"
source "$VM_LIB/kernel.sh"
source "$VM_LIB/systemd.sh"

case "${1:-}" in
  -h | --help)
    sed -n '2,5s/^# //p' "$0"
    exit 0
    ;;
  "") ;;
  *) vm_die "unknown argument: $1 (usage: build-systemd-root.sh)" ;;
esac
vm_prepare_systemd
printf 'abi=%s\nvmlinuz=%s\nimage=%s\ninitrd=%s\n' "$VM_KERNEL_ABI" "$VM_VMLINUZ" \
  "$VM_SYSTEMD_IMAGE" "$VM_SYSTEMD_INITRD"
