#!/usr/bin/env bash
# BFD side by side: N sessions at MS milliseconds between lvskeeper (namespace A) and keepalived's
# own BFD (namespace B) over one veth pair. Both ends agree on the same intervals, so each side
# sends and receives the same number of packets: the CPU each process spends per 100,000 packets
# handled (in + out) is comparable. Then the peer is killed (kill -9, nothing sent) and the time
# until all N sessions are Down on the surviving side is taken, both ways (status polled every
# 5 ms; keepalived's side from its "Expired after" log lines). Needs root, iproute2, keepalived.
#   N=50 MS=10 DURATION=30 bench/bfd.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-50}
MS=${MS:-10}
DURATION=${DURATION:-30}
MULT=${MULT:-3}
# LVSKEEPER_BIN: a binary to use instead of building the release one.
if [ -z "${LVSKEEPER_BIN:-}" ]; then
  swift build -c release --product lvskeeper >/dev/null
  BIN="$(swift build -c release --show-bin-path)/lvskeeper"
else
  BIN="$LVSKEEPER_BIN"
fi
A="lvsk-bfdbench-a-$$"
B="lvsk-bfdbench-b-$$"
DIR="$(mktemp -d /tmp/lvsk-bfdbench-XXXXXX)"
SOCK="$DIR/control.sock"

cleanup() {
  for ns in "$A" "$B"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  [ -n "${KEEP:-}" ] || rm -rf "$DIR"
}
trap cleanup EXIT

ip netns add "$A"
ip netns add "$B"
ip -n "$A" link set lo up
ip -n "$B" link set lo up
ip link add va netns "$A" type veth peer name vb netns "$B"
addr_a() { echo "10.79.$(($1 / 250)).$(($1 % 250 + 1))"; }
addr_b() { echo "10.79.$((100 + $1 / 250)).$(($1 % 250 + 1))"; }
: >"$DIR/a.batch"
: >"$DIR/b.batch"
for i in $(seq 0 $((N - 1))); do
  echo "addr add $(addr_a "$i")/16 dev va" >>"$DIR/a.batch"
  echo "addr add $(addr_b "$i")/16 dev vb" >>"$DIR/b.batch"
done
ip -n "$A" -batch "$DIR/a.batch"
ip -n "$B" -batch "$DIR/b.batch"
ip -n "$A" link set va up
ip -n "$B" link set vb up

{
  echo "global_defs { router_id bench_a }"
  for i in $(seq 0 $((N - 1))); do
    printf 'bfd_instance s%d {\n  neighbor_ip %s\n  source_ip %s\n  min_rx %s\n  min_tx %s\n  multiplier %s\n}\n' \
      "$i" "$(addr_b "$i")" "$(addr_a "$i")" "$MS" "$MS" "$MULT"
  done
} >"$DIR/lvskeeper.conf"
{
  echo "global_defs { router_id bench_b }"
  for i in $(seq 0 $((N - 1))); do
    printf 'bfd_instance s%d {\n  neighbor_ip %s\n  source_ip %s\n  min_rx %s\n  min_tx %s\n  multiplier %s\n}\n' \
      "$i" "$(addr_a "$i")" "$(addr_b "$i")" "$MS" "$MS" "$MULT"
  done
} >"$DIR/keepalived.conf"

start_keepalived() { # RUN: pid files of their own (a killed run's pid may still be taken)
  ip netns exec "$B" keepalived -n -l -f "$DIR/keepalived.conf" -p "$DIR/k$1.pid" -r "$DIR/k$1.vrrp.pid" \
    -b "$DIR/k$1.bfd.pid" -c "$DIR/k$1.check.pid" >>"$DIR/keepalived.log" 2>&1 &
}
start_lvskeeper() {
  ip netns exec "$A" "$BIN" run --dry-run --config "$DIR/lvskeeper.conf" --control-socket "$SOCK" \
    >>"$DIR/lvskeeper.log" 2>&1 &
  LVSK_PID=$!
}
status_json() { "$BIN" status --json --control-socket "$SOCK" 2>/dev/null || true; }
count_up() { status_json | grep -o '"up" *: *true' | wc -l; }
count_down() { status_json | grep -o '"up" *: *false' | wc -l; }
wait_until() { # seconds, command...
  local limit=$1
  shift
  local end=$((SECONDS + limit))
  until "$@"; do
    if ((SECONDS > end)); then
      echo "timed out waiting for: $*" >&2
      tail -n 20 "$DIR/lvskeeper.log" "$DIR/keepalived.log" >&2
      status_json | head -c 2000 >&2
      exit 1
    fi
    sleep 0.05
  done
}
all_up() { [ "$(count_up)" -eq "$N" ]; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }

start_lvskeeper
start_keepalived 1
wait_until 60 all_up
wait_until 10 test -s "$DIR/k1.bfd.pid"
KBFD=$(cat "$DIR/k1.bfd.pid")
sleep 3 # poll sequences done, steady rate
HZ=$(getconf CLK_TCK)
packets() { status_json | grep -o '"packets\(In\|Out\)" *: *[0-9]*' | awk -F: '{s += $2} END {print s}'; }
p0=$(packets)
l0=$(cpu_ticks "$LVSK_PID")
k0=$(cpu_ticks "$KBFD")
sleep "$DURATION"
p1=$(packets)
l1=$(cpu_ticks "$LVSK_PID")
k1=$(cpu_ticks "$KBFD")
handled=$((p1 - p0))
echo "BFD, $N sessions at ${MS} ms x $MULT, $DURATION s, veth between namespaces"
echo "packets handled per side (in + out): $handled ($((handled / DURATION))/s)"
awk -v l=$((l1 - l0)) -v k=$((k1 - k0)) -v hz="$HZ" -v p="$handled" 'BEGIN {
  lc = l / hz; kc = k / hz
  printf "CPU-s: lvskeeper whole daemon %.2f, keepalived BFD process %.2f\n", lc, kc
  printf "CPU-s per 100,000 packets: lvskeeper %.3f, keepalived %.3f, ratio %.2f\n", lc * 1e5 / p, kc * 1e5 / p, (kc > 0 ? lc / kc : 0)
}'

# keepalived killed without a word: lvskeeper's sessions expire.
t0=$(now)
ip netns pids "$B" | xargs -r kill -9
all_down() { [ "$(count_down)" -eq "$N" ]; }
wait_until 30 all_down
t1=$(now)
awk -v a="$t0" -v b="$t1" -v ms="$MS" -v m="$MULT" 'BEGIN {
  printf "peer killed -> all sessions Down at lvskeeper: %.0f ms (detection time %d ms, status polled)\n", (b - a) * 1000, ms * m }'

# And the other way: lvskeeper killed, keepalived's sessions expire.
start_keepalived 2
wait_until 60 all_up
sleep 3
before=$(grep -c "Expired after" "$DIR/keepalived.log" || true)
t0=$(now)
kill -9 "$LVSK_PID"
expired() { [ $(($(grep -c "Expired after" "$DIR/keepalived.log" || true) - before)) -ge "$N" ]; }
wait_until 30 expired
t1=$(now)
awk -v a="$t0" -v b="$t1" -v ms="$MS" -v m="$MULT" 'BEGIN {
  printf "lvskeeper killed -> all sessions expired at keepalived: %.0f ms (detection time %d ms, log polled)\n", (b - a) * 1000, ms * m }'
grep "Expired after" "$DIR/keepalived.log" | tail -n "$N" | sed 's/.*Expired after \([0-9]*\) ms.*/\1/' |
  sort -n | awk '{a[NR] = $1} END {printf "keepalived: time since the last packet when it expired, ms: median %s, max %s\n", a[int((NR + 1) / 2)], a[NR]}'
