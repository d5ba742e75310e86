# shellcheck shell=bash
# Shared settings and helpers for the lvskeeper qemu VM harness (sourced, not executed).
#
# Environment knobs (all optional):
#   LVSK_VM_CACHE    cache directory for kernels and base initramfs images
#                    (default /var/cache/lvskeeper-vm)
#   LVSK_VM_KERNEL   kernel ABI to use, e.g. 6.1.0-56-cloud-amd64 (default: newest installable
#                    linux-image-6.1.0-*-cloud-amd64, resolved through linux-image-cloud-amd64)
#   LVSK_VM_ACCEL    qemu accelerator list, e.g. "tcg" or "kvm:tcg" (default tcg)
#   LVSK_VM_SMP      guest CPUs (default 1)
#   LVSK_VM_VERBOSE  1 = show the whole serial console, kernel messages included

# shellcheck disable=SC2034 # the VM_* settings are used by the scripts that source this file
VM_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VM_LIB="$VM_DIR/lib"
VM_CACHE="${LVSK_VM_CACHE:-/var/cache/lvskeeper-vm}"

# Modules that must load for the VM to be useful: IPVS and every scheduler.
VM_REQUIRED_MODULES=(ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh
  ip_vs_sh ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh)
# Modules loaded at boot when present; a failure is reported, not fatal.
VM_OPTIONAL_MODULES=(nf_conntrack veth bridge dummy macvlan 8021q tun ipip ip_tunnel tunnel4 gre
  ip_gre fou fou6 ip6_tunnel ip6_gre sit vxlan sch_netem)
# Modules shipped in the image but only loaded on demand (modprobe inside the VM).
VM_EXTRA_MODULES=(ip_vs_ftp ip_vs_pe_sip nf_nat nf_tables ip_tables iptable_filter iptable_nat
  iptable_mangle xt_MASQUERADE xt_mark xt_conntrack ipt_REJECT nft_chain_nat)

# Host packages the harness needs, keyed by a command each one provides.
VM_HOST_PACKAGES=(
  qemu-system-x86_64:qemu-system-x86
  busybox:busybox-static
  ipvsadm:ipvsadm
  cpio:cpio
  depmod:kmod
  flock:util-linux
)

vm_log() { printf 'vm: %s\n' "$*" >&2; }
vm_die() {
  printf 'vm: error: %s\n' "$*" >&2
  exit 125
}

# Installs any missing host package in VM_HOST_PACKAGES with apt-get (Debian).
vm_ensure_host_packages() {
  local missing=() entry cmd pkg
  for entry in "${VM_HOST_PACKAGES[@]}"; do
    cmd="${entry%%:*}"
    pkg="${entry#*:}"
    if [[ "$cmd" == busybox ]]; then
      # Only the static busybox works inside the initramfs.
      dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$pkg")
    elif ! command -v "$cmd" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$cmd" && ! -x "/sbin/$cmd" ]]; then
      missing+=("$pkg")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  vm_apt_install "${missing[@]}"
}

# Installs Debian packages "$@" (no recommends), running apt-get update once if needed.
vm_apt_install() {
  vm_log "installing host packages: $*"
  command -v apt-get >/dev/null || vm_die "apt-get not found; install $* by hand"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2 ||
    {
      DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
    } || vm_die "apt-get install $* failed"
}

# Prints the host path of command $1 (not a busybox applet), installing Debian package $2 if needed.
vm_require_command() {
  local name="$1" pkg="$2" path
  path="$(PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$name" || true)"
  if [[ -z "$path" || "$(readlink -f "$path")" == */busybox ]]; then
    vm_apt_install "$pkg"
    path="$(PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" command -v "$name" || true)"
  fi
  [[ -n "$path" && "$(readlink -f "$path")" != */busybox ]] ||
    vm_die "$name not found on the host even after apt-get install $pkg"
  printf '%s\n' "$path"
}

# Prints the kernel ABI to use (e.g. 6.1.0-56-cloud-amd64).
vm_pick_kernel() {
  if [[ -n "${LVSK_VM_KERNEL:-}" ]]; then
    printf '%s\n' "${LVSK_VM_KERNEL#linux-image-}"
    return 0
  fi
  local abi choice="$VM_CACHE/abi"
  # apt-cache takes over a second; reuse the last answer until the package lists change.
  if [[ -s "$choice" && "$choice" -nt /var/lib/apt/lists ]]; then
    abi="$(<"$choice")"
    if [[ -f "$VM_CACHE/kernels/$abi/.ready" ]]; then
      printf '%s\n' "$abi"
      return 0
    fi
  fi
  # The meta package depends on the newest ABI the archive offers.
  abi="$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    sed -n 's/^ *Depends: linux-image-\(6\.1\.0-[0-9]*-cloud-amd64\)$/\1/p' | head -n1)"
  if [[ -z "$abi" ]]; then
    abi="$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64$' 2>/dev/null |
      awk '{print $1}' | sed 's/^linux-image-//' | sort -V | tail -n1)"
  fi
  if [[ -z "$abi" && -z "${VM_APT_UPDATED:-}" ]] && command -v apt-get >/dev/null; then
    # A fresh machine may have empty package lists.
    vm_log "no cloud kernel in the apt lists; running apt-get update"
    VM_APT_UPDATED=1
    apt-get update -q >&2 || true
    vm_pick_kernel
    return
  fi
  if [[ -z "$abi" ]]; then
    # Fall back to what is already cached (offline runs).
    abi="$(find "$VM_CACHE/kernels" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' 2>/dev/null |
      sort -V | tail -n1)"
  fi
  [[ -n "$abi" ]] || vm_die "no linux-image-6.1.0-*-cloud-amd64 package found (apt-get update?)"
  if [[ -d "$VM_CACHE" ]]; then
    printf '%s\n' "$abi" >"$choice.$$" 2>/dev/null && mv -f "$choice.$$" "$choice" 2>/dev/null || true
  fi
  printf '%s\n' "$abi"
}

# Runs "$@" while holding an exclusive lock on $1 (a lock file path).
vm_with_lock() {
  local lockfile="$1"
  shift
  mkdir -p "$(dirname "$lockfile")"
  (
    exec 9>"$lockfile"
    flock 9
    "$@"
  )
}

# Quotes each argument for a POSIX shell (single quotes; busybox ash reads it back verbatim).
vm_shell_quote() {
  local arg out=""
  for arg in "$@"; do
    out+="'${arg//\'/\'\\\'\'}' "
  done
  printf '%s' "${out% }"
}

# For the scripts that build something and hand it to run-in-vm.sh: when "$1" is an option
# run-in-vm.sh takes, appends it (with its value) to the caller's vm_args array and sets vm_shift
# to the number of words it took; otherwise sets vm_shift=0.
vm_take_run_option() {
  vm_shift=0
  case "${1-}" in
    --timeout | --mem | --smp | --with-bin | --with-file | --with-program | --setup | --env)
      vm_args+=("$1" "${2:?$1 needs a value}")
      vm_shift=2
      ;;
    --verbose | --keep | --systemd)
      vm_args+=("$1")
      vm_shift=1
      ;;
  esac
}

# Prints the comment block at the top of script $1 (its usage text).
vm_usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$(readlink -f "$1")"
}

# Checks that $project holds a Swift package (making it absolute) and sets swift_bin.
vm_locate_swift_project() {
  [[ -f "$project/Package.swift" ]] || vm_die "no Package.swift in $project"
  project="$(cd "$project" && pwd)"
  swift_bin="$(command -v swift || true)"
  [[ -n "$swift_bin" ]] || swift_bin=/opt/swift/usr/bin/swift
  [[ -x "$swift_bin" ]] || vm_die "swift not found (PATH or /opt/swift/usr/bin)"
}

# Builds the lvskeeper product of $project in configuration $1 (debug or release) and prints the
# binary's path. Dynamically linked: run-in-vm.sh's --with-bin copies the Swift runtime and
# Foundation libraries ldd names (a --static-swift-stdlib link of full Foundation fails on ICU
# symbol order with this toolchain's debug build).
vm_build_lvskeeper() {
  local swift_bin build
  swift_bin="$(command -v swift || echo /opt/swift/usr/bin/swift)"
  build=("$swift_bin" build --package-path "$project" -c "$1" --product lvskeeper)
  vm_log "building lvskeeper ($1)"
  "${build[@]}" >&2 || vm_die "swift build of lvskeeper failed"
  echo "$("${build[@]}" --show-bin-path)/lvskeeper"
}
