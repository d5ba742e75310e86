#!/bin/bash
# Runs inside the IPVS VM (see bench/health-mysql.sh). One real MariaDB (mariadbd on 0.0.0.0:3306,
# so every 127.1.x.y of lo reaches it) and, for each N:D pair, N real servers 127.1.x.y:3306 at
# delay_loop D checked four ways, one after the other, each WARM s then a WINDOW s measurement:
#   keepalived  MISC_CHECK running `mariadb-admin ping` with the check user (keepalived has no
#               MySQL checker; this is what its users run), keepalived's checker process;
#   lvskeeper   MYSQL_CHECK with the same user (login + COM_QUIT), the whole daemon;
#   lvskeeper   MYSQL_CHECK without a user (greeting only);
#   lvskeeper   TCP_CHECK on port 3306, the floor.
# Counters, the same for every side:
#   probes = the kernel's TCP PassiveOpens (/proc/net/snmp): connections mariadbd accepted;
#            nothing else connects in the VM (mariadb-admin connects once per ping).
#   CPU    = utime+stime+cutime+cstime of the measured process from /proc/PID/stat: children
#            (keepalived's scripts) are counted once the process reaps them.
#   RSS    = VmRSS at the end of the window; Aborted_connects of the server over the window.
# usage: guest.sh WINDOW WARM N:D [N:D...]
set -u
window=$1 warm=$2
shift 2
ulimit -n 1048576
hz=$(getconf CLK_TCK 2>/dev/null || echo 100)
cd /tmp
data=/tmp/mariadb-data
cp -a /opt/hm/data "$data"
mariadbd --no-defaults --datadir="$data" --socket=/tmp/mysql.sock --port=3306 --bind-address=0.0.0.0 \
  --user=root --pid-file=/tmp/mariadb.pid --log-error=/tmp/mariadb.err --skip-log-bin \
  --innodb-buffer-pool-size=16M --skip-name-resolve --max-connections=2000 \
  --lc-messages-dir=/usr/share/mysql --character-sets-dir=/usr/share/mysql/charsets --thread-cache-size=64 &
db=$!
for _ in $(seq 600); do [ -S /tmp/mysql.sock ] && break; sleep 0.2; done
[ -S /tmp/mysql.sock ] || { echo "mariadbd did not start"; cat /tmp/mariadb.err; exit 1; }
mariadb --no-defaults -S /tmp/mysql.sock -u root -e \
  "CREATE USER 'probe'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('s3cret');" \
  || { echo "cannot create the check user"; cat /tmp/mariadb.err; exit 1; }
echo "# $(mariadbd --version)"
echo "# $(keepalived -v 2>&1 | head -1)"

status() {
  mariadb --no-defaults -S /tmp/mysql.sock -u root -N -B -e "SHOW GLOBAL STATUS LIKE '$1'" | cut -f2
}
passive() { awk '/^Tcp:/ { if (h) { print $7; exit } ; h = 1 }' /proc/net/snmp; }
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss() { awk '/^VmRSS/ {print $2 " kB"}' "/proc/$1/status" 2>/dev/null; }

# measure NAME PID N D
measure() {
  local name=$1 pid=$2 n=$3 d=$4
  local c0 c1 p0 p1 t0 t1 ab0 ab1
  ab0=$(status Aborted_connects)
  c0=$(ticks "$pid"); p0=$(passive); t0=$(date +%s.%N)
  sleep "$window"
  c1=$(ticks "$pid"); p1=$(passive); t1=$(date +%s.%N)
  ab1=$(status Aborted_connects)
  awk -v name="$name" -v c=$((c1 - c0)) -v hz="$hz" -v p=$((p1 - p0)) -v t0="$t0" -v t1="$t1" \
    -v rss="$(rss "$pid")" -v want="$n / $d" -v ab=$((ab1 - ab0)) 'BEGIN {
    w = t1 - t0; cpu = c / hz; split(want, x, " / "); wanted = x[1] / x[2]
    printf "%-26s window %.1f s: probes %d = %.1f/s of %.1f/s wanted (%.0f%% of intervals kept); CPU %.2f s = %.3f CPU-s per 10,000 probes (%.0f%% of one CPU); RSS %s; server Aborted_connects +%d\n",
      name, w, p, p / w, wanted, (wanted > 0 ? 100 * p / w / wanted : 0), cpu, (p > 0 ? cpu / p * 10000 : 0), cpu / w * 100, rss, ab }'
}

# side NAME PID MEASURED_PID LOG
side() {
  local name=$1 pid=$2 measured=$3 log=$4
  sleep "$warm"
  if [ -n "$measured" ] && [ -d "/proc/$measured" ]; then
    measure "$name" "$measured" "$n" "$d"
    echo "                           IPVS destinations: $(ipvsadm -Ln | grep -c -- '->  *[0-9]'); log lines: $(wc -l < "$log"), down/failed: $(grep -ciE 'down|fail' "$log")"
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

# config N D CHECKER-BLOCK-FOR-ADDRESS-FUNCTION
config() {
  local n=$1 d=$2 kind=$3 i a
  echo 'global_defs { router_id hm }'
  echo 'virtual_server 10.99.0.1 3306 {'
  echo "  delay_loop $d"
  echo '  lb_algo rr'
  echo '  lb_kind NAT'
  echo '  protocol TCP'
  for ((i = 0; i < n; i++)); do
    a="127.1.$((i / 250)).$((i % 250 + 1))"
    case $kind in
      misc) echo "  real_server $a 3306 { MISC_CHECK { misc_path \"/usr/local/bin/mariadb-admin --no-defaults -h $a -P 3306 -u probe -ps3cret --connect-timeout=3 ping\" misc_timeout 3 } }" ;;
      # one statement per line (keepalived's grammar too): user and password on their own lines
      mysql) printf '  real_server %s 3306 {\n    MYSQL_CHECK {\n      user probe\n      password s3cret\n      connect_timeout 3\n    }\n  }\n' "$a" ;;
      greeting) echo "  real_server $a 3306 { MYSQL_CHECK { connect_timeout 3 } }" ;;
      tcp) echo "  real_server $a 3306 { TCP_CHECK { connect_timeout 3 } }" ;;
    esac
  done
  echo '}'
}

for pair in "$@"; do
  n=${pair%%:*} d=${pair##*:}
  echo "== $n real servers (one MariaDB), delay_loop $d s; warm-up $warm s, window $window s"
  config "$n" "$d" misc > /tmp/misc.conf
  rm -f /run/kac.pid
  keepalived -C -n -f /tmp/misc.conf -p /run/ka.pid -c /run/kac.pid > /tmp/ka.log 2>&1 &
  ka=$!
  for _ in $(seq 100); do [ -s /run/kac.pid ] && break; sleep 0.1; done
  side "keepalived MISC_CHECK" "$ka" "$(cat /run/kac.pid 2>/dev/null)" /tmp/ka.log
  for kind in mysql greeting tcp; do
    config "$n" "$d" "$kind" > /tmp/$kind.conf
    lvskeeper run -f /tmp/$kind.conf --control-socket /run/lvsk.sock --log-level notice > /tmp/lvsk-$kind.log 2>&1 &
    lk=$!
    case $kind in
      mysql) label="lvskeeper MYSQL_CHECK user" ;;
      greeting) label="lvskeeper MYSQL_CHECK greet" ;;
      tcp) label="lvskeeper TCP_CHECK" ;;
    esac
    side "$label" "$lk" "$lk" /tmp/lvsk-$kind.log
  done
done
kill "$db"
wait "$db" 2>/dev/null
