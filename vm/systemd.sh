#!/usr/bin/env bash
# lvskeeper under a real systemd: boots the systemd VM (run-in-vm.sh --systemd, a Debian 12 root
# whose init is systemd) and runs vm/systemd/guest.sh there, which installs lvskeeper and drives it
# with systemctl only (start and READY=1, reload good and bad, stop, watchdog, VRRP + TCP_CHECK +
# IPVS under the unit's capabilities, scripts as script_user).
#
# usage: systemd.sh [--deb FILE] [run-in-vm options]
#   --deb FILE   install this Debian package in the guest. Default: scripts/package --output
#                when scripts/package exists, else the release binary
#                (swift build -c release --static-swift-stdlib) and systemd/lvskeeper.service
#                installed by hand at the package's paths.
# Last line: "N passed, M failed"; exit status 0 only when all passed.
set -euo pipefail
script_dir="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
source "$script_dir/lib/common.sh"
project="$(cd "$script_dir/.." && pwd)"
deb=""
vm_args=()
while (($#)); do
  case "$1" in
    --deb) deb="$(readlink -f "${2:?--deb needs a file}")"; shift 2 ;;
    -h | --help) vm_usage "${BASH_SOURCE[0]}"; exit 0 ;;
    *)
      vm_take_run_option "$@"
      ((vm_shift)) || vm_die "unknown option $1"
      shift "$vm_shift"
      ;;
  esac
done
work="$(mktemp -d /tmp/lvskeeper-systemd-vm.XXXXXX)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pkg" "$work/payload"
cp "$project/systemd/lvskeeper.service" "$work/payload/"
if [[ -z "$deb" && -x "$project/scripts/package" ]]; then
  vm_log "building the Debian package (scripts/package)"
  # The release build shares the default scratch path (.build) with the hand-install path.
  "$project/scripts/package" --output "$work/pkg" --build-dir "$project/.build" >&2 ||
    vm_die "scripts/package failed"
  deb="$(find "$work/pkg" -maxdepth 1 -name 'lvskeeper_*.deb' | head -n1)"
  [[ -n "$deb" ]] || vm_die "scripts/package made no lvskeeper_*.deb"
fi
if [[ -n "$deb" ]]; then
  [[ "$deb" == "$work/pkg/"* ]] || cp "$deb" "$work/pkg/"
else
  swift_bin="$(command -v swift || echo /opt/swift/usr/bin/swift)"
  build=("$swift_bin" build --package-path "$project" -c release --static-swift-stdlib --product lvskeeper)
  vm_log "building lvskeeper (release, static Swift runtime)"
  "${build[@]}" >&2 || vm_die "swift build of lvskeeper failed"
  # Stripped as a package would ship it (the debug info is most of its 120 MB).
  strip -o "$work/payload/lvskeeper" "$("${build[@]}" --show-bin-path)/lvskeeper" ||
    cp "$("${build[@]}" --show-bin-path)/lvskeeper" "$work/payload/lvskeeper"
fi
"$script_dir/run-in-vm.sh" --systemd --timeout 600 --mem 1536 "${vm_args[@]}" \
  --with-file "$work/pkg:/opt/pkg" --with-file "$work/payload:/opt/payload" \
  --with-file "$script_dir/lab:/opt/lab" --with-file "$script_dir/systemd:/opt/systemd" \
  -- bash /opt/systemd/guest.sh
