#!/usr/bin/env bash
# MYSQL_CHECK benchmark (issue #12 goal 1), in the IPVS VM (qemu TCG, same boot for every side):
# one real MariaDB and N real servers (127.1.x.y:3306, all reaching it) at delay_loop D, checked by
# keepalived's checker running the equivalent MISC_CHECK (`mariadb-admin ping` as the check user),
# by the lvskeeper daemon's MYSQL_CHECK (with the user, then greeting only) and by its TCP_CHECK (the
# floor). CPU per probe from /proc/PID/stat, children's CPU included (bench/health-mysql-guest.sh).
# usage: bench/health-mysql.sh [WINDOW_SECONDS] [N:D ...]   (output appended to bench/results/health-mysql.txt)
#   HM_WARM           seconds each side runs before its window (default 20)
#   LVSK_VM_HARNESS   the VM runner (default vm/run-in-vm.sh)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
window="${1:-30}"
shift || true
pairs=("$@")
((${#pairs[@]})) || pairs=(100:5 100:1)
out="$root/bench/results/health-mysql.txt"
vm="${LVSK_VM_HARNESS:-$root/vm/run-in-vm.sh}"
cd "$root"
# One release scratch path for every bench script (health-checkers.sh and memory-reload.sh use it too).
scratch="${HB_SCRATCH:-.build-release}"
swift build -c release --scratch-path "$scratch" --product lvskeeper >/dev/null
binpath="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
# Each run is appended (the file's earlier runs stay above it).
exec > >(tee -a "$out") 2>&1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/hm"
# The datadir is made here (mariadb-install-db needs more of the system than the VM carries).
mariadb-install-db --no-defaults --datadir="$work/hm/data" --user=root --skip-test-db \
  --auth-root-authentication-method=socket >/dev/null
cp "$root/bench/health-mysql-guest.sh" "$work/hm/guest.sh"
echo "# bench/health-mysql.sh $window ${pairs[*]}   $(date -u +%Y-%m-%dT%H:%MZ), host $(uname -r), $(nproc) cores SHARED with other helpers' builds"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $vm --smp 2 --mem 4096 ... -- guest.sh $window ${HM_WARM:-20} ${pairs[*]}"
"$vm" --timeout 1800 --smp 2 --mem 4096 --with-bin "$binpath/lvskeeper" --with-bin /usr/sbin/mariadbd \
  --with-bin /usr/bin/mariadb --with-bin /usr/bin/mariadb-admin --with-program keepalived \
  --with-file "$work/hm:/opt/hm" --with-file /usr/share/mysql:/usr/share/mysql \
  -- bash /opt/hm/guest.sh "$window" "${HM_WARM:-20}" "${pairs[@]}" || echo "VM run failed: exit $?"
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
