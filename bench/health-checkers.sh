#!/usr/bin/env bash
# Checker benchmark: N TCP_CHECK checkers at delay_loop 1 against loopback listeners
# (127.1.x.y:18080, one listener per address, in separate acceptor processes so their CPU is
# not counted). Prints CPU seconds per 10,000 probes, RSS, probe-start lateness and missed
# intervals for 10,000 and 50,000 checkers; then, if the IPVS VM harness exists, keepalived's
# checker and HealthBench side by side inside the VM on the same 10,000-server config.
# usage: bench/health-checkers.sh [WINDOW_SECONDS]   (output also saved to bench/results/health-checkers.txt)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
window="${1:-20}"
out="$root/bench/results/health-checkers.txt"
vm="${LVSK_VM_HARNESS:-/work/wt/vm/vm/run-in-vm.sh}"
cd "$root"
swift build -c release --product HealthBench >/dev/null
bin="$(swift build -c release --show-bin-path)/HealthBench"
# HB_VM_ONLY=1 skips the host runs and appends the VM comparison to the results file.
if [[ "${HB_VM_ONLY:-0}" == 1 ]]; then exec > >(tee -a "$out") 2>&1; else exec > >(tee "$out") 2>&1; fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap cleanup EXIT

run_host() {
  local n=$1 chunk=12500 first=0
  pids=()
  while ((first < n)); do
    local count=$((n - first < chunk ? n - first : chunk))
    "$bin" serve --first "$first" --count "$count" --port 18080 > "/tmp/hb-serve-$first.log" 2>&1 &
    pids+=($!)
    first=$((first + count))
  done
  for f in /tmp/hb-serve-*.log; do
    for _ in $(seq 300); do grep -q listening "$f" && break; sleep 0.2; done
  done
  "$bin" check --servers "$n" --port 18080 --seconds "$window" --warmup 5 || echo "HealthBench check failed: exit $?"
  cleanup
  rm -f /tmp/hb-serve-*.log
}

echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
{
  echo "# bench/health-checkers.sh $window  ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores shared with other builds, $(uname -r))"
  echo "# command: HealthBench check --servers N --port 18080 --seconds $window --warmup 5 (release build, 1 event loop thread)"
  for n in 10000 50000; do
    [[ "${HB_VM_ONLY:-0}" == 1 ]] && break
    echo
    echo "## host, $n checkers"
    run_host "$n"
  done
  echo
  if [[ -x "$vm" ]]; then
    echo "## inside the IPVS VM (qemu TCG, 2 vCPUs): keepalived --check vs HealthBench, 10000 real servers"
    conf="$(mktemp -d)"
    {
      echo 'global_defs { router_id hb }'
      echo 'virtual_server 10.99.0.1 80 {'
      echo '  delay_loop 1'
      echo '  lb_algo rr'
      echo '  lb_kind NAT'
      echo '  protocol TCP'
      for ((i = 0; i < 10000; i++)); do
        echo "  real_server 127.1.$((i / 250)).$((i % 250 + 1)) 18080 { TCP_CHECK { connect_timeout 3 } }"
      done
      echo '}'
    } > "$conf/keepalived.conf"
    cp "$root/bench/health-keepalived-guest.sh" "$conf/guest.sh"
    "$vm" --timeout 900 --smp 2 --mem 2048 --with-bin "$bin" --with-program keepalived \
      --with-file "$conf:/opt/hb" -- bash /opt/hb/guest.sh 10000 "$window" 20 || echo "VM run failed: exit $?"
    rm -rf "$conf"
  else
    echo "## keepalived side by side: missing (VM harness $vm not found)"
  fi
}
