#!/bin/bash
# Runs INSIDE the VM (started by vm/programs-selftest.sh): real nginx serves from real server
# netns, a checker-only keepalived programs IPVS from its TCP_CHECKs, and a client netns fetches
# through the VIP. Prints ok/not ok lines and "N passed, M failed"; exits 1 on any failure.
source /opt/lab/topology.sh
source /opt/lab/report.sh
trap lab_down EXIT

lab_up 2
lab_vip_add 10.0.1.100

# nginx in rs1 (10.0.2.2:80), from its Debian binary with our config.
mkdir -p /tmp/nginx-rs1/www
echo "nginx rs1" >/tmp/nginx-rs1/www/index.html
sed -e 's|LISTEN|10.0.2.2:80|' -e 's|ROOT|/tmp/nginx-rs1|g' /opt/lab/nginx.conf >/tmp/nginx-rs1/nginx.conf
if ip netns exec rs1 nginx -t -q -c /tmp/nginx-rs1/nginx.conf -e stderr &&
  ip netns exec rs1 nginx -c /tmp/nginx-rs1/nginx.conf -e stderr; then
  ok "nginx starts in a netns"
else
  bad "nginx starts in a netns" "$(cat /tmp/nginx-rs1/error.log 2>/dev/null)"
fi
body="$(http_get rs1 http://10.0.2.2/)"
[[ "$body" == "nginx rs1" ]] && ok "nginx serves inside its netns" || bad "nginx serves" "got [$body]"
body="$(http_get c http://10.0.2.2/health)"
[[ "$body" == "ok" ]] && ok "client netns reaches nginx through the director" ||
  bad "client reaches nginx routed" "got [$body]"

# keepalived (checker only) owns the IPVS table.
cp /opt/lab/keepalived-tcpcheck.conf /etc/keepalived/keepalived.conf
keepalived -C -n -l -D -f /etc/keepalived/keepalived.conf -p /run/keepalived.pid \
  -c /run/keepalived-checkers.pid >/tmp/keepalived.log 2>&1 &
ka=$!
rs_line() { ipvsadm -Ln | grep -E -- "-> $1:80 +Masq +$2 "; }
if wait_until 20 'rs_line 10.0.2.2 2 && ! ipvsadm -Ln | grep -q 10.0.2.3:80'; then
  ok "keepalived TCP_CHECK: nginx up (weight 2), empty rs2 removed"
else
  bad "keepalived programs IPVS from TCP_CHECK" "$(ipvsadm -Ln)" "$(tail -n 20 /tmp/keepalived.log)"
fi
ipvsadm -Ln | sed 's/^/    ipvsadm: /'

# Bring rs2 up (busybox httpd): the checker adds it.
mkdir -p /tmp/www-rs2
echo "httpd rs2" >/tmp/www-rs2/index.html
ip netns exec rs2 httpd -p 10.0.2.3:80 -h /tmp/www-rs2
if wait_until 20 'rs_line 10.0.2.3 1'; then
  ok "keepalived adds rs2 once it listens"
else
  bad "keepalived adds rs2" "$(ipvsadm -Ln)" "$(tail -n 20 /tmp/keepalived.log)"
fi

# Traffic through the VIP reaches both (wrr 2:1 over 3 requests).
got=""
for _ in 1 2 3; do got+="$(http_get c http://10.0.1.100/);"; done
n1="$(grep -o 'nginx rs1' <<<"$got" | wc -l)"
n2="$(grep -o 'httpd rs2' <<<"$got" | wc -l)"
((n1 == 2 && n2 == 1)) && ok "VIP traffic follows wrr 2:1 (nginx, httpd)" || bad "wrr via VIP" "$got"

# Stop nginx: the checker removes rs1.
kill "$(cat /tmp/nginx-rs1/nginx.pid)"
if wait_until 20 '! ipvsadm -Ln | grep -q 10.0.2.2:80'; then
  ok "keepalived removes rs1 after nginx stops"
else
  bad "keepalived removes rs1" "$(ipvsadm -Ln)" "$(tail -n 20 /tmp/keepalived.log)"
fi
kill "$ka" 2>/dev/null
wait "$ka" 2>/dev/null
if wait_until 10 '! ipvsadm -Ln | grep -q 10.0.1.100:80'; then
  ok "keepalived removes its virtual server on exit"
else
  bad "keepalived cleans up on exit" "$(ipvsadm -Ln)"
fi

report_summary
