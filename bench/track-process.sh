#!/bin/sh
# track_process cost: lvskeeper's whole daemon vs keepalived's VRRP process, both tracking one
# process by name (a copy of /bin/sleep) while a shell runs N short processes (/bin/true: each a
# fork, an exec and an exit event on the kernel's proc connector, which both must read). Both run
# at once, so they see the same events; CPU is utime+stime from /proc/PID/stat across the storm.
# Needs root (proc connector, veth). The daemons run in the initial network namespace (the only
# one the kernel sends process events to) on the host ends of veth pairs whose other ends sit in
# a namespace of this script's own, so adverts go nowhere else.
# Usage: LVSKEEPER_BIN=<release lvskeeper> sh bench/track-process.sh [N]   (default N 20000)
set -eu
cd "$(dirname "$0")/.."
N=${1:-20000}
BIN=${LVSKEEPER_BIN:-$(swift build -c release --show-bin-path)/lvskeeper}
[ -x "$BIN" ] || { echo "no release lvskeeper at $BIN (swift build -c release --product lvskeeper)"; exit 1; }
KEEPALIVED=$(command -v keepalived || echo /usr/sbin/keepalived)
tag=$$
ns=lvsk-btp-$tag
work=/tmp/lvsk-bench-tp-$tag
name=benchtp$tag
mkdir -p "$work"
cp /bin/sleep "$work/$name"

cleanup() {
  for f in "$work"/*.pidof; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  [ -f "$work/k.pid" ] && kill "$(cat "$work/k.pid")" 2>/dev/null || true
  sleep 1
  ip link del vbl$tag 2>/dev/null || true
  ip link del vbk$tag 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
ip link add vbl$tag type veth peer name p0 netns "$ns"
ip link add vbk$tag type veth peer name p1 netns "$ns"
ip addr add 10.81.0.1/24 dev vbl$tag && ip link set vbl$tag up
ip addr add 10.82.0.1/24 dev vbk$tag && ip link set vbk$tag up
ip -n "$ns" link set p0 up && ip -n "$ns" link set p1 up

conf() {
  cat <<EOF
global_defs {
  router_id bench-track-process
}
vrrp_track_process tp {
  process $name
  weight 10
}
vrrp_instance VI_1 {
  state BACKUP
  interface $1
  virtual_router_id 61
  priority 100
  advert_int 1
  virtual_ipaddress {
    $2/32
  }
  track_process {
    tp
  }
}
EOF
}
conf vbl$tag 10.81.0.100 >"$work/l.conf"
conf vbk$tag 10.82.0.100 >"$work/k.conf"

"$work/$name" 3600 &
echo $! >"$work/sleep.pidof"
"$BIN" run -f "$work/l.conf" --control-socket "$work/l.sock" >"$work/l.log" 2>&1 &
echo $! >"$work/l.pidof"
"$KEEPALIVED" -n -l -D --vrrp -f "$work/k.conf" -p "$work/k.pid" -r "$work/k.vrrp.pid" >"$work/k.log" 2>&1 &
sleep 6
L=$(cat "$work/l.pidof")
K=$(cat "$work/k.vrrp.pid")
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)

l0=$(cpu "$L"); k0=$(cpu "$K"); t0=$(date +%s.%N)
i=0
while [ $i -lt "$N" ]; do /bin/true; i=$((i + 1)); done
sleep 2
l1=$(cpu "$L"); k1=$(cpu "$K"); t1=$(date +%s.%N)
# The same wall time with no storm: what both spend on adverts and timers alone.
sleep "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
l2=$(cpu "$L"); k2=$(cpu "$K")

lstate=$("$BIN" status --json --control-socket "$work/l.sock" 2>/dev/null | tr -d ' \n' | grep -o '"effectivePriority":[0-9]*' | head -1 || true)
echo "track_process: $N processes started and ended while both daemons tracked '$name' (weight 10)"
echo "wall time of the storm: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s; kernel $(uname -r); keepalived $("$KEEPALIVED" -v 2>&1 | head -1)"
awk -v n="$N" -v tick="$tick" -v l="$((l1 - l0))" -v k="$((k1 - k0))" -v li="$((l2 - l1))" -v ki="$((k2 - k1))" 'BEGIN {
  printf "CPU during the storm (ms):   lvskeeper daemon %d, keepalived VRRP process %d\n", l * 1000 / tick, k * 1000 / tick
  printf "CPU idle, same wall time (ms): lvskeeper daemon %d, keepalived VRRP process %d\n", li * 1000 / tick, ki * 1000 / tick
  printf "per 10,000 processes, storm minus idle (ms): lvskeeper %.1f, keepalived %.1f, ratio %.2f\n",
    (l - li) * 1000 / tick * 10000 / n, (k - ki) * 1000 / tick * 10000 / n,
    ((k - ki) > 0 ? (l - li) / (k - ki) : 0)
}'
echo "lvskeeper VI_1 with the tracked process running: $lstate (base 100, weight 10)"
echo "lvskeeper lost-event rescans: $(grep -c 'process events were lost' "$work/l.log" || true)"
echo "keepalived missed-message reports: $(grep -ci 'missed' "$work/k.log" || true)"
