#!/bin/bash
# Runs inside the IPVS VM (see bench/reload-vm.sh): /opt/rl/big-0.conf .. big-RELOADS.conf.
# keepalived's checker (`keepalived -C`) and then `lvskeeper run` (real IPVS) load big-0.conf; once
# IPVS holds only the up servers (every refused one has had its first verdict) and the process has
# settled, each reload copies big-I.conf over the running file and sends SIGHUP (keepalived: to its
# parent, which passes it to the checker; lvskeeper: to the daemon). Same method for both:
#   reload CPU = utime+stime of the checking process(es) from the signal until their CPU rate is
#                back at the idle rate measured over the 10 s before the signal (three 1 s samples
#                in a row within idle + 2 ticks), minus that idle rate over the same time;
#                keepalived: parent and checker child, printed apart and summed;
#   wall       = from the signal to the first of those idle samples (1 s resolution);
#   IPVS       = lines of `ipvsadm -Ln` in only one of before/after (2 expected: one weight, old and new
#                line; the guest has no diff(1)).
# usage: guest.sh RELOADS [KEEPALIVED_RELOADS (1)] [CAP_SECONDS (600)]
set -u
reloads=${1:-3}
ka_reloads=${2:-1}
cap=${3:-600}
ulimit -n 1048576
cd /tmp
hz=$(getconf CLK_TCK 2> /dev/null || echo 100)  # USER_HZ: 100 on Linux
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
destinations() { ipvsadm -Ln | grep -c -- '->  *[0-9]'; }
up=$reloads
HealthBench serve --first 0 --count 1 --port 18080 > /tmp/serve.log 2>&1 &
for _ in $(seq 300); do grep -qs listening /tmp/serve.log && break; sleep 0.2; done
grep -s listening /tmp/serve.log || { echo "listener did not start"; exit 1; }
cp /opt/rl/big-0.conf /tmp/big.conf

# wait_settled: until IPVS holds only the up servers, then 20 s more.
wait_settled() {
  local i
  for i in $(seq 1800); do (($(destinations) == up)) && break; sleep 1; done
  (($(destinations) == up)) || echo "  (IPVS still holds $(destinations) destinations, $up expected)"
  sleep 20
}

# ipvs_lines: `ipvsadm -Ln`, each destination line prefixed with its service (the same real server in
# several services gives identical lines otherwise).
ipvs_lines() { ipvsadm -Ln | awk '/^(TCP|UDP|SCTP|FWM)/ { service = $2 } { print service, $0 }'; }

# reload_all NAME COUNT CAP SIGNAL_PID COUNT_PIDS...: COUNT reloads, one line each; a reload still
# busy after CAP seconds is reported as not finished (its CPU so far is a lower bound).
reload_all() {
  local name=$1 count=$2 cap=$3 signal=$4 i
  shift 4
  for ((i = 1; i <= count; i++)); do
    local t0 t1 w0 w1 idle before after start now last quiet=0 done_at="" per=() p
    t0=$(ticks "$@"); w0=$(date +%s.%N); sleep 10; t1=$(ticks "$@"); w1=$(date +%s.%N)
    idle=$(awk -v d=$((t1 - t0)) -v a="$w0" -v b="$w1" 'BEGIN { printf "%.4f", d / (b - a) }')  # ticks/s
    for p in "$@"; do per+=("$(ticks "$p")"); done
    ipvs_lines > /tmp/ipvs-before
    cp "/opt/rl/big-$i.conf" /tmp/big.conf
    before=$(ticks "$@")
    start=$(date +%s.%N)
    kill -HUP "$signal"
    last=$before
    while :; do
      sleep 1
      now=$(ticks "$@")
      local t=$(date +%s.%N)
      # Quiet: this sample's ticks per second within the idle rate plus 2 ticks.
      if awk -v d=$((now - last)) -v idle="$idle" -v dt="$(awk -v a="$w1" -v b="$t" 'BEGIN { print b - a }')" \
        'BEGIN { exit !(d <= idle * dt + 2) }'; then
        quiet=$((quiet + 1))
        [[ -z "$done_at" ]] && done_at=$t
      else
        quiet=0
        done_at=""
      fi
      w1=$t
      last=$now
      ((quiet >= 3)) && break
      (($(awk -v a="$start" -v b="$t" 'BEGIN { print int(b - a) }') >= cap)) && { done_at=""; break; }
    done
    after=$now
    local end=$(date +%s.%N)
    ipvs_lines > /tmp/ipvs-after
    local parts="" k=0
    for p in "$@"; do
      parts+=" $(awk -v a="$(ticks "$p")" -v b="${per[$k]}" -v hz="$hz" 'BEGIN { printf "%.2f", (a - b) / hz }')"
      k=$((k + 1))
    done
    awk -v name="$name" -v i="$i" -v d=$((after - before)) -v idle="$idle" -v s="$start" -v e="$end" \
      -v doneat="$done_at" -v hz="$hz" -v parts="$parts" -v cap="$cap" \
      -v diff="$(sort /tmp/ipvs-before /tmp/ipvs-after | uniq -u | wc -l)" 'BEGIN {
      cpu = (d - idle * (e - s)) / hz
      if (doneat == "")
        printf "%-10s reload %d: NOT FINISHED after %d s: CPU so far %.2f s (raw %.2f s minus idle %.3f s/s; per process:%s), ipvsadm -Ln lines differing so far: %d\n",
          name, i, cap, cpu, d / hz, idle / hz, parts, diff
      else
        printf "%-10s reload %d: CPU %.2f s (raw %.2f s minus idle %.3f s/s over %.1f s; per process:%s), wall %.1f s (to the first quiet 1 s sample), ipvsadm -Ln lines differing: %d\n",
          name, i, cpu, d / hz, idle / hz, e - s, parts, doneat - s - 1, diff }'
  done
}

echo "== keepalived $(keepalived -v 2>&1 | head -1 | awk '{print $2}') -C"
rm -f /run/kac.pid /run/ka.pid
keepalived -C -n -f /tmp/big.conf -p /run/ka.pid -c /run/kac.pid > /tmp/ka.log 2>&1 &
ka=$!
for _ in $(seq 300); do [ -s /run/kac.pid ] && break; sleep 0.2; done
kc=$(cat /run/kac.pid 2> /dev/null)
s0=$(date +%s)
wait_settled
echo "keepalived start: settled after $(($(date +%s) - s0)) s, parent CPU $(awk -v t="$(ticks "$ka")" -v hz="$hz" 'BEGIN {print t / hz}') s, checker CPU $(awk -v t="$(ticks "$kc")" -v hz="$hz" 'BEGIN {print t / hz}') s, IPVS destinations $(destinations), checker VmRSS $(awk '/^VmRSS/ {print $2}' /proc/$kc/status) kB"
reload_all keepalived "$ka_reloads" "$cap" "$ka" "$ka" "$kc"
kill -0 "$kc" 2> /dev/null || echo "  (keepalived's checker child $kc is gone: it was restarted)"
kill "$ka"; for _ in $(seq 300); do kill -0 "$ka" 2> /dev/null || break; sleep 0.1; done; kill -9 "$ka" 2> /dev/null
ipvsadm -C
cp /opt/rl/big-0.conf /tmp/big.conf

echo "== lvskeeper run"
lvskeeper run -f /tmp/big.conf --control-socket /run/lvsk.sock --pid-file /run/lvsk.pid --log-level notice > /tmp/lvsk.log 2>&1 &
lk=$!
s0=$(date +%s)
wait_settled
echo "lvskeeper start: settled after $(($(date +%s) - s0)) s, daemon CPU $(awk -v t="$(ticks "$lk")" -v hz="$hz" 'BEGIN {print t / hz}') s, IPVS destinations $(destinations), VmRSS $(awk '/^VmRSS/ {print $2}' /proc/$lk/status) kB"
reload_all lvskeeper "$reloads" "$cap" "$lk" "$lk"
grep -i "reload" /tmp/lvsk.log | tail -3 | sed 's/^/  log: /'
kill "$lk"; wait "$lk" 2> /dev/null
ipvsadm -C
