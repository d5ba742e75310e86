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
mkdir -p /tmp/sorry && echo "sorry" >/tmp/sorry/index.html
ip netns exec sorry httpd -p 10.0.0.99:8080 -h /tmp/sorry

# ---------------------------------------------------------------- directors
write_config() {  # write_config NAME STATE PRIORITY RS3_WEIGHT
  sed -e "s/@NAME@/$1/" -e "s/@STATE@/$2/" -e "s/@PRIORITY@/$3/" -e "s/@RS3_WEIGHT@/$4/" \
    "$E2E/director.conf.in" >"/tmp/$1.conf"
}
start_director() {  # start_director NAME
  ip netns exec "$1" "$LVSK" run --config "/tmp/$1.conf" --control-socket "/run/$1.sock" \
    --log-level notice >>"/tmp/$1.log" 2>&1 &
  echo $! >"/tmp/$1.pid"
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

# A client loop inside its namespace: one line per request, "TIME ok BODY" or "TIME fail".
ip netns exec client bash -c '
  while :; do
    if body=$(timeout 3 wget -q -O - http://192.168.10.100/ 2>/dev/null); then
      echo "${EPOCHREALTIME/./} ok $body"
    else
      echo "${EPOCHREALTIME/./} fail"
    fi
    sleep 0.05
  done' >/tmp/client.log 2>/dev/null &
client_pid=$!
count() { grep -c " $1" /tmp/client.log; }
failures_since() { awk -v t="$1" '$1 >= t && $2 == "fail"' /tmp/client.log | wc -l; }
answered_since() { awk -v t="$1" '$1 >= t && $2 == "ok"' /tmp/client.log | wc -l; }
# longest_gap_since T: the longest time (ms) without an answer after T (the outage the client saw).
longest_gap_since() {
  awk -v t="$1" '$1 >= t && $2 == "ok" { if (last) { gap = $1 - last; if (gap > max) max = gap } last = $1 }
    END { printf "%.0f", max / 1000 }' /tmp/client.log
}

# ---------------------------------------------------------------- a real server fails
say "stopping nginx on rs$quiesced"
stop_nginx "$quiesced"
t=$(now)
if wait_until "$detect" '[[ $(rs_weight d1 $quiesced) == 0 ]]'; then
  ok "rs$quiesced down: quiesced to weight 0 (inhibit_on_failure) after $((($(now) - t) / 1000)) ms"
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
start_nginx "$quiesced"
if wait_until "$detect" '[[ $(rs_weight d1 $quiesced) == $quiesced_weight ]]'; then
  ok "rs$quiesced back: weight restored to $quiesced_weight"
else
  bad "rs$quiesced restored" "$(ipvs d1)"
fi

# ---------------------------------------------------------------- reload
if [[ ${LAB_CONFIG:-} != etc ]]; then
say "reload: rs3 weight 1 -> 3"
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
fi

# ---------------------------------------------------------------- kill -9 and restart: adopt
say "kill -9 lvskeeper on d1 and restart it: the kernel keeps forwarding, the table is adopted"
t=$(now)
kill -9 "$(cat /tmp/d1.pid)"
ip netns exec d1 "$LVSK" run --config /tmp/d1.conf --control-socket /run/d1.sock --log-level notice \
  >/tmp/d1.restart.log 2>&1 &
echo $! >/tmp/d1.pid
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
ip -n d1 link set eth0 up
ip -n d1 link set eth1 up
start_director d1
if wait_until 40 '[[ $(state d1) == MASTER && $(state d2) == BACKUP ]] && has_vip d1 && ! has_vip d2'; then
  ok "d1 returns and preempts (priority 150 > 100); exactly one master"
else
  bad "preemption" "d1: $(state d1) d2: $(state d2)"
fi
say "SIGTERM to the master: priority 0 advert, VIPs removed, IPVS left in place"
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
echo "client: $(count ok) answered, $(count fail) failed over the whole run"

report_summary
