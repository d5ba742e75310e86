#!/bin/bash
# Runs INSIDE the IPVS VM (started by vm/e2e.sh or scripts/demo): a lvskeeper director pair in
# network namespaces, three nginx real servers behind a NAT VIP, and a client counting requests.
#
#   client 192.168.10.1 ──brf── d1 eth0 .2 / d2 eth0 .3          VIP 192.168.10.100
#   rs1..rs3 10.0.0.11-13, db 10.0.0.21 (MariaDB), sorry 10.0.0.99:8080
#                        ──brb── d1 eth1 10.0.0.2 / d2 eth1 .3  gateway VIP 10.0.0.1
# The addresses are those of etc/nat-master.conf and etc/nat-backup.conf. LAB_CONFIG=etc runs the
# directors on those shipped files unchanged (the demo); the default runs vm/e2e/director.conf.in,
# the same service on the same addresses with faster timers, plus the reload tests.
#
# Each check prints "ok - …" or "not ok - …"; the last line is "N passed, M failed".
# LAB_DEMO=1 prints the narrative (status of both directors, measured figures) for scripts/demo.
set -u
E2E="${E2E_DIR:-/opt/e2e}"
LAB="${LAB_DIR:-/opt/lab}"
LVSK=lvskeeper
demo="${LAB_DEMO:-0}"
source "$LAB/report.sh"
say() { echo; echo "### $*"; }
now() { echo "${EPOCHREALTIME/./}"; }  # microseconds
wait_until() {  # wait_until SECONDS 'condition'
  local deadline=$((SECONDS + $1))
  while ! eval "$2" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

cleanup() {
  for d in d1 d2; do [[ -f /tmp/$d.pid ]] && kill -9 "$(cat /tmp/$d.pid)" 2>/dev/null; done
  [[ -n "${client_pid:-}" ]] && kill "$client_pid" 2>/dev/null
  for ns in $(ip netns list | awk '{print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns"
  done
  ip link del brf 2>/dev/null
  ip link del brb 2>/dev/null
}
trap cleanup EXIT

# ---------------------------------------------------------------- topology
ip link add brf type bridge && ip link set brf up
ip link add brb type bridge && ip link set brb up
attach() {  # attach NS IFNAME BRIDGE ADDRESS/PREFIX
  local peer="v-$1-$2"
  ip link add "$peer" type veth peer name "$2" netns "$1"
  ip link set "$peer" master "$3" up
  ip -n "$1" addr add "$4" dev "$2"
  ip -n "$1" link set "$2" up
}
for ns in d1 d2 client rs1 rs2 rs3 db sorry; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
attach d1 eth0 brf 192.168.10.2/24
attach d1 eth1 brb 10.0.0.2/24
attach d2 eth0 brf 192.168.10.3/24
attach d2 eth1 brb 10.0.0.3/24
attach client eth0 brf 192.168.10.1/24
for rs in rs1:11 rs2:12 rs3:13 db:21 sorry:99; do
  attach "${rs%:*}" eth0 brb "10.0.0.${rs#*:}/24"
  ip -n "${rs%:*}" route add default via 10.0.0.1
done
for d in d1 d2; do ip netns exec "$d" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'; done

# ---------------------------------------------------------------- real servers: nginx
start_nginx() {
  local i=$1 root=/tmp/nginx-rs$1
  mkdir -p "$root"
  sed -e "s|LISTEN|10.0.0.1$i:80|" -e "s|NAME|rs$i|" -e "s|ROOT|$root|g" "$E2E/nginx.conf" >"$root/nginx.conf"
  ip netns exec "rs$i" nginx -c "$root/nginx.conf" -e stderr
}
stop_nginx() { kill "$(cat "/tmp/nginx-rs$1/nginx.pid")" 2>/dev/null; rm -f "/tmp/nginx-rs$1/nginx.pid"; }
for i in 1 2 3; do start_nginx "$i" || bad "nginx rs$i starts"; done

# ---------------------------------------------------------------- MariaDB and the sorry server
# The datadir was made on the host by mariadb-install-db (vm/e2e.sh); --init-file adds the
# account MYSQL_CHECK logs in with.
ip netns exec db mariadbd --no-defaults --user=root --datadir=/var/lib/lab-db --lc-messages-dir=/usr/share/mysql \
  --bind-address=10.0.0.21 --port=3306 --socket=/run/lab-db.sock --skip-name-resolve \
  --innodb-log-file-size=4M --init-file="$E2E/db-init.sql" >/tmp/db.log 2>&1 &
disown $!
mkdir -p /tmp/sorry && echo "sorry" >/tmp/sorry/index.html
ip netns exec sorry httpd -p 10.0.0.99:8080 -h /tmp/sorry

# ---------------------------------------------------------------- directors
write_config() {  # write_config NAME STATE PRIORITY RS3_WEIGHT
  sed -e "s/@NAME@/$1/" -e "s/@STATE@/$2/" -e "s/@PRIORITY@/$3/" -e "s/@RS3_WEIGHT@/$4/" \
    "$E2E/director.conf.in" >"/tmp/$1.conf"
}
start_director() {  # start_director NAME
  ip netns exec "$1" "$LVSK" run --config "/tmp/$1.conf" --control-socket "/run/$1.sock" \
    --state-dir "/tmp/$1.state" --log-level notice >>"/tmp/$1.log" 2>&1 &
  echo $! >"/tmp/$1.pid"
  disown $!  # the lab kills directors on purpose: no "Killed" notice from this shell
}
status() { ip netns exec "$1" "$LVSK" status --control-socket "/run/$1.sock" 2>/dev/null; }
state() { status "$1" | awk -v vi="$front" '$1 == vi { print $2 }'; }
ipvs() { ip netns exec "$1" ipvsadm -Ln; }
rs_weight() { ipvs "$1" | awk -v rs="10.0.0.1$2:80" '$1 == "->" && $2 == rs { print $4 }'; }
has_vip() { ip -n "$1" addr show dev eth0 | grep -q "192.168.10.100/"; }

if [[ ${LAB_CONFIG:-} == etc ]]; then
  # The shipped pair, unchanged: web weights 10 10 5 (rs3 quiesces), delay_loop 5.
  cp /opt/etc/nat-master.conf /tmp/d1.conf
  cp /opt/etc/nat-backup.conf /tmp/d2.conf
  weights="10 10 5" quiesced=3 quiesced_weight=5 detect=40 front=VI_EXTERNAL
else
  write_config d1 MASTER 150 1
  write_config d2 BACKUP 100 1
  weights="1 1 1" quiesced=2 quiesced_weight=1 detect=15 front=VI_FRONT
fi
# Under TCG everything is slow: let MariaDB finish its start before the directors begin to check.
wait_until 60 'ip netns exec db sh -c "echo > /dev/tcp/10.0.0.21/3306"' || bad "MariaDB listens" "$(tail -n 5 /tmp/db.log)"
start_director d1
wait_until 30 '[[ $(state d1) == MASTER ]]'
start_director d2
if wait_until 30 '[[ $(state d1) == MASTER && $(state d2) == BACKUP ]] && has_vip d1 && ! has_vip d2'; then
  ok "d1 is MASTER with the VIP, d2 is BACKUP without it"
else
  bad "election" "d1: $(state d1) d2: $(state d2)" "$(tail -n 20 /tmp/d1.log)" "$(tail -n 20 /tmp/d2.log)"
fi
all_weights() { [[ "$(rs_weight "$1" 1) $(rs_weight "$1" 2) $(rs_weight "$1" 3)" == "$2" ]]; }
if wait_until 20 'all_weights d1 "$weights" && all_weights d2 "$weights"'; then
  ok "both directors hold the IPVS table (the backup is warm), read back by ipvsadm"
else
  bad "IPVS table on both directors" "$(ipvs d1)" "$(ipvs d2)"
fi
db_weight() { ipvs "$1" | awk '$1 == "->" && $2 == "10.0.0.21:3306" { print $4 }'; }
if wait_until 30 '[[ $(db_weight d1) == 1 ]] && status d1 | grep -E "10.0.0.21:3306 .* up +MYSQL_CHECK ok"'; then
  ok "MariaDB real server: MYSQL_CHECK logs in, 10.0.0.21:3306 up in IPVS"
else
  bad "MYSQL_CHECK against MariaDB" "$(status d1 | grep -A2 3306)" "$(tail -n 5 /tmp/db.log)"
fi
if wait_until 15 'ip netns exec d1 ipvsadm -L --daemon | grep -q "master sync daemon.*eth1" &&
  ip netns exec d2 ipvsadm -L --daemon | grep -q "backup sync daemon.*eth1"'; then
  ok "IPVS connection sync daemon follows VRRP: master on d1, backup on d2 (ipvsadm -L --daemon)"
else
  bad "sync daemon follows VRRP" "$(ip netns exec d1 ipvsadm -L --daemon)" "$(ip netns exec d2 ipvsadm -L --daemon)"
fi
if [[ ${LAB_CONFIG:-} != etc ]]; then
  sysctls() { echo "$(ip netns exec "$1" cat /proc/sys/net/ipv4/vs/sloppy_tcp) $(ip netns exec "$1" cat /proc/sys/net/ipv4/vs/conn_reuse_mode)"; }
  if [[ $(sysctls d1) == "1 0" && $(sysctls d2) == "1 0" ]] &&
    status d1 | grep -q "IPVS sysctls: conn_reuse_mode=0 sloppy_sctp=[01] sloppy_tcp=1"; then
    ok "lvs_sloppy_tcp and lvs_conn_reuse_mode 0 written to each director's net.ipv4.vs, read back in status"
  else
    bad "IPVS sysctls" "d1: $(sysctls d1) d2: $(sysctls d2)" "$(status d1 | grep -i sysctl)"
  fi
fi
if ((demo)); then
  say "lvskeeper status on d1 (master)"; status d1
  say "lvskeeper status on d2 (backup)"; status d2
fi

# ---------------------------------------------------------------- client
get() { ip netns exec client timeout 5 wget -q -O - http://192.168.10.100/ 2>/dev/null; }
seen=""
failed=0
for _ in $(seq 1 12); do
  body=$(get) && seen+="$body " || failed=$((failed + 1))
done
if ((failed == 0)) && [[ $seen == *rs1* && $seen == *rs2* && $seen == *rs3* ]]; then
  ok "12 requests through the VIP, all answered, spread over rs1 rs2 rs3"
else
  bad "requests through the VIP" "failed=$failed seen=[$seen]"
fi

# A client loop inside its namespace: one line per request, "START END ok BODY" or
# "START END fail" (microseconds). A request belongs to the step during which it started.
ip netns exec client bash -c '
  while :; do
    start=${EPOCHREALTIME/./}
    if body=$(timeout 3 wget -q -O - http://192.168.10.100/ 2>/dev/null); then
      echo "$start ${EPOCHREALTIME/./} ok $body"
    else
      echo "$start ${EPOCHREALTIME/./} fail"
    fi
    sleep 0.05
  done' >/tmp/client.log 2>/dev/null &
client_pid=$!
disown $!
count() { awk -v s="$1" '$3 == s' /tmp/client.log | wc -l; }
failures_since() { awk -v t="$1" '$1 >= t && $3 == "fail"' /tmp/client.log | wc -l; }
answered_since() { awk -v t="$1" '$1 >= t && $3 == "ok"' /tmp/client.log | wc -l; }
failures_between() { awk -v a="$1" -v b="$2" '$1 >= a && $1 < b && $3 == "fail"' /tmp/client.log | wc -l; }
# longest_gap_since T: the longest time (ms) without an answer after T (the outage the client saw).
longest_gap_since() {
  awk -v t="$1" '$1 >= t && $3 == "ok" { if (last) { gap = $2 - last; if (gap > max) max = gap } last = $2 }
    END { printf "%.0f", max / 1000 }' /tmp/client.log
}
# Steps partition the client's run: "TIME LABEL" lines; every request is counted in the step that
# was under way when it started, so the per-step table adds up to the whole run.
steps=/tmp/steps.log
step() { echo "$(now) $*" >>"$steps"; }
step "steady state: both directors up, all real servers up"

# ---------------------------------------------------------------- a real server fails
say "stopping nginx on rs$quiesced"
step "rs$quiesced fails (nginx stopped) until lvskeeper quiesces it"
stop_nginx "$quiesced"
t=$(now)
if wait_until "$detect" '[[ $(rs_weight d1 $quiesced) == 0 ]]'; then
  tq=$(now)
  step "rs$quiesced quiesced (weight 0), traffic on the others"
  lost=$(failures_between "$t" "$tq")
  ok "rs$quiesced down: quiesced to weight 0 (inhibit_on_failure) after $(((tq - t) / 1000)) ms"
  echo "real-server failure window: $(((tq - t) / 1000)) ms from stopping nginx on rs$quiesced to weight 0;" \
    "$lost request(s) failed in it (rs$quiesced refused connections while IPVS still sent it traffic:" \
    "the detection time of its checker's delay_loop, connect_timeout, retry and delay_before_retry)"
else
  bad "rs$quiesced quiesced" "$(ipvs d1)" "$(tail -n 20 /tmp/d1.log)"
fi
sleep 1
t=$(now)
sleep 2
if ((demo)); then say "lvskeeper status on d1 with rs$quiesced down"; status d1; fi
if (($(failures_since "$t") == 0)) && ! awk -v t="$t" -v rs="rs$quiesced" '$1 >= t && $3 == rs' /tmp/client.log | grep -q .; then
  ok "traffic moved off rs$quiesced: $(answered_since "$t") requests answered by the others, none failed"
else
  bad "traffic off rs$quiesced" "$(awk -v t="$t" '$1 >= t' /tmp/client.log | tail -n 20)"
fi
step "rs$quiesced back (nginx started) until its weight is restored"
start_nginx "$quiesced"
if wait_until "$detect" '[[ $(rs_weight d1 $quiesced) == $quiesced_weight ]]'; then
  ok "rs$quiesced back: weight restored to $quiesced_weight"
else
  bad "rs$quiesced restored" "$(ipvs d1)"
fi

# ---------------------------------------------------------------- reload
if [[ ${LAB_CONFIG:-} != etc ]]; then
say "reload: rs3 weight 1 -> 3"
step "reload (good config, then a bad one)"
transitions_before=$(grep -c "vrrp: VI_FRONT" /tmp/d1.log)
write_config d1 MASTER 150 3
kill -HUP "$(cat /tmp/d1.pid)"
if wait_until 10 '[[ $(rs_weight d1 3) == 3 ]]'; then ok "SIGHUP applied the new weight (ipvsadm reads 3)"; else bad "reload weight" "$(ipvs d1)"; fi
sleep 1.5
if [[ $(grep -c "vrrp: VI_FRONT" /tmp/d1.log) == "$transitions_before" && $(state d1) == MASTER ]]; then
  ok "reload kept VRRP state: no re-election"
else
  bad "reload kept VRRP state" "$(grep "vrrp:" /tmp/d1.log | tail -n 5)"
fi
cp /tmp/d1.conf /tmp/d1.good
printf 'virtual_server 192.168.10.100 81 {\n  lb_algo bogus\n}\n' >>/tmp/d1.conf
answer=$(ip netns exec d1 "$LVSK" reload --control-socket /run/d1.sock 2>&1)
if [[ $answer == *"/tmp/d1.conf:"*":"*"error"* ]] && [[ $(rs_weight d1 3) == 3 && $(state d1) == MASTER ]] &&
  status d1 | grep -q "REFUSED"; then
  ok "bad config refused with file:line ($answer); the old one keeps running"
else
  bad "bad reload refused" "$answer" "$(status d1 | head -n 5)"
fi
cp /tmp/d1.good /tmp/d1.conf

# ---------------------------------------------------------------- lvskeeper server: drain on the kernel
say "lvskeeper server ... drain: weight 0 in the kernel, an open connection keeps working"
rm -f /tmp/held.go /tmp/held.out
# A second client at 192.168.10.5 holds one connection through the VIP open, and sends its
# request only once that connection's real server is drained.
ip netns add held
ip -n held link set lo up
attach held eth0 brf 192.168.10.5/24
ip netns exec held bash -c '
  exec 3<>/dev/tcp/192.168.10.100/80 || exit 1
  while [[ ! -e /tmp/held.go ]]; do sleep 0.1; done
  printf "GET / HTTP/1.0\r\nHost: vip\r\n\r\n" >&3
  timeout 10 cat <&3 >/tmp/held.out' &
held_pid=$!
# The real server IPVS chose for it, from the kernel's connection table.
held_rs() { ip netns exec d1 ipvsadm -Lnc | awk '$3 == "ESTABLISHED" && $4 ~ /^192[.]168[.]10[.]5:/ { print $6 }' | tail -n 1; }
wait_until 20 '[[ -n $(held_rs) ]]'
target=$(held_rs)
n=${target:8:1}
if [[ $target =~ ^10[.]0[.]0[.]1[123]:80$ ]]; then
  configured=$(rs_weight d1 "$n")
  answer=$(ip netns exec d1 "$LVSK" server TCP 192.168.10.100:80 "$target" drain --control-socket /run/d1.sock 2>&1)
  t=$(now)
  if wait_until 10 '[[ $(rs_weight d1 $n) == 0 ]]' && status d1 | grep -qE "$target .*\[drain by uid 0"; then
    ok "server drain: $target at weight 0 in ipvsadm -Ln ($answer)"
  else
    bad "server drain" "target=$target answer=$answer" "$(ipvs d1)" "$(status d1 | grep -A4 ':80 rr')"
  fi
  touch /tmp/held.go
  wait "$held_pid"
  if grep -q "rs$n" /tmp/held.out; then
    ok "the connection opened before the drain was answered by rs$n after it"
  else
    bad "open connection survives the drain" "$(cat /tmp/held.out)"
  fi
  sleep 2
  # From a second after the drain (a request already scheduled may still finish on rs$n).
  if ! awk -v t="$t" -v rs="rs$n" '$1 >= t + 1000000 && $3 == rs' /tmp/client.log | grep -q . &&
    (($(answered_since "$t") > 0)); then
    ok "no new request went to the drained rs$n ($(answered_since "$t") answered by the others)"
  else
    bad "new requests avoid the drained server" "$(awk -v t="$t" '$1 >= t' /tmp/client.log | tail -n 10)"
  fi
  ip netns exec d1 "$LVSK" server TCP 192.168.10.100:80 "$target" ready --control-socket /run/d1.sock >/dev/null
  if wait_until 10 '[[ $(rs_weight d1 $n) == $configured ]]' && ! status d1 | grep -q "\[drain by"; then
    ok "server ready: $target back at weight $configured"
  else
    bad "server ready" "$(ipvs d1)"
  fi
else
  touch /tmp/held.go
  bad "a held connection through the VIP" "target=[$target]" "$(ip netns exec d1 ipvsadm -Lnc | grep -v TIME_WAIT)"
fi
ip netns pids held | xargs -r kill -9 2>/dev/null
ip netns del held
fi

# ---------------------------------------------------------------- kill -9 and restart: adopt
say "kill -9 lvskeeper on d1 and restart it: the kernel keeps forwarding, the table is adopted"
step "kill -9 lvskeeper on the master and restart it"
t=$(now)
kill -9 "$(cat /tmp/d1.pid)"
ip netns exec d1 "$LVSK" run --config /tmp/d1.conf --control-socket /run/d1.sock --state-dir /tmp/d1.state \
  --log-level notice >/tmp/d1.restart.log 2>&1 &
echo $! >/tmp/d1.pid
disown $!
wait_until 15 '[[ $(state d1) == MASTER ]]'
sleep 3
if (($(failures_since "$t") == 0)) && (($(answered_since "$t") > 0)); then
  ok "kill -9 and restart: $(answered_since "$t") requests answered, 0 failed"
else
  bad "restart without failed requests" "failures: $(failures_since "$t")"
fi
if ! grep -qE "ipvs: (add|delete)" /tmp/d1.restart.log && [[ $(ip -n d1 addr show dev eth0 | grep -c "192.168.10.100/") == 1 ]]; then
  ok "restart adopted the IPVS table (no add/delete) and the VIP (not duplicated)"
else
  bad "adopt at restart" "$(grep ipvs: /tmp/d1.restart.log | head)" "$(ip -n d1 addr show dev eth0)"
fi
cat /tmp/d1.restart.log >>/tmp/d1.log

# ---------------------------------------------------------------- the master dies
say "the master dies: kill -9 lvskeeper on d1 and cut d1's links"
step "the master dies (kill -9, links cut) until the client is answered again via d2"
t=$(now)
kill -9 "$(cat /tmp/d1.pid)"
ip -n d1 link set eth0 down
ip -n d1 link set eth1 down
if wait_until 30 '[[ $(state d2) == MASTER ]] && has_vip d2'; then
  took=$((($(now) - t) / 1000))
  ok "d2 took over as MASTER with the VIP after $took ms (protocol bound 3 x advert_int + skew)"
else
  bad "failover to d2" "$(status d2)" "$(tail -n 20 /tmp/d2.log)"
fi
wait_until 10 '(( $(answered_since '"$(now)"') > 0 ))' || true
sleep 2
gap=$(longest_gap_since "$t")
fails=$(failures_since "$t")
if (($(answered_since "$t") > 0)); then
  ok "client kept being answered through failover: longest gap $gap ms, $fails failed request(s)"
else
  bad "client answered after failover" "$(tail -n 10 /tmp/client.log)"
fi
((demo)) && { say "lvskeeper status on d2 (new master)"; status d2; }
echo "failover: master kill -9 -> d2 MASTER ${took:-?} ms; client's longest gap $gap ms; failed requests $fails"

# ---------------------------------------------------------------- d1 returns, preempts; SIGTERM
step "d1 returns and preempts"
ip -n d1 link set eth0 up
ip -n d1 link set eth1 up
start_director d1
if wait_until 40 '[[ $(state d1) == MASTER && $(state d2) == BACKUP ]] && has_vip d1 && ! has_vip d2'; then
  ok "d1 returns and preempts (priority 150 > 100); exactly one master"
else
  bad "preemption" "d1: $(state d1) d2: $(state d2)"
fi
say "SIGTERM to the master: priority 0 advert, VIPs removed, IPVS left in place"
step "SIGTERM to the master (priority 0 advert)"
t=$(now)
kill -TERM "$(cat /tmp/d1.pid)"
if wait_until 30 '[[ $(state d2) == MASTER ]] && has_vip d2'; then
  ok "after SIGTERM d2 is MASTER within $((($(now) - t) / 1000)) ms (priority 0 -> skew time)"
else
  bad "takeover after SIGTERM" "$(status d2)"
fi
if wait_until 10 '! kill -0 $(cat /tmp/d1.pid)' && ! has_vip d1 && [[ -n $(rs_weight d1 1) ]]; then
  ok "d1 exited, removed its VIPs, and left IPVS as it was (lvs_flush_on_stop off)"
else
  bad "SIGTERM cleanup" "$(ip -n d1 addr show dev eth0)" "$(ipvs d1)"
fi
sleep 1
kill "$client_pid" 2>/dev/null
wait_until 5 '! kill -0 $client_pid' || true
step "end"
echo "client: $(count ok) answered, $(count fail) failed over the whole run"
# Every request, by the step under way when it started (the steps partition the run).
say "every request the client sent, by step"
table=$(awk 'FNR == NR { t[++n] = $1; $1 = ""; label[n] = substr($0, 2); next }
  { s = $1; i = 0; for (k = 1; k <= n; k++) if (t[k] <= s) i = k; if (i == 0) i = 1
    if ($3 == "ok") okc[i]++; else failc[i]++ }
  END {
    printf "%-78s %8s %8s %6s\n", "step", "window", "answered", "failed"
    for (k = 1; k < n; k++) {
      printf "%-78s %7.1fs %8d %6d\n", label[k], (t[k + 1] - t[k]) / 1e6, okc[k], failc[k]
      ta += okc[k]; tf += failc[k]
    }
    printf "%-78s %8s %8d %6d\n", "total", "", ta, tf
  }' "$steps" /tmp/client.log)
echo "$table"
read -r _ tot_ok tot_fail <<<"$(echo "$table" | tail -n 1)"
if [[ $tot_ok == "$(count ok)" && $tot_fail == "$(count fail)" ]]; then
  ok "every request is accounted to a step: $tot_ok answered, $tot_fail failed, the same as the whole run's count"
else
  bad "per-step accounting adds up" "table: $tot_ok / $tot_fail, run: $(count ok) / $(count fail)"
fi

report_summary
