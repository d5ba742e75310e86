# shellcheck shell=bash
# The systemd VM: a Debian 12 root file system whose init is systemd, built with mmdebstrap from
# the host's apt sources and cached as an ext4 image, booted on the same cloud kernel as the
# busybox VM through a small initramfs (busybox, virtio modules, /init = vm/lib/init-systemd.sh).
# Sourced after common.sh, stage.sh and kernel.sh.
#
# Cache layout ($VM_CACHE/systemd):
#   <abi>-<hash>.ext4     the root file system (booted with qemu snapshot=on: never written)
#   <abi>-<hash>.cpio     the initramfs that mounts it and switch_roots to systemd
# The image's hash covers the package list, the host's apt sources and the functions that build
# it, so a changed list builds a new image; otherwise the image is reused (mmdebstrap takes minutes).

# Packages of the guest (besides Essential and apt). No udev on purpose: without it no unit waits
# for a device (the initramfs mounts the root, /etc/fstab is empty) and the boot is seconds shorter;
# devtmpfs still makes /dev/net/tun and friends.
VM_SYSTEMD_PACKAGES=(
  systemd systemd-sysv dbus-broker   # init; systemctl; dbus so that systemctl show/status are complete
  kmod                               # modprobe (systemd-modules-load, lvskeeper's modules-load.d)
  iproute2 ipvsadm                   # namespaces, veth, addresses; the independent IPVS reader
  keepalived                         # a VRRP peer in a namespace
  nginx-light                        # real servers
  procps psmisc tcpdump              # ps/pgrep, killall (track scripts), adverts on the wire
  libnl-3-200 libnl-genl-3-200 libnl-route-3-200 libssl3   # what lvskeeper links
)

# Modules the initramfs loads to reach the root disk.
VM_SYSTEMD_INITRD_MODULES=(virtio_pci virtio_blk)

# The host's enabled apt sources (files mmdebstrap pastes into the guest's sources list).
vm_systemd_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -s "$f" ]] && printf '%s\n' "$f"
  done
}

# Hash of what goes into the root image: the package list, the apt sources, the build and
# customize functions (not the test runner: run-in-vm.sh ships the current one with each run).
vm_systemd_root_hash() {
  {
    printf '%s\n' "${VM_SYSTEMD_PACKAGES[@]}"
    vm_systemd_sources | xargs -r cat
    declare -f vm_build_systemd_root_locked vm_systemd_customize
    dpkg-query -W mmdebstrap 2>/dev/null
  } | sha256sum | cut -c1-16
}

# Hash of the initramfs: its /init, the module list and busybox.
vm_systemd_initrd_hash() {
  {
    cat "$VM_LIB/init-systemd.sh"
    printf '%s\n' "${VM_SYSTEMD_INITRD_MODULES[@]}"
    declare -f vm_build_systemd_initrd_locked
    dpkg-query -W busybox-static 2>/dev/null
  } | sha256sum | cut -c1-16
}

# Makes sure the kernel, the systemd root image and its initramfs exist; sets VM_KERNEL_ABI,
# VM_VMLINUZ, VM_SYSTEMD_IMAGE and VM_SYSTEMD_INITRD.
# shellcheck disable=SC2034 # sets globals for the caller
vm_prepare_systemd() {
  vm_ensure_host_packages
  command -v mmdebstrap >/dev/null || vm_apt_install mmdebstrap
  command -v mkfs.ext4 >/dev/null || [[ -x /usr/sbin/mkfs.ext4 || -x /sbin/mkfs.ext4 ]] || vm_apt_install e2fsprogs
  mkdir -p "$VM_CACHE" 2>/dev/null || true
  VM_KERNEL_ABI="$(vm_pick_kernel)"
  VM_VMLINUZ="$VM_CACHE/kernels/$VM_KERNEL_ABI/vmlinuz"
  VM_SYSTEMD_IMAGE="$VM_CACHE/systemd/$VM_KERNEL_ABI-$(vm_systemd_root_hash).ext4"
  VM_SYSTEMD_INITRD="$VM_CACHE/systemd/$VM_KERNEL_ABI-$(vm_systemd_initrd_hash).cpio"
  if [[ -f "$VM_CACHE/kernels/$VM_KERNEL_ABI/.ready" && -f "$VM_SYSTEMD_IMAGE" && -f "$VM_SYSTEMD_INITRD" ]]; then
    return 0
  fi
  mkdir -p "$VM_CACHE/systemd" "$VM_CACHE/kernels"
  vm_with_lock "$VM_CACHE/.lock" vm_prepare_systemd_locked || exit $?
}

vm_prepare_systemd_locked() {
  vm_fetch_kernel_locked "$VM_KERNEL_ABI"
  [[ -f "$VM_SYSTEMD_INITRD" ]] || vm_build_systemd_initrd_locked "$VM_KERNEL_ABI" "$VM_SYSTEMD_INITRD"
  if [[ ! -f "$VM_SYSTEMD_IMAGE" ]]; then
    vm_build_systemd_root_locked "$VM_KERNEL_ABI" "$VM_SYSTEMD_IMAGE"
    # Images of older package lists, built over a day ago, are no longer wanted.
    find "$VM_CACHE/systemd" -maxdepth 1 \( -name '*.ext4' -o -name '*.cpio' \) \
      ! -path "$VM_SYSTEMD_IMAGE" ! -path "$VM_SYSTEMD_INITRD" -mmin +1440 -delete 2>/dev/null || true
  fi
}

# The initramfs: static busybox, the virtio modules, /init. Caller holds the lock.
vm_build_systemd_initrd_locked() {
  local abi="$1" out="$2" kroot="$VM_CACHE/kernels/$1/root" stage mod rel
  stage="$(mktemp -d "$VM_CACHE/.sdinitrd.XXXXXX")"
  mkdir -p "$stage"/{bin,dev,proc,sys,newroot,payload}
  stage_add_busybox "$stage"
  : >"$stage/modules"
  while IFS= read -r mod; do
    rel="${mod#"$kroot"}"
    mkdir -p "$stage$(dirname "$rel")"
    cp "$mod" "$stage$rel"
    printf '%s\n' "$rel" >>"$stage/modules"
  done < <(vm_module_closure "$abi" "$kroot" "${VM_SYSTEMD_INITRD_MODULES[@]}")
  cp "$VM_LIB/init-systemd.sh" "$stage/init"
  chmod 755 "$stage/init"
  stage_pack "$stage" "$out.tmp"
  mv -f "$out.tmp" "$out"
  rm -rf "$stage"
}

# The root file system: mmdebstrap, the kernel's modules, the test runner unit; then an ext4
# image of it (mkfs.ext4 -d: no loop mount). Caller holds the lock.
vm_build_systemd_root_locked() {
  local abi="$1" out="$2" kroot="$VM_CACHE/kernels/$1/root" tmp sources=() t0
  t0=$(date +%s)
  vm_log "building the systemd root file system $(basename "$out") (mmdebstrap, a few minutes)"
  tmp="$(mktemp -d "$VM_CACHE/.sdroot.XXXXXX")"
  mapfile -t sources < <(vm_systemd_sources)
  ((${#sources[@]})) || vm_die "no apt sources on the host (/etc/apt/sources.list*)"
  local pkgs
  pkgs="$(IFS=,; printf '%s' "${VM_SYSTEMD_PACKAGES[*]}")"
  # The customize hook runs on the host with the root in "$1".
  if ! mmdebstrap --variant=apt --mode=root --format=directory --include="$pkgs" \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook="bash '$VM_LIB/systemd.sh' customize \"\$1\" '$abi' '$kroot'" \
    bookworm "$tmp/root" "${sources[@]}" >"$tmp/mmdebstrap.log" 2>&1; then
    tail -n 30 "$tmp/mmdebstrap.log" >&2
    rm -rf "$tmp"
    vm_die "mmdebstrap failed (log above)"
  fi
  # Size: what the tree holds plus room for the tests' writes (they go to qemu's snapshot anyway).
  local mb
  mb=$(($(du -sm "$tmp/root" | cut -f1) * 5 / 4 + 256))
  mkfs.ext4 -q -F -L lvsk-root -E root_owner=0:0 -d "$tmp/root" "$out.tmp" "${mb}M" ||
    { rm -rf "$tmp" "$out.tmp"; vm_die "mkfs.ext4 -d failed"; }
  mv -f "$out.tmp" "$out"
  rm -rf "$tmp"
  vm_log "systemd root file system built in $(($(date +%s) - t0)) s (${mb} MB image)"
}

# mmdebstrap's customize hook: the guest's configuration. $1 = root, $2 = kernel ABI, $3 = the
# cached kernel tree (modules).
vm_systemd_customize() {
  local root="$1" abi="$2" kroot="$3" u
  mkdir -p "$root/lib/modules"
  cp -a "$kroot/lib/modules/$abi" "$root/lib/modules/"
  echo lvsk-vm >"$root/etc/hostname"
  printf '127.0.0.1 localhost lvsk-vm\n::1 localhost ip6-localhost\n' >"$root/etc/hosts"
  : >"$root/etc/fstab"
  # The root has no password and nobody logs in: the console belongs to the test.
  # Units that would only slow the boot, write to the console or fight over VIPs and IPVS.
  for u in serial-getty@ttyS0.service getty@tty1.service console-getty.service \
    keepalived.service nginx.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer e2scrub_reap.service fstrim.timer systemd-timesyncd.service \
    systemd-networkd-wait-online.service systemd-networkd.service man-db.timer \
    systemd-tmpfiles-clean.timer dpkg-db-backup.timer logrotate.timer getty.target; do
    ln -sfn /dev/null "$root/etc/systemd/system/$u"
  done
  # keepalived's scripts user (script_user's default) and one more for script_user tests.
  chroot "$root" useradd --system --no-create-home --shell /usr/sbin/nologin keepalived_script
  chroot "$root" useradd --system --no-create-home --shell /usr/sbin/nologin lvsk-script
  # The journal in memory only (the disk is a throw-away snapshot anyway).
  mkdir -p "$root/etc/systemd/journald.conf.d"
  printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' >"$root/etc/systemd/journald.conf.d/lvsk.conf"
  # The test runner: a oneshot unit that runs /lvsk/cmd (from the per-run payload) and powers off.
  install -m 755 "$VM_LIB/guest-systemd-run.sh" "$root/usr/local/lib/lvsk-test-run"
  cat >"$root/etc/systemd/system/lvsk-test.service" <<'EOF'
[Unit]
Description=lvskeeper VM test runner (output on the serial console, then power off)
After=multi-user.target systemd-modules-load.service
ConditionPathExists=/lvsk/cmd

[Service]
Type=oneshot
ExecStart=/usr/local/lib/lvsk-test-run
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
  mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
  ln -sfn ../lvsk-test.service "$root/etc/systemd/system/multi-user.target.wants/lvsk-test.service"
}

# Units masked per run (a payload of /dev/null links, so changing the list needs no new image):
# nothing here is needed by a test, and under TCG each costs boot time.
VM_SYSTEMD_MASKED=(ipvsadm.service systemd-logind.service systemd-user-sessions.service
  systemd-update-utmp.service systemd-update-utmp-runlevel.service systemd-journal-flush.service
  systemd-random-seed.service systemd-journal-catalog-update.service systemd-machine-id-commit.service
  ldconfig.service systemd-pstore.service modprobe@drm.service)

# Adds the per-run parts of the systemd VM to stage $1: the test runner and the masks.
vm_systemd_stage() {
  local stage="$1" u
  stage_copy "$stage" "$VM_LIB/guest-systemd-run.sh" /usr/local/lib/lvsk-test-run
  chmod 755 "$stage/usr/local/lib/lvsk-test-run"
  mkdir -p "$stage/etc/systemd/system"
  for u in "${VM_SYSTEMD_MASKED[@]}"; do
    ln -sfn /dev/null "$stage/etc/systemd/system/$u"
  done
}

if [[ "${BASH_SOURCE[0]}" == "$0" && "${1-}" == customize ]]; then
  set -euo pipefail
  VM_LIB="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
  vm_systemd_customize "$2" "$3" "$4"
fi
