#!/usr/bin/env bash
# Builds the SwiftPM product IPVSKernelTests (static Swift stdlib) and runs it inside the IPVS VM.
#
# usage: kernel-tests.sh [--project DIR] [--release] [--timeout SEC] [--mem MB] [--smp N]
#                        [--with-bin PATH]... [--with-file SRC:DEST]... [--] [TEST ARGS...]
#   --project DIR   SwiftPM package to build (default: the repository holding this script)
#   --release       build with -c release (default debug: it shares .build/debug with `swift test`,
#                   so CI only links; a cold release build costs far more on 2 cores)
#   other options are passed to run-in-vm.sh; iproute2's `ip` is always included (--with-program ip).
# Everything after the options (or after --) is passed to IPVSKernelTests. Exit status is the
# test executable's (its last line reads "N passed, M failed"); 124/125 are harness failures.
set -euo pipefail
umask 022
script_dir="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
source "$script_dir/lib/common.sh"

project="$(cd "$script_dir/.." && pwd)"
config=debug
vm_args=()
while (($#)); do
  vm_take_run_option "$@"
  if ((vm_shift)); then shift "$vm_shift"; continue; fi
  case "$1" in
    --project) project="${2:?--project needs a directory}"; shift 2 ;;
    --release) config=release; shift ;;
    --debug) config=debug; shift ;;
    -h | --help) vm_usage "${BASH_SOURCE[0]}"; exit 0 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
vm_locate_swift_project

# Prepare the kernel while nothing else runs, so build logs and download logs do not interleave.
"$script_dir/build-kernel.sh" >/dev/null

vm_log "building IPVSKernelTests ($config, static Swift stdlib) in $project"
build=("$swift_bin" build --package-path "$project" -c "$config" --static-swift-stdlib
  --product IPVSKernelTests)
"${build[@]}" >&2 || vm_die "swift build of IPVSKernelTests failed"
bin_dir="$("${build[@]}" --show-bin-path)"
test_bin="$bin_dir/IPVSKernelTests"
[[ -x "$test_bin" ]] || vm_die "built product not found at $test_bin"

# iproute2's ip (busybox's has no netns) at /usr/bin/ip, with /etc/iproute2.
vm_args+=(--with-program ip)

exec "$script_dir/run-in-vm.sh" "${vm_args[@]}" --with-bin "$test_bin" -- IPVSKernelTests "$@"
