#!/usr/bin/env bash
# Runs one command inside a throw-away qemu VM booted on a Debian kernel with IPVS.
#
# usage: run-in-vm.sh [options] -- COMMAND [ARGS...]
#   --timeout SEC         kill the VM after SEC seconds (default 600); exit 124
#   --mem MB              guest memory (default 1024)
#   --smp N               guest CPUs (default ${LVSK_VM_SMP:-1})
#   --with-bin PATH       copy a host binary to /usr/local/bin/<name> with its ldd libraries
#                         (PATH may be a bare command name, looked up in PATH); repeatable
#   --with-file SRC:DEST  copy a host file or directory to DEST (absolute) in the VM; repeatable
#   --with-program NAME   add a real program with its data files and run-time directories:
#                         ip (iproute2), keepalived, genhash, nginx, tcpdump, bird (vm/lib/programs.sh)
#   --setup 'SHELL LINE'  run a bash line in the VM before COMMAND (e.g. mkdir); repeatable
#   --env NAME=VALUE      export NAME=VALUE to COMMAND; repeatable
#   --systemd             boot the Debian 12 root file system whose init is systemd (vm/lib/systemd.sh)
#                         instead of the busybox initramfs; COMMAND runs from lvsk-test.service
#   --verbose             show the whole serial console (kernel messages included)
#   --keep                keep the temporary directory (initramfs, console log) and print it
#
# The VM has busybox, ipvsadm, IPVS and all scheduler modules loaded, lo up, /proc /sys /dev /tmp
# /run mounted. COMMAND runs in /root with stdin from /dev/null; its stdout and stderr are printed
# here. With --systemd the payload (--with-*, --setup, COMMAND) is copied over the root file system
# (a qemu snapshot of the cached image) before systemd starts; modules load through systemd's
# modules-load.d, not the harness; COMMAND runs as root from a oneshot unit after multi-user.target.
# Exit status: COMMAND's; 124 on timeout; 125 on a harness failure (boot, panic, modules).
set -euo pipefail
umask 022
source "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib/common.sh"
source "$VM_LIB/stage.sh"
source "$VM_LIB/kernel.sh"
source "$VM_LIB/programs.sh"
source "$VM_LIB/systemd.sh"

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$(readlink -f "${BASH_SOURCE[0]}")" >&2
  exit "${1:-2}"
}

timeout_sec=600
mem_mb=1024
smp="${LVSK_VM_SMP:-1}"
verbose="${LVSK_VM_VERBOSE:-0}"
keep=0
systemd=0
bins=()
files=()
envs=()
programs=()
setups=()
while (($#)); do
  case "$1" in
    --timeout) timeout_sec="${2:?--timeout needs a value}"; shift 2 ;;
    --mem) mem_mb="${2:?--mem needs a value}"; shift 2 ;;
    --smp) smp="${2:?--smp needs a value}"; shift 2 ;;
    --with-bin) bins+=("${2:?--with-bin needs a path}"); shift 2 ;;
    --with-file) files+=("${2:?--with-file needs SRC:DEST}"); shift 2 ;;
    --with-program) programs+=("${2:?--with-program needs a name}"); shift 2 ;;
    --setup) setups+=("${2:?--setup needs a shell line}"); shift 2 ;;
    --env) envs+=("${2:?--env needs NAME=VALUE}"); shift 2 ;;
    --verbose) verbose=1; shift ;;
    --systemd) systemd=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage 0 ;;
    --) shift; break ;;
    *) printf 'run-in-vm.sh: unknown option %s\n' "$1" >&2; usage ;;
  esac
done
(($#)) || { printf 'run-in-vm.sh: missing -- COMMAND\n' >&2; usage; }
[[ "$timeout_sec" =~ ^[0-9]+$ && "$mem_mb" =~ ^[0-9]+$ && "$smp" =~ ^[0-9]+$ ]] ||
  vm_die "--timeout, --mem and --smp take positive integers"

t_start=$(date +%s.%N)
if ((systemd)); then vm_prepare_systemd; else vm_prepare; fi

work="$(mktemp -d "${TMPDIR:-/tmp}/lvsk-vm.XXXXXX")"
cleanup() {
  if ((keep)); then vm_log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The per-run payload: binaries, files, the command and a nonce, appended to the base image.
# With --systemd the initramfs copies /payload over the root disk: the stage is packed under it.
stage="$work/stage"
((systemd)) && stage="$work/stage/payload"
stage_init_layout "$stage"
((systemd)) && vm_systemd_stage "$stage"
for p in "${programs[@]}"; do
  stage_add_program "$stage" "$p"
done
for line in "${setups[@]}"; do
  stage_setup "$stage" <<<"$line"
done
for b in "${bins[@]}"; do
  stage_add_bin "$stage" "$b"
done
for spec in "${files[@]}"; do
  [[ "$spec" == *:* ]] || vm_die "--with-file wants SRC:DEST, got $spec"
  src="${spec%:*}"
  dest="${spec##*:}"
  [[ "$dest" == /* ]] || vm_die "--with-file DEST must be absolute: $spec"
  stage_copy "$stage" "$src" "$dest"
done
nonce="$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$nonce" >"$stage/lvsk/nonce"
[[ -n "${LVSK_VM_TIMING:-}" ]] && : >"$stage/lvsk/timing"
printf 'set -- %s\n' "$(vm_shell_quote "$@")" >"$stage/lvsk/cmd"
: >"$stage/lvsk/env"
for e in "${envs[@]}"; do
  [[ "$e" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || vm_die "--env wants NAME=VALUE, got $e"
  printf 'export %s=%s\n' "${e%%=*}" "$(vm_shell_quote "${e#*=}")" >>"$stage/lvsk/env"
done
if ((systemd)); then
  # The guest has these links already, and busybox cp -a does not replace a link by a link.
  for l in bin sbin lib lib64 lib32 libx32 var/run; do
    [[ -L "$stage/$l" ]] && rm -f "$stage/$l"
  done
fi
stage_pack "$work/stage" "$work/payload.cpio"
if ((systemd)); then
  cat "$VM_SYSTEMD_INITRD" "$work/payload.cpio" >"$work/initrd.cpio"
else
  cat "$VM_BASE_CPIO" "$work/payload.cpio" >"$work/initrd.cpio"
fi
rm -rf "$work/stage" "$work/payload.cpio"
t_image=$(date +%s.%N)

accel_args=()
IFS=':' read -r -a accels <<<"${LVSK_VM_ACCEL:-tcg}"
for a in "${accels[@]}"; do accel_args+=(-accel "$a"); done

# Filters the serial console: harness lines ("[vm] ...") to stderr, COMMAND's output (between the
# markers) to stdout, the exit status into $work/status. Everything goes to console.log too.
awk_stream=(awk)
# mawk (Debian's default awk) reads pipes in blocks unless told otherwise: keep output live.
awk -W version 2>&1 | grep -q mawk && awk_stream=(awk -W interactive)
filter() {
  "${awk_stream[@]}" -v begin="LVSK-VM-BEGIN-$nonce" -v end="LVSK-VM-END-$nonce status=" \
    -v statusfile="$work/status" -v verbose="$verbose" -v startfile="$work/started" '
    { gsub(/\r/, "") }
    verbose == 1 { print; fflush() }
    state == 0 && index($0, begin) { state = 1; print "" > startfile; close(startfile); next }
    state == 0 && /^\[vm\] / { if (verbose != 1) { print > "/dev/stderr"; fflush("/dev/stderr") }; next }
    state == 1 {
      i = index($0, end)
      if (i) {
        pre = substr($0, 1, i - 1)
        if (pre != "" && verbose != 1) printf "%s\n", pre
        print substr($0, i + length(end)) > statusfile
        close(statusfile)
        state = 2
        fflush()
        next
      }
      if (verbose != 1) { print; fflush() }
    }
    state == 2 && /^\[vm\] / && verbose != 1 { print > "/dev/stderr" }
  '
}

disk_args=()
append_extra=""
if ((systemd)); then
  # snapshot=on: the guest's writes go to a temporary file; the cached image stays pristine.
  disk_args=(-drive "file=$VM_SYSTEMD_IMAGE,if=virtio,format=raw,snapshot=on")
  append_extra="no_timer_check systemd.show_status=false ${LVSK_VM_SYSTEMD_APPEND:-}"
fi

set +e
timeout -k 10 "$timeout_sec" qemu-system-x86_64 "${accel_args[@]}" -cpu "${LVSK_VM_CPU:-max}" -m "$mem_mb" \
  -smp "$smp" -nodefaults -no-user-config -display none -monitor none -serial stdio -no-reboot \
  -kernel "$VM_VMLINUZ" -initrd "$work/initrd.cpio" "${disk_args[@]}" \
  -append "console=ttyS0 ${LVSK_VM_APPEND:-quiet loglevel=1 cryptomgr.notests} $append_extra panic=-1 oops=panic mitigations=off tsc=reliable" \
  </dev/null 2>"$work/qemu.err" | tee "$work/console.log" | filter
qemu_status=${PIPESTATUS[0]}
set -e
t_end=$(date +%s.%N)

if [[ -n "${LVSK_VM_TIMING:-}" ]]; then
  awk -v s="$t_start" -v i="$t_image" -v e="$t_end" \
    'BEGIN { printf "vm timing: image %.2fs, vm %.2fs, total %.2fs\n", i - s, e - i, e - s }' >&2
fi

if [[ -s "$work/status" ]]; then
  status="$(tr -dc '0-9' <"$work/status")"
  exit "${status:-125}"
fi
if ((qemu_status == 124 || qemu_status == 137)); then
  printf 'vm: error: VM timed out after %ss (command did not finish); last console lines:\n' \
    "$timeout_sec" >&2
  tail -n 20 "$work/console.log" | tr -d '\r' >&2
  exit 124
fi
if grep -aq 'Kernel panic' "$work/console.log"; then
  reason="the kernel panicked"
else
  reason="qemu exit $qemu_status, no end marker"
fi
if [[ -e "$work/started" ]]; then
  # The command's output, panic included, has been streamed above already.
  printf 'vm: error: VM stopped before the command finished (%s)\n' "$reason" >&2
else
  printf 'vm: error: VM failed before starting the command (%s); last console lines:\n' "$reason" >&2
  tail -n 40 "$work/console.log" | tr -d '\r' >&2
fi
[[ -s "$work/qemu.err" ]] && { printf 'qemu said:\n' >&2; cat "$work/qemu.err" >&2; }
exit 125
