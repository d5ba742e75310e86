#!/usr/bin/env bash
# End-to-end test of the lvskeeper daemon on a real IPVS kernel: builds lvskeeper and runs vm/e2e/director-pair-guest.sh inside the VM: a director pair in namespaces,
# nginx real servers, a client counting requests through real-server failure, reload (good and
# bad), kill -9 and restart, master death, preemption and SIGTERM.
#
# usage: e2e.sh [--demo] [--release]
#   --demo: run the directors on etc/nat-master.conf and etc/nat-backup.conf unchanged, and print
#           status and figures (scripts/demo); the default uses vm/e2e/director.conf.in.
# Last line: "N passed, M failed"; exit status 0 only when all passed.
set -euo pipefail
script_dir="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
source "$script_dir/lib/common.sh"
project="$(cd "$script_dir/.." && pwd)"
config=debug
envs=()
while (($#)); do
  case "$1" in
    --demo) envs+=(--env LAB_DEMO=1 --env LAB_CONFIG=etc); shift ;;
    --release) config=release; shift ;;
    *) vm_die "unknown option $1" ;;
  esac
done
"$script_dir/build-kernel.sh" >/dev/null
bin="$(vm_build_lvskeeper "$config")"
# The MariaDB real server's datadir is made here, where mariadb-install-db runs natively.
db_dir="$(mktemp -d /tmp/lvskeeper-e2e-db.XXXXXX)"
trap 'rm -rf "$db_dir"' EXIT
mariadb-install-db --no-defaults --user=root --datadir="$db_dir/data" --auth-root-authentication-method=normal \
  --skip-test-db --innodb-log-file-size=4M >"$db_dir/install.log" 2>&1 ||
  vm_die "mariadb-install-db failed: $(tail -n 5 "$db_dir/install.log")"
"$script_dir/run-in-vm.sh" --timeout 900 --mem 1536 --smp 2 "${envs[@]}" \
  --with-bin "$bin" --with-program ip --with-program nginx --with-bin /usr/sbin/mariadbd \
  --with-file "$db_dir/data:/var/lib/lab-db" --with-file /usr/share/mysql:/usr/share/mysql \
  --with-file "$script_dir/lab:/opt/lab" --with-file "$script_dir/e2e:/opt/e2e" --with-file "$project/etc:/opt/etc" \
  --with-file "$script_dir/e2e/lvskeeper-notify.sh:/usr/local/sbin/lvskeeper-notify.sh" \
  --with-bin /usr/bin/setpriv --setup 'ln -sf /usr/local/bin/setpriv /usr/bin/setpriv' \
  --setup 'ln -sf /bin/busybox /usr/bin/ping' \
  -- bash /opt/e2e/director-pair-guest.sh
