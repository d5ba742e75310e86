#!/usr/bin/env bash
# Checker benchmark. Host part: N TCP_CHECK checkers (HealthBench, the daemon's HealthMonitor;
# TCP_CHECK runs on its one engine thread) against loopback listeners (127.1.x.y:18080, one per
# address, in separate acceptor processes so their CPU is not counted), for N/delay_loop =
# 10000/1, 50000/1, 50000/2, 50000/3 and 50000/5. The checker is pinned to CPU 0 and the
# acceptors to CPU 1 (taskset), so "one core" is literal. Prints probes/s, CPU seconds per 10,000 probes, RSS, probe-start lateness,
# missed intervals and, per busy thread, time on a CPU / runnable-waiting / asleep. Then the
# kernel's own cost of one probe on this host (bench/probe-floor.c tcp, one probe in flight:
# socket, connect, epoll, close in a C loop). VM part (if the IPVS VM harness exists): keepalived's checker and the
# lvskeeper daemon on the same keepalived.conf, counted the same way
# (bench/health-keepalived-guest.sh), TCP_CHECK and, with http:/ssl: pairs, HTTP_GET and SSL_GET
# against nginx; a RATIO line per pair gives lvskeeper's CPU per probe over keepalived's.
# usage: bench/health-checkers.sh [WINDOW_SECONDS]   (output also saved to bench/results/health-checkers.txt)
#   HB_VM_ONLY=1      skip the host part and append the VM part to the results file
#   HB_VM_PAIRS       the VM's [KIND:]N:delay_loop triples, KIND tcp (default), http (HTTP_GET) or
#                     ssl (SSL_GET) against nginx in the guest (default "10000:1 5000:10")
#   HB_VM_WARM        seconds each side runs before its window (default 60; 50,000 servers need
#                     minutes under TCG before either program has programmed IPVS and probes)
#   HB_STRACE=SECS    after each side's window, count its system calls for SECS s (strace -c -f)
#                     and print them per probe (STRACE lines); not part of the CPU window
#   HB_VM_FLOOR=0     skip the C floor loops inside the VM (bench/probe-floor.c: the same probe, TCP,
#                     HTTP or TLS, from a plain C epoll loop; printed as FLOOR lines beside RATIO)
#   LVSK_VM_HARNESS   the VM runner (default vm/run-in-vm.sh; a missing path skips the VM part)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
window="${1:-20}"
out="$root/bench/results/health-checkers.txt"
vm="${LVSK_VM_HARNESS:-$root/vm/run-in-vm.sh}"
cd "$root"
# One release scratch path for every bench script (memory-reload.sh and check-config-peak.sh use it too).
scratch="${HB_SCRATCH:-.build-release}"
swift build -c release --scratch-path "$scratch" --product HealthBench >/dev/null
swift build -c release --scratch-path "$scratch" --product lvskeeper >/dev/null
binpath="$(swift build -c release --scratch-path "$scratch" --show-bin-path)"
bin="$binpath/HealthBench"
if [[ "${HB_VM_ONLY:-0}" == 1 ]]; then exec > >(tee -a "$out") 2>&1; else exec > >(tee "$out") 2>&1; fi
logs="$(mktemp -d)"
pids=()
stop_acceptors() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
trap 'stop_acceptors; rm -rf "$logs"' EXIT

start_acceptors() {
  local n=$1 chunk=12500 first=0 files=()
  while ((first < n)); do
    local count=$((n - first < chunk ? n - first : chunk))
    taskset -c "$acceptor_cpu" "$bin" serve --first "$first" --count "$count" --port 18080 > "$logs/serve-$first.log" 2>&1 &
    pids+=($!)
    files+=("$logs/serve-$first.log")
    first=$((first + count))
  done
  for f in "${files[@]}"; do
    for _ in $(seq 600); do grep -qs listening "$f" && break; sleep 0.2; done
    grep -qs listening "$f" || { echo "acceptor did not start: $f"; cat "$f"; return 1; }
  done
}

checker_cpu=0
acceptor_cpu=$(($(nproc) > 1 ? 1 : 0))
echo "# bench/health-checkers.sh $window   $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) cores SHARED with other helpers' builds"
echo "# load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
cc -O2 -o "$logs/probe-floor" "$root/bench/probe-floor.c" -lssl -lcrypto || true
if [[ "${HB_VM_ONLY:-0}" != 1 ]]; then
  echo "# host: taskset -c $checker_cpu HealthBench check --servers N --delay-loop D --port 18080 --seconds $window --warmup 5 (release); acceptors on CPU $acceptor_cpu"
  start_acceptors 50000
  for nd in 10000:1 50000:1 50000:2 50000:3 50000:5; do
    n=${nd%%:*} d=${nd##*:}
    echo
    echo "## host, $n checkers, delay_loop $d s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    taskset -c "$checker_cpu" "$bin" check --servers "$n" --delay-loop "$d" --port 18080 --seconds "$window" --warmup 5 \
      || echo "HealthBench check failed: exit $?"
  done
  echo
  echo "## kernel floor: one TCP_CHECK probe at a time as a C loop (bench/probe-floor.c tcp), same listeners"
  if [[ -x "$logs/probe-floor" ]]; then
    taskset -c "$checker_cpu" "$logs/probe-floor" tcp 50000 18080 50000 1 || echo "probe-floor: exit $? (some probes failed)"
  else
    echo "no C compiler: floor not measured"
  fi
  stop_acceptors
fi
echo
if [[ -x "$vm" ]]; then
  pairs="${HB_VM_PAIRS:-10000:1 5000:10}"
  echo "## inside the IPVS VM (qemu TCG, 2 vCPUs): keepalived --check vs lvskeeper run, same config, same counters"
  warm="${HB_VM_WARM:-60}"
  echo "# $vm --smp 2 --mem 4096 ... -- guest.sh $window $warm $pairs"
  conf="$(mktemp -d)"
  cp "$root/bench/health-keepalived-guest.sh" "$conf/guest.sh"
  # SSL_GET's responder (nginx in the guest): an ECDSA P-256 certificate, cheap to sign with.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=hb \
    -keyout "$conf/key.pem" -out "$conf/cert.pem" 2>/dev/null
  floor=()
  [[ -x "$logs/probe-floor" && "${HB_VM_FLOOR:-1}" == 1 ]] && floor=(--with-bin "$logs/probe-floor")
  tracing=()
  [[ -n "${HB_STRACE:-}" ]] && tracing=(--with-bin strace --env "HB_STRACE=$HB_STRACE")
  "$vm" --timeout 1800 --smp 2 --mem 4096 --with-bin "$bin" --with-bin "$binpath/lvskeeper" "${floor[@]}" "${tracing[@]}" \
    --with-program keepalived --with-program nginx --with-file "$conf:/opt/hb" -- bash /opt/hb/guest.sh "$window" "$warm" $pairs \
    || echo "VM run failed: exit $?"
  rm -rf "$conf"
else
  echo "## keepalived side by side: skipped (VM harness $vm not found)"
fi
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
