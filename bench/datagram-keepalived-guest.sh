#!/bin/bash
# Runs inside the IPVS VM (see bench/datagram-checkers.sh). For each CHECK:N:D triple (CHECK is
# PING or UDP): N loopback real servers (127.1.x.y) with PING_CHECK or UDP_CHECK at delay_loop D in
# one keepalived.conf; keepalived's checker (`keepalived -C`) and then lvskeeper's daemon
# (`lvskeeper run -f` the same file) each run WARM s, then are measured for WINDOW s by the same
# counters:
#   probes = PING: the kernel's Icmp InEchos (echo requests the loopback host answered);
#            UDP: the kernel's Udp NoPorts (datagrams to the closed port 18081, each answered by
#            an ICMP port unreachable): nothing else pings or sends UDP in the VM.
#   CPU    = utime+stime of the checking process from /proc/PID/stat (keepalived: its checker
#            child, from -c PIDFILE; lvskeeper: the whole daemon).
#   RSS    = VmRSS of that process at the end of the window.
# usage: guest.sh WINDOW WARM CHECK:N:D [CHECK:N:D...]
set -u
window=$1 warm=$2
shift 2
ulimit -n 1048576
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
cd /tmp

# snmp PROTO FIELD: the kernel's counter FIELD of PROTO from /proc/net/snmp
snmp() {
  awk -v p="$1:" -v f="$2" '$1 == p { if (!h) { for (i = 2; i <= NF; i++) if ($i == f) c = i; h = 1 } else { print $c; exit } }' /proc/net/snmp
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$1/status" 2>/dev/null; }

# threads PID: "tid name ticks" per thread
threads() {
  local t
  for t in /proc/"$1"/task/*; do
    [ -r "$t/comm" ] || continue
    echo "${t##*/} $(tr ' ' _ < "$t/comm" 2>/dev/null) $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0)"
  done
}

# measure NAME PID N D PROTO FIELD: one window on PID; prints one line of figures
measure() {
  local name=$1 pid=$2 n=$3 d=$4 proto=$5 field=$6
  local c0 c1 p0 p1 t0 t1
  threads "$pid" > /tmp/threads0
  c0=$(ticks "$pid"); p0=$(snmp "$proto" "$field"); t0=$(date +%s.%N)
  sleep "$window"
  c1=$(ticks "$pid"); p1=$(snmp "$proto" "$field"); t1=$(date +%s.%N)
  threads "$pid" > /tmp/threads1
  awk -v name="$name" -v c=$((c1 - c0)) -v hz="$hz" -v p=$((p1 - p0)) -v t0="$t0" -v t1="$t1" \
    -v rss="$(rss "$pid")" -v want="$((n / d))" -v what="$proto $field" 'BEGIN {
    w = t1 - t0; cpu = c / hz
    printf "%-11s window %.1f s: probes %d (%s) = %.0f/s of %d/s wanted; CPU %.2f s = %.3f CPU-s per 10,000 probes (%.0f%% of one CPU); RSS %s\n",
      name, w, p, what, p / w, want, cpu, (p > 0 ? cpu / p * 10000 : 0), cpu / w * 100, rss }'
  # CPU per thread in the window (threads under 2 % of the window left out)
  awk -v hz="$hz" -v w="$window" 'NR == FNR { t0[$1] = $3; next }
    ($1 in t0) && ($3 - t0[$1]) / hz > 0.02 * w { printf "%s%s %.2f s", (n++ ? ", " : "            threads: "), $2, ($3 - t0[$1]) / hz }
    END { if (n) print "" }' /tmp/threads0 /tmp/threads1
}

# run_side NAME PID MEASURED_PID LOG PROTO FIELD: after the warm-up, one window on MEASURED_PID,
# then stops PID and empties the IPVS table for the next side.
run_side() {
  local name=$1 pid=$2 measured=$3 log=$4 proto=$5 field=$6
  sleep "$warm"
  if [ -n "$measured" ] && [ -d "/proc/$measured" ]; then
    measure "$name" "$measured" "$n" "$d" "$proto" "$field"
    echo "            pid $measured; $(ls -l /proc/"$measured"/fd 2>/dev/null | grep -c socket) sockets open at the end; ping_group_range $(cat /proc/sys/net/ipv4/ping_group_range | tr '\t' ' ')"
  else
    echo "$name not running"; tail -5 "$log"
  fi
  kill "$pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  ipvsadm -C
  sleep 2
}

for triple in "$@"; do
  check=${triple%%:*} rest=${triple#*:}
  n=${rest%%:*} d=${rest##*:}
  conf=/tmp/keepalived-$check-$n-$d.conf
  case $check in
    PING) block=$'PING_CHECK {\n    connect_timeout 3\n    retry 0\n  }'; proto=Icmp; field=InEchos ;;
    UDP) block=$'UDP_CHECK {\n    connect_timeout 3\n    retry 0\n  }'; proto=Udp; field=NoPorts ;;
    *) echo "unknown check $check"; exit 2 ;;
  esac
  {
    echo 'global_defs { router_id hb }'
    echo 'virtual_server 10.99.0.1 80 {'
    echo "  delay_loop $d"
    echo '  lb_algo rr'
    echo '  lb_kind NAT'
    echo '  protocol UDP'
    for ((i = 0; i < n; i++)); do
      echo "  real_server 127.1.$((i / 250)).$((i % 250 + 1)) 18081 { $block }"
    done
    echo '}'
  } > "$conf"
  echo "== $n real servers, ${check}_CHECK, delay_loop $d s, one config file; warm-up $warm s, window $window s"

  rm -f /run/kac.pid
  keepalived -C -n -f "$conf" -p /run/ka.pid -c /run/kac.pid > /tmp/ka.log 2>&1 &
  ka=$!
  for _ in $(seq 100); do [ -s /run/kac.pid ] && break; sleep 0.1; done
  echo "   keepalived: $(keepalived -v 2>&1 | head -1)"
  run_side keepalived "$ka" "$(cat /run/kac.pid 2>/dev/null)" /tmp/ka.log "$proto" "$field"

  lvskeeper run -f "$conf" --control-socket /run/lvsk.sock --log-level notice > /tmp/lvsk.log 2>&1 &
  lk=$!
  run_side lvskeeper "$lk" "$lk" /tmp/lvsk.log "$proto" "$field"
done
