#!/bin/bash
# Runs inside the IPVS VM (see bench/memory-vm.sh). For 1, 1,000 and 10,000 real servers
# (TCP_CHECK each, delay_loop 10, connect_timeout 3, warmup 0, every real server on a 127.x.y.z
# address at port 9 where nothing listens: each probe is a real connect refused at once), the same
# keepalived.conf runs under keepalived's checker (`keepalived -C`) and then under `lvskeeper run`
# (real IPVS, not --dry-run), one after the other, and each is measured by the same method:
#   RSS = VmRSS of the checking process (keepalived: its checker child, from -c PIDFILE; lvskeeper:
#         the whole daemon) once settled: 10 s after IPVS holds every destination and the first
#         verdicts are in, then five samples a second apart within 1 %.
# Then the marginal RSS per real server between 1,000 and 10,000 for each (VmRSS, and RssAnon: the
# same without clean file-backed pages, whose count moves between runs of one binary), and, for the
# one-server lvskeeper daemon, where its RSS lives (/proc/PID/smaps: file-backed pages per
# library, anonymous pages: heap, thread stacks).
# usage: guest.sh
set -u
ulimit -n 1048576
cd /tmp
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# The anonymous part of RSS (heap, stacks): what the process allocated, without the clean file
# pages of its binary and libraries, which move by ~2 MB between runs of one binary.
anon() { awk '/^RssAnon/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# Anonymous memory in transparent huge pages: each one counts 2 MB of RSS however little of it is used.
huge() { awk '/^AnonHugePages/ {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
# bench/memory-vm.sh THP=never: no transparent huge pages for either process (the kernel default
# otherwise, printed here).
[ -f /opt/mem/thp ] && cat /opt/mem/thp > /sys/kernel/mm/transparent_hugepage/enabled
echo "transparent huge pages: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
settled() {
  local pid=$1 s=() i
  sleep 10
  for i in $(seq 60); do
    s+=("$(rss "$pid")")
    if ((${#s[@]} >= 5)); then
      local last=("${s[@]: -5}") lo=999999999 hi=0 v
      for v in "${last[@]}"; do ((v < lo)) && lo=$v; ((v > hi)) && hi=$v; done
      ((hi - lo <= hi / 100)) && break
    fi
    sleep 1
  done
  echo "${s[-1]}"
}
destinations() { ipvsadm -Ln | grep -c -- '->  *[0-9]'; }
wait_destinations() {
  local want=$1 i
  for i in $(seq 600); do (($(destinations) >= want)) && return 0; sleep 0.5; done
  return 1
}
# smaps_breakdown PID: RSS by mapping kind, largest first
smaps_breakdown() {
  awk '/^[0-9a-f]+-[0-9a-f]+ / { name = ($6 == "" ? "[anon]" : $6); n = split(name, p, "/"); name = p[n]; next }
       /^Rss:/ { rss[name] += $2 }
       END { for (k in rss) if (rss[k] >= 64) printf "%8d kB  %s\n", rss[k], k }' "/proc/$1/smaps" | sort -rn
}
# stop_pid PID: SIGTERM, up to 20 s, then SIGKILL; then an empty IPVS table for the next side.
stop_pid() {
  kill "$1" 2> /dev/null
  for _ in $(seq 200); do kill -0 "$1" 2> /dev/null || break; sleep 0.1; done
  kill -9 "$1" 2> /dev/null
  wait "$1" 2> /dev/null
  ipvsadm -C
  sleep 1
}
declare -A KA LK KAA LKA
for n in 1 1000 10000; do
  conf=/tmp/mem-$n.conf
  {
    echo 'global_defs { router_id mem }'
    vs=$(((n + 9) / 10)) k=0
    for ((v = 0; v < vs; v++)); do
      echo "virtual_server 10.$((v / 250)).$((v % 250)).1 80 {"
      echo '  delay_loop 10'
      echo '  lb_algo wrr'
      echo '  lb_kind NAT'
      echo '  protocol TCP'
      for ((r = 0; r < 10 && k < n; r++, k++)); do
        echo "  real_server 127.$((1 + k / 62500)).$(((k / 250) % 250)).$((k % 250 + 1)) 9 {"
        echo '    weight 1'
        echo '    TCP_CHECK {'
        echo '      connect_timeout 3'
        echo '      warmup 0'
        echo '    }'
        echo '  }'
      done
      echo '}'
    done
  } > "$conf"
  # keepalived keeps a refused server in IPVS until its first failure; inhibit is not set, so the
  # table empties as verdicts arrive. Wait for the adds, then for the verdicts (table empty).
  rm -f /run/kac.pid
  keepalived -C -n -f "$conf" -p /run/ka.pid -c /run/kac.pid > /tmp/ka.log 2>&1 &
  ka=$!
  for _ in $(seq 100); do [ -s /run/kac.pid ] && break; sleep 0.1; done
  kc=$(cat /run/kac.pid 2>/dev/null)
  sleep 5
  for _ in $(seq 240); do (($(destinations) == 0)) && break; sleep 0.5; done
  KA[$n]=$(settled "$kc")
  KAA[$n]=$(anon "$kc")
  echo "keepalived -C, $n real servers: checker child VmRSS ${KA[$n]} kB, RssAnon ${KAA[$n]} kB, AnonHugePages $(huge "$kc") kB (IPVS destinations left: $(destinations))"
  stop_pid "$ka"

  lvskeeper run -f "$conf" --control-socket /run/lvsk.sock --pid-file /run/lvsk.pid --log-level notice > /tmp/lvsk.log 2>&1 &
  lk=$!
  # Every first verdict is in (each refused server's DOWN is logged) before anything is measured.
  for _ in $(seq 600); do
    kill -0 "$lk" 2> /dev/null || { echo "lvskeeper exited:"; tail -20 /tmp/lvsk.log; exit 1; }
    (($(grep -c ' is DOWN:' /tmp/lvsk.log) >= n)) && break
    sleep 0.5
  done
  LK[$n]=$(settled "$lk")
  LKA[$n]=$(anon "$lk")
  echo "lvskeeper run,  $n real servers: daemon VmRSS ${LK[$n]} kB, RssAnon ${LKA[$n]} kB, AnonHugePages $(huge "$lk") kB (DOWN verdicts: $(grep -c ' is DOWN:' /tmp/lvsk.log), IPVS destinations: $(destinations))"
  if ((n == 1)); then
    echo "  where the one-server daemon's RSS lives (/proc/$lk/smaps, mappings >= 64 kB):"
    smaps_breakdown "$lk" | sed 's/^/  /'
    echo "  threads: $(ls /proc/$lk/task | wc -l)"
  fi
  stop_pid "$lk"
done
awk -v k1="${KA[1000]}" -v k2="${KA[10000]}" -v l1="${LK[1000]}" -v l2="${LK[10000]}" 'BEGIN {
  printf "marginal RSS per real server, 1,000 -> 10,000: keepalived checker %.2f KB, lvskeeper daemon %.2f KB (%.2fx)\n",
    (k2 - k1) / 9000, (l2 - l1) / 9000, (k2 > k1 ? (l2 - l1) / (k2 - k1) : 0) }'
awk -v k1="${KAA[1000]}" -v k2="${KAA[10000]}" -v l1="${LKA[1000]}" -v l2="${LKA[10000]}" 'BEGIN {
  printf "marginal RssAnon per real server, 1,000 -> 10,000: keepalived checker %.2f KB, lvskeeper daemon %.2f KB (%.2fx)\n",
    (k2 - k1) / 9000, (l2 - l1) / 9000, (k2 > k1 ? (l2 - l1) / (k2 - k1) : 0) }'
