#!/usr/bin/env bash
# How fast BIRD 2 carries what lvskeeper's `announce` does to a BGP peer (docs/scaleout.md).
# Two network namespaces joined by veth: D runs BIRD learning kernel table 100 and exporting it
# over BGP to R's BIRD. A tun device in D carries a VIP; the script adds and deletes the route
# `VIP/32 dev TUN table 100 proto 250` (what lvskeeper does on quorum changes) and deletes the
# tun (what the kernel does when lvskeeper dies), and reports, per run, the milliseconds until
# R's BIRD (birdc, polled every 5 ms: each poll itself costs milliseconds) shows or drops the
# route. Needs root, bird2 and iproute2 (scripts/setup-deps).
#
# usage: bench/announce-bird.sh [RUNS]   (default 5)
set -euo pipefail
runs="${1:-5}"
tag=$$
d="lvsk-benchd-$tag" r="lvsk-benchr-$tag" tun="lvskb$tag" vip=192.0.2.99
work="$(mktemp -d /tmp/lvsk-announce-bench.XXXXXX)"
cleanup() {
  for f in "$work"/*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true; done
  ip netns del "$d" 2>/dev/null || true
  ip netns del "$r" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$d"; ip netns add "$r"
ip -n "$d" link set lo up; ip -n "$r" link set lo up
ip link add vd netns "$d" type veth peer name vr netns "$r"
ip -n "$d" addr add 10.82.0.1/24 dev vd; ip -n "$r" addr add 10.82.0.2/24 dev vr
ip -n "$d" link set vd up; ip -n "$r" link set vr up
cat >"$work/d.conf" <<CONF
router id 10.82.0.1;
ipv4 table lvsk4;
protocol device { scan time 60; }
protocol kernel lvsk_learn { ipv4 { table lvsk4; import all; export none; }; kernel table 100; learn; scan time 60; }
protocol bgp upstream { local 10.82.0.1 as 65001; neighbor 10.82.0.2 as 65000; ipv4 { table lvsk4; import none; export all; }; }
CONF
cat >"$work/r.conf" <<CONF
router id 10.82.0.2;
protocol device { scan time 60; }
protocol bgp director { local 10.82.0.2 as 65000; neighbor 10.82.0.1 as 65001; ipv4 { import all; export none; }; }
CONF
ip netns exec "$d" bird -c "$work/d.conf" -s "$work/d.ctl" -P "$work/d.pid"
ip netns exec "$r" bird -c "$work/r.conf" -s "$work/r.ctl" -P "$work/r.pid"
for _ in $(seq 100); do
  birdc -s "$work/r.ctl" show protocols | grep -q Established && break
  sleep 0.1
done
seen() { birdc -s "$work/r.ctl" show route "$vip/32" | grep -q "$vip"; }
ms_until() {  # ms_until present|absent
  local t0 t1
  t0=$(date +%s%N)
  if [[ $1 == present ]]; then until seen; do sleep 0.005; done; else while seen; do sleep 0.005; done; fi
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
echo "run add_ms delete_ms tun_removed_ms"
for i in $(seq "$runs"); do
  ip -n "$d" tuntap add dev "$tun" mode tun
  ip -n "$d" link set "$tun" up
  ip -n "$d" addr add "$vip/32" dev "$tun"
  ip -n "$d" route add "$vip/32" dev "$tun" table 100 proto 250; add=$(ms_until present)
  ip -n "$d" route del "$vip/32" dev "$tun" table 100 proto 250; del=$(ms_until absent)
  ip -n "$d" route add "$vip/32" dev "$tun" table 100 proto 250; ms_until present >/dev/null
  ip -n "$d" link del "$tun"; gone=$(ms_until absent)
  echo "$i $add $del $gone"
done
echo "host load: $(cut -d' ' -f1-3 /proc/loadavg); bird $(bird --version 2>&1 | awk '{print $3}')"
