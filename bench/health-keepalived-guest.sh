#!/bin/bash
# Runs inside the IPVS VM (see bench/health-checkers.sh): N loopback listeners, then keepalived's
# checker (TCP_CHECK, delay_loop 1) and lvskeeper's HealthBench in turn against them, each for
# WINDOW seconds after WARM seconds; prints CPU per 10,000 probes from /proc and accept counts.
set -u
n=$1 window=$2 warm=$3
ulimit -n 65536
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
cd /tmp
HealthBench serve --first 0 --count "$n" --port 18080 --report 1 > /tmp/serve.log 2>&1 &
serve=$!
for _ in $(seq 600); do grep -q listening /tmp/serve.log && break; sleep 0.2; done
grep listening /tmp/serve.log || { echo "serve did not start"; cat /tmp/serve.log; exit 1; }
accepted() { grep '^accepted' /tmp/serve.log | tail -1 | cut -d' ' -f2; }
ticks() { local t=0 p; for p in "$@"; do [ -r /proc/$p/stat ] && t=$((t + $(awk '{print $14 + $15}' /proc/$p/stat))); done; echo $t; }

echo "== keepalived $(keepalived -v 2>&1 | head -1) checker, $n real servers, TCP_CHECK delay_loop 1 =="
keepalived -C -n -f /opt/hb/keepalived.conf -p /run/ka.pid -c /run/kac.pid > /tmp/ka.log 2>&1 &
sleep "$warm"
pids=$(pidof keepalived)
c0=$(ticks $pids); a0=$(accepted); t0=$(date +%s.%N)
sleep "$window"
c1=$(ticks $pids); a1=$(accepted); t1=$(date +%s.%N)
rss=$(for p in $pids; do grep VmRSS /proc/$p/status; done | awk '{s+=$2} END {print s " kB"}')
awk -v c=$((c1 - c0)) -v hz="$hz" -v a=$((a1 - a0)) -v t0="$t0" -v t1="$t1" -v rss="$rss" 'BEGIN {
  w = t1 - t0; cpu = c / hz
  printf "window %.1f s: probes (accepts) %d = %.0f/s; keepalived CPU %.2f s = %.3f CPU-s per 10,000 probes (%.0f%% of one CPU); RSS %s\n",
    w, a, a / w, cpu, (a > 0 ? cpu / a * 10000 : 0), cpu / w * 100, rss }'
ipvsadm -Ln | grep -c -- '->' | awk '{print "IPVS destinations programmed by keepalived: " $1 - 1}'
kill $pids 2>/dev/null; sleep 2; kill -9 $pids 2>/dev/null
ipvsadm -C

echo "== lvskeeper HealthBench, same VM, same listeners =="
HealthBench check --servers "$n" --port 18080 --seconds "$window" --warmup "$warm" &
hb=$!
sleep $((warm + 1))
a0=$(accepted); t0=$(date +%s.%N)
sleep $((window - 2))
a1=$(accepted); t1=$(date +%s.%N)
wait $hb
awk -v a=$((a1 - a0)) -v t0="$t0" -v t1="$t1" 'BEGIN { printf "acceptor saw %.0f probes/s during the window\n", a / (t1 - t0) }'
kill $serve
