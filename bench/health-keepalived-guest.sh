#!/bin/bash
# Runs inside the IPVS VM (see bench/health-checkers.sh). For each [KIND:]N:D triple: N loopback
# real servers with KIND (tcp = TCP_CHECK, the default; http = HTTP_GET; ssl = SSL_GET) at
# delay_loop D in one keepalived.conf. HTTP_GET and SSL_GET go to one nginx (worker_processes 2,
# `return 200 "ok"`, port 18081 plain and 18443 TLS with an ECDSA P-256 certificate from
# /opt/hb/cert.pem, listening on the wildcard so every 127.1.x.y reaches it); keepalived's checker
# (`keepalived -C`) and then lvskeeper's daemon (`lvskeeper run -f` the same file) each run
# WARM s, then are measured for WINDOW s by the same counters:
#   probes = the kernel's TCP PassiveOpens (/proc/net/snmp): handshakes completed at the
#            listeners, whoever accepts them; nothing else makes TCP connections in the VM.
#            The acceptor's own accept() count is printed as a cross-check.
#   CPU    = utime+stime of the checking process from /proc/PID/stat (keepalived: its checker
#            child, from -c PIDFILE; lvskeeper: the daemon, which also owns the IPVS reconciler).
#   RSS    = VmRSS of that process at the end of the window.
# With HB_STRACE=SECONDS (and strace in the VM) each side's system calls per probe follow its window.
# usage: guest.sh WINDOW WARM [KIND:]N:D [[KIND:]N:D...]
set -u
window=$1 warm=$2
shift 2
ulimit -n 1048576
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
cd /tmp
max=0
for pair in "$@"; do nd=${pair#*[a-z]:}; n=${nd%%:*}; ((n > max)) && max=$n; done
if printf '%s\n' "$@" | grep -qE '^(http|ssl):'; then
  mkdir -p /tmp/nginx
  cat > /tmp/nginx/nginx.conf <<'NGINX'
worker_processes 2;
pid /tmp/nginx/nginx.pid;
error_log /tmp/nginx/error.log;
events { worker_connections 8192; }
http {
  access_log off;
  keepalive_timeout 0;
  server {
    listen 18081 backlog=4096;
    listen 18443 ssl backlog=4096;
    ssl_certificate /opt/hb/cert.pem;
    ssl_certificate_key /opt/hb/key.pem;
    location / { return 200 "ok\n"; }
  }
}
NGINX
  nginx -c /tmp/nginx/nginx.conf || { echo "nginx did not start"; cat /tmp/nginx/error.log; }
fi
HealthBench serve --first 0 --count "$max" --port 18080 --report 1 > /tmp/serve.log 2>&1 &
serve=$!
for _ in $(seq 1200); do grep -qs listening /tmp/serve.log && break; sleep 0.2; done
grep -s listening /tmp/serve.log || { echo "acceptor did not start"; cat /tmp/serve.log; exit 1; }

# floor_side KIND N PORT: the same probe made by bench/probe-floor.c (a plain C epoll loop, 32 in
# flight, no scheduling or verdicts) against the same responders, when it was passed in: the
# kernel's (and for SSL_GET OpenSSL's) own cost of one probe in this VM, for the RATIO line.
floor_side() {
  rm -f /tmp/per10k-floor
  command -v probe-floor > /dev/null || return 0
  local probes=5000
  [ "$1" = ssl ] && probes=500
  probe-floor "$1" "$2" "$3" "$probes" 32 | tee /tmp/floor.out | sed 's/^/floor       /'
  sed -n 's/.*= \([0-9.]*\) CPU-s per 10,000 probes$/\1/p' /tmp/floor.out > /tmp/per10k-floor
}

accepted() { grep '^accepted' /tmp/serve.log | tail -1 | cut -d' ' -f2; }
passive() { awk '/^Tcp:/ { if (h) { print $7; exit } ; h = 1 }' /proc/net/snmp; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$1/status" 2>/dev/null; }

# threads PID: "tid name ticks" per thread
threads() {
  local t
  for t in /proc/"$1"/task/*; do
    # a thread may exit between the listing and the reads
    [ -r "$t/comm" ] || continue
    echo "${t##*/} $(tr ' ' _ < "$t/comm" 2>/dev/null) $(awk '{print $14 + $15}' "$t/stat" 2>/dev/null || echo 0)"
  done
}

# measure NAME PID N D: one window on PID; prints one line of figures
measure() {
  local name=$1 pid=$2 n=$3 d=$4
  local c0 c1 p0 p1 a0 a1 t0 t1
  threads "$pid" > /tmp/threads0
  c0=$(ticks "$pid"); p0=$(passive); a0=$(accepted); t0=$(date +%s.%N)
  sleep "$window"
  c1=$(ticks "$pid"); p1=$(passive); a1=$(accepted); t1=$(date +%s.%N)
  threads "$pid" > /tmp/threads1
  awk -v name="$name" -v c=$((c1 - c0)) -v hz="$hz" -v p=$((p1 - p0)) -v a=$((${a1:-0} - ${a0:-0})) \
    -v t0="$t0" -v t1="$t1" -v rss="$(rss "$pid")" -v want="$((n / d))" 'BEGIN {
    w = t1 - t0; cpu = c / hz
    printf "%-11s window %.1f s: probes %d (passive opens) = %.0f/s of %d/s wanted [acceptor accept()s %.0f/s]; CPU %.2f s = %.3f CPU-s per 10,000 probes (%.0f%% of one CPU); RSS %s\n",
      name, w, p, p / w, want, a / w, cpu, (p > 0 ? cpu / p * 10000 : 0), cpu / w * 100, rss
    printf "%.4f %.3f\n", (p > 0 ? cpu / p * 10000 : 0), (want > 0 ? p / w / want : 0) > ("/tmp/per10k-" name) }'
  # CPU per thread in the window (threads under 2 % of the window left out)
  awk -v hz="$hz" -v w="$window" 'NR == FNR { t0[$1] = $3; next }
    ($1 in t0) && ($3 - t0[$1]) / hz > 0.02 * w { printf "%s%s %.2f s", (n++ ? ", " : "            threads: "), $2, ($3 - t0[$1]) / hz }
    END { if (n) print "" }' /tmp/threads0 /tmp/threads1
}

# strace_side NAME PID: with HB_STRACE=SECONDS (and strace in the VM), counts PID's system calls
# (all threads) for that long after the window, and prints them per probe (per connect(2) call:
# one connection per probe and leg). Outside the window, so it does not inflate the CPU figures.
strace_side() {
  [ -n "${HB_STRACE:-}" ] && command -v strace > /dev/null || return 0
  timeout -s INT "$HB_STRACE" strace -c -f -p "$2" -o /tmp/strace.txt > /dev/null 2>&1
  awk -v name="$1" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $NF != "total" { calls[$NF] = $4; order[n++] = $NF }
    END {
      c = calls["connect"]
      if (c == 0) { print "STRACE " name ": no connect(2) seen"; exit }
      line = sprintf("STRACE %-10s system calls per probe (%d connects):", name, c)
      for (i = 0; i < n; i++) { total += calls[order[i]]; line = line sprintf(" %s %.2f", order[i], calls[order[i]] / c) }
      print line sprintf("; total %.2f", total / c) }' /tmp/strace.txt
}

# run_side NAME PID MEASURED_PID LOG LABEL: after the warm-up, one window on MEASURED_PID (the
# checking process), then stops PID and empties the IPVS table for the next side.
run_side() {
  local name=$1 pid=$2 measured=$3 log=$4 label=$5
  sleep "$warm"
  if [ -n "$measured" ] && [ -d "/proc/$measured" ]; then
    local l0 l1
    l0=$(wc -l < "$log")
    measure "$name" "$measured" "$n" "$d"
    l1=$(wc -l < "$log")
    # Health transitions logged in the window (lvskeeper logs them at notice; keepalived logs to syslog, absent here).
    echo "            $label $measured; IPVS destinations: $(ipvsadm -Ln | grep -c -- '->  *[0-9]'); log lines: $(wc -l < "$log"), in the window $((l1 - l0)) of which down/failed: $(sed -n "$((l0 + 1)),${l1}p" "$log" | grep -ciE 'down|fail')"
    # The first down lines, with their reasons (lvskeeper logs them; keepalived's go to syslog).
    grep -iE 'down|fail' "$log" | head -3 | sed 's/^/            first down: /'
    strace_side "$name" "$measured"
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

for pair in "$@"; do
  kind=tcp
  case $pair in [a-z]*:*) kind=${pair%%:*} pair=${pair#*:} ;; esac
  n=${pair%%:*} d=${pair##*:}
  case $kind in
    # lvskeeper reads one statement per line: the url block is spread over lines (keepalived
    # takes either form).
    http) port=18081 check=$'HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 3\n    }' name=HTTP_GET ;;
    ssl) port=18443 check=$'SSL_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 3\n    }' name=SSL_GET ;;
    *) port=18080 check='TCP_CHECK { connect_timeout 3 }' name=TCP_CHECK ;;
  esac
  conf=/tmp/keepalived-$kind-$n-$d.conf
  {
    echo 'global_defs { router_id hb }'
    echo 'virtual_server 10.99.0.1 80 {'
    echo "  delay_loop $d"
    echo '  lb_algo rr'
    echo '  lb_kind NAT'
    echo '  protocol TCP'
    for ((i = 0; i < n; i++)); do
      printf '  real_server 127.1.%d.%d %d {\n    %s\n  }\n' $((i / 250)) $((i % 250 + 1)) "$port" "$check"
    done
    echo '}'
  } > "$conf"
  echo "== $n real servers, $name, delay_loop $d s, one config file; warm-up $warm s, window $window s"

  rm -f /run/kac.pid
  keepalived -C -n -f "$conf" -p /run/ka.pid -c /run/kac.pid > /tmp/ka.log 2>&1 &
  ka=$!
  for _ in $(seq 100); do [ -s /run/kac.pid ] && break; sleep 0.1; done
  run_side keepalived "$ka" "$(cat /run/kac.pid 2>/dev/null)" /tmp/ka.log \
    "$(keepalived -v 2>&1 | head -1), checker child pid"

  lvskeeper run -f "$conf" --control-socket /run/lvsk.sock --log-level notice > /tmp/lvsk.log 2>&1 &
  lk=$!
  run_side lvskeeper "$lk" "$lk" /tmp/lvsk.log "lvskeeper run -f (same file), pid"
  floor_side "$kind" "$n" "$port"
  if [ -s /tmp/per10k-keepalived ] && [ -s /tmp/per10k-lvskeeper ]; then
    read -r ka_cost ka_kept < /tmp/per10k-keepalived
    read -r lk_cost lk_kept < /tmp/per10k-lvskeeper
    awk -v k="$ka_cost" -v l="$lk_cost" -v kk="$ka_kept" -v lk="$lk_kept" -v what="$name $n@$d" 'BEGIN {
      printf "RATIO %s: lvskeeper %.3f / keepalived %.3f CPU-s per 10,000 probes = %.2fx; intervals kept: keepalived %.0f%%, lvskeeper %.0f%%\n",
        what, l, k, (k > 0 ? l / k : 0), kk * 100, lk * 100 }'
    if [ -s /tmp/per10k-floor ]; then
      awk -v k="$ka_cost" -v l="$lk_cost" -v f="$(cat /tmp/per10k-floor)" -v what="$name $n@$d" 'BEGIN {
        printf "FLOOR %s: the probe alone (C loop) %.3f CPU-s per 10,000 = %.2fx keepalived, %.2fx lvskeeper; lvskeeper above the floor %.3f, keepalived above it %.3f\n",
          what, f, (k > 0 ? f / k : 0), (l > 0 ? f / l : 0), l - f, k - f }'
    fi
  fi
  rm -f /tmp/per10k-keepalived /tmp/per10k-lvskeeper /tmp/per10k-floor
done
kill "$serve"
[ -s /tmp/nginx/nginx.pid ] && kill "$(cat /tmp/nginx/nginx.pid)"
