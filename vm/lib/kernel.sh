# shellcheck shell=bash
# Prepares the cached kernel and the cached base initramfs. Sourced after common.sh and stage.sh.
#
# Cache layout ($VM_CACHE):
#   .lock                                   flock for every writer
#   kernels/<abi>/vmlinuz                   the kernel
#   kernels/<abi>/root/lib/modules/<abi>/   its modules, depmod'ed
#   kernels/<abi>/.ready                    written last: the entry is complete
#   base/<abi>-<hash>.cpio                  busybox + ipvsadm + modules + /init (hash of inputs)

# Downloads and unpacks kernel ABI $1 into the cache unless it is there already. Caller holds the lock.
vm_fetch_kernel_locked() {
  local abi="$1" dir="$VM_CACHE/kernels/$1" tmp deb
  [[ -f "$dir/.ready" ]] && return 0
  vm_log "downloading linux-image-$abi"
  tmp="$(mktemp -d "$VM_CACHE/.fetch.XXXXXX")"
  # apt downloads as user _apt when it can write the directory (else it warns and runs as root).
  chmod 755 "$tmp"
  chown _apt "$tmp" 2>/dev/null || true
  if ! (cd "$tmp" && apt-get download -q "linux-image-$abi" >&2 2>&1); then
    vm_log "apt-get download failed; running apt-get update and retrying"
    apt-get update -q >&2 || true
    (cd "$tmp" && apt-get download -q "linux-image-$abi" >&2 2>&1) || {
      rm -rf "$tmp"
      vm_die "cannot download linux-image-$abi"
    }
  fi
  deb="$(find "$tmp" -maxdepth 1 -name "linux-image-${abi}_*.deb" | head -n1)"
  [[ -n "$deb" ]] || vm_die "apt-get download produced no .deb for linux-image-$abi"
  dpkg-deb -x "$deb" "$tmp/root" || vm_die "dpkg-deb -x failed for $deb"
  [[ -f "$tmp/root/boot/vmlinuz-$abi" ]] || vm_die "no vmlinuz-$abi in $deb"
  depmod -b "$tmp/root" "$abi" || vm_die "depmod failed for $abi"
  rm -rf "$dir"
  mkdir -p "$dir/root/lib/modules"
  mv "$tmp/root/boot/vmlinuz-$abi" "$dir/vmlinuz"
  mv "$tmp/root/boot/config-$abi" "$dir/config" 2>/dev/null || true
  # Debian ships modules under /lib or /usr/lib depending on the release.
  if [[ -d "$tmp/root/lib/modules/$abi" ]]; then
    mv "$tmp/root/lib/modules/$abi" "$dir/root/lib/modules/"
  else
    mv "$tmp/root/usr/lib/modules/$abi" "$dir/root/lib/modules/"
  fi
  rm -rf "$tmp"
  touch "$dir/.ready"
}

# Prints the module files (insmod order, deduplicated) needed for modules "$@" of kernel $abi.
vm_module_closure() {
  local abi="$1" kroot="$2" m
  shift 2
  for m in "$@"; do
    modprobe -d "$kroot" -S "$abi" --show-depends "$m" 2>/dev/null || true
  done | awk '$1 == "insmod" && !seen[$2]++ {print $2}'
}

# Hash of everything that goes into the base image, so a changed input makes a new image.
vm_base_hash() {
  {
    cat "$VM_LIB/common.sh" "$VM_LIB/stage.sh" "$VM_LIB/kernel.sh" "$VM_LIB/init.sh"
    dpkg-query -W busybox-static ipvsadm libc6 libnl-3-200 2>/dev/null
  } | sha256sum | cut -c1-16
}

# Builds the base initramfs for kernel $1 into $2. Caller holds the lock.
vm_build_base_locked() {
  local abi="$1" out="$2" kroot="$VM_CACHE/kernels/$1/root" stage mod rel f
  stage="$(mktemp -d "$VM_CACHE/.base.XXXXXX")"
  stage_init_layout "$stage"
  # bash is /bin/sh: busybox ash would run its applets instead of real binaries found in PATH.
  stage_add_bin "$stage" bash /usr/bin/bash
  ln -sfn bash "$stage/usr/bin/sh"
  stage_add_busybox "$stage"
  stage_add_bin "$stage" ipvsadm /usr/sbin/ipvsadm
  # Loaded by glibc at run time, so ldd does not list them.
  f=/lib/x86_64-linux-gnu/libgcc_s.so.1
  [[ -e "$f" ]] && stage_copy "$stage" "$f" "$f"
  for f in /etc/protocols /etc/services /etc/ethertypes; do
    [[ -e "$f" ]] && stage_copy "$stage" "$f" "$f"
  done
  cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
keepalived_script:x:999:999:keepalived scripts:/nonexistent:/bin/false
EOF
  cat >"$stage/etc/group" <<'EOF'
root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
keepalived_script:x:999:
EOF
  printf 'passwd: files\ngroup: files\nhosts: files\nservices: files\nprotocols: files\n' \
    >"$stage/etc/nsswitch.conf"
  printf '127.0.0.1 localhost lvsk-vm\n::1 localhost ip6-localhost\n' >"$stage/etc/hosts"
  echo lvsk-vm >"$stage/etc/hostname"
  : >"$stage/etc/fstab"
  # Modules: the closure of everything we load or offer, then depmod on the subset.
  mkdir -p "$stage/lib/modules/$abi"
  while IFS= read -r mod; do
    rel="${mod#"$kroot"}"
    mkdir -p "$stage$(dirname "$rel")"
    cp "$mod" "$stage$rel"
  done < <(vm_module_closure "$abi" "$kroot" "${VM_REQUIRED_MODULES[@]}" \
    "${VM_OPTIONAL_MODULES[@]}" "${VM_EXTRA_MODULES[@]}")
  for f in modules.builtin modules.builtin.modinfo modules.order; do
    [[ -e "$kroot/lib/modules/$abi/$f" ]] && cp "$kroot/lib/modules/$abi/$f" "$stage/lib/modules/$abi/"
  done
  depmod -b "$stage" "$abi" || vm_die "depmod failed on the base image"
  printf '%s\n' "${VM_REQUIRED_MODULES[@]}" >"$stage/lvsk/modules.required"
  printf '%s\n' "${VM_OPTIONAL_MODULES[@]}" >"$stage/lvsk/modules.optional"
  cp "$VM_LIB/init.sh" "$stage/init"
  chmod 755 "$stage/init"
  stage_pack "$stage" "$out.tmp"
  mv -f "$out.tmp" "$out"
  rm -rf "$stage"
}

# Makes sure kernel and base image exist; sets VM_KERNEL_ABI, VM_VMLINUZ and VM_BASE_CPIO.
# shellcheck disable=SC2034 # sets globals for the caller
vm_prepare() {
  vm_ensure_host_packages
  mkdir -p "$VM_CACHE" 2>/dev/null || true
  VM_KERNEL_ABI="$(vm_pick_kernel)"
  VM_VMLINUZ="$VM_CACHE/kernels/$VM_KERNEL_ABI/vmlinuz"
  VM_BASE_CPIO="$VM_CACHE/base/$VM_KERNEL_ABI-$(vm_base_hash).cpio"
  if [[ -f "$VM_CACHE/kernels/$VM_KERNEL_ABI/.ready" && -f "$VM_BASE_CPIO" ]]; then
    return 0
  fi
  mkdir -p "$VM_CACHE/base" "$VM_CACHE/kernels"
  vm_with_lock "$VM_CACHE/.lock" vm_prepare_locked || exit $?
}

vm_prepare_locked() {
  vm_fetch_kernel_locked "$VM_KERNEL_ABI"
  if [[ ! -f "$VM_BASE_CPIO" ]]; then
    vm_log "building base initramfs $(basename "$VM_BASE_CPIO")"
    vm_build_base_locked "$VM_KERNEL_ABI" "$VM_BASE_CPIO"
    # Images of older harness versions, built over a day ago, are no longer wanted.
    find "$VM_CACHE/base" -maxdepth 1 -name '*.cpio' ! -path "$VM_BASE_CPIO" -mmin +1440 \
      -delete 2>/dev/null || true
  fi
}
