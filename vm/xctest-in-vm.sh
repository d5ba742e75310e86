#!/usr/bin/env bash
# Builds the package's XCTest bundle (as `swift test` would) and runs it inside the IPVS VM, so an
# XCTest case can talk to a real IPVS kernel.
#
# usage: xctest-in-vm.sh [--project DIR] [--no-build] [run options] [--] [SELECTOR...]
#   --project DIR   SwiftPM package (default: the repository holding this script)
#   --no-build      reuse the last build
#   run options     --timeout --mem --smp --with-bin --with-file --with-program --setup --env
#                   --verbose --keep, passed to run-in-vm.sh (iproute2's ip is always included)
#   SELECTOR        XCTest selectors: Module.Class or Module.Class/testMethod (default: all tests);
#                   --list-tests lists them
# Exit status is the XCTest bundle's. The bundle links the Swift runtime dynamically; run-in-vm.sh
# copies those libraries from the toolchain. Fixture files are NOT in the VM unless passed with
# --with-file (use the same absolute path if the test finds them through #filePath).
set -euo pipefail
umask 022
script_dir="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
source "$script_dir/lib/common.sh"

project="$(cd "$script_dir/.." && pwd)"
build=1
vm_args=(--with-program ip)
while (($#)); do
  vm_take_run_option "$@"
  if ((vm_shift)); then shift "$vm_shift"; continue; fi
  case "$1" in
    --project) project="${2:?--project needs a directory}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h | --help) vm_usage "${BASH_SOURCE[0]}"; exit 0 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
vm_locate_swift_project

"$script_dir/build-kernel.sh" >/dev/null
if ((build)); then
  vm_log "building tests in $project"
  "$swift_bin" build --package-path "$project" --build-tests >&2 || vm_die "swift build --build-tests failed"
fi
bin_dir="$("$swift_bin" build --package-path "$project" --show-bin-path)"
bundle="$(find "$bin_dir" -maxdepth 1 -name '*PackageTests.xctest' -type f | head -n1)"
[[ -n "$bundle" ]] || vm_die "no *PackageTests.xctest in $bin_dir (build with --build-tests)"

exec "$script_dir/run-in-vm.sh" "${vm_args[@]}" --with-bin "$bundle" -- "$(basename "$bundle")" "$@"
