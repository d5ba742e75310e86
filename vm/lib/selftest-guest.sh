#!/bin/sh
# Runs INSIDE the VM (busybox sh), started by vm/selftest.sh with two arguments: "a b" and "it's".
# Prints "ok - ..." / "not ok - ..." per check and "N passed, M failed"; exits 1 on any failure.
pass=0
fail=0
ok() {
  pass=$((pass + 1))
  echo "ok - $1"
}
bad() {
  fail=$((fail + 1))
  echo "not ok - $1"
  shift
  [ $# -gt 0 ] && printf '%s\n' "$@" | sed 's/^/    /'
}
check() { # check NAME COMMAND...: passes when COMMAND exits 0
  name="$1"
  shift
  if out="$("$@" 2>&1)"; then ok "$name"; else bad "$name" "$out"; fi
}

# Harness plumbing: arguments, environment, files.
[ "$#" = 2 ] && [ "$1" = "a b" ] && [ "$2" = "it's" ] &&
  ok "arguments with spaces and quotes survive" || bad "arguments survive" "argc=$# 1=[$1] 2=[$2]"
[ "$LVSK_SELFTEST_ENV" = "v a l" ] && ok "--env reaches the command" ||
  bad "--env reaches the command" "got [$LVSK_SELFTEST_ENV]"
[ -f /opt/selftest/dir/nested.txt ] && [ "$(cat /opt/selftest/dir/nested.txt)" = nested ] &&
  ok "--with-file copies directories" || bad "--with-file copies directories"
check "/proc, /sys, /dev, /tmp are mounted" sh -c \
  'grep -q " /proc proc" /proc/mounts && grep -q " /sys sysfs" /proc/mounts &&
   grep -q " /dev devtmpfs" /proc/mounts && grep -q " /tmp tmpfs" /proc/mounts && [ -c /dev/null ]'
check "lo is up" sh -c 'ip -o link show lo | grep -q UP && ping -c1 -W2 127.0.0.1 >/dev/null'

# The brief's IPVS example.
if ipvsadm -A -t 10.1.1.1:80 -s wrr && ipvsadm -a -t 10.1.1.1:80 -r 10.1.1.2:80 -m -w 3; then
  out="$(ipvsadm -Ln)"
  if echo "$out" | grep -Eq '^TCP +10\.1\.1\.1:80 wrr' &&
    echo "$out" | grep -Eq -- '-> 10\.1\.1\.2:80 +Masq +3 +0 +0'; then
    ok "ipvsadm adds a wrr service with a masq real server of weight 3"
  else
    bad "ipvsadm -Ln shows the service" "$out"
  fi
else
  bad "ipvsadm -A/-a succeed"
fi
ipvsadm -C

# IPv6 services and the connection sync daemon (both used by the reconciler).
check "IPv6 virtual service with a v6 real server" sh -c '
  ipvsadm -A -t [fd00::100]:443 -s sh && ipvsadm -a -t [fd00::100]:443 -r [fd00::2]:443 -m -w 5 &&
  ipvsadm -Ln | grep -Eq "^TCP +\[fd00::100\]:443 sh" &&
  ipvsadm -Ln | grep -Eq -- "-> \[fd00::2\]:443 +Masq +5"'
check "fwmark and UDP services" sh -c '
  ipvsadm -A -f 42 -s rr && ipvsadm -A -u 10.3.0.1:53 -s rr -p 60 &&
  ipvsadm -Ln | grep -Eq "^FWM +42 rr" && ipvsadm -Ln | grep -Eq "^UDP +10\.3\.0\.1:53 rr persistent 60"'
check "IPVS sync daemon starts and stops" sh -c '
  ipvsadm --start-daemon master --mcast-interface lo --syncid 7 &&
  ipvsadm -L --daemon | grep -q "master sync daemon (mcast=lo, syncid=7" &&
  ipvsadm --stop-daemon master && [ -z "$(ipvsadm -L --daemon)" ]'
ipvsadm -C

# Every scheduler is usable.
n=0
failed_scheds=""
for s in rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh; do
  n=$((n + 1))
  ipvsadm -A -t "10.2.0.$n:80" -s "$s" 2>/dev/null || failed_scheds="$failed_scheds $s"
done
[ -z "$failed_scheds" ] && ok "all 13 IPVS schedulers accept a service" ||
  bad "schedulers" "failed:$failed_scheds"
check "ipvsadm -Ln lists 13 services" sh -c '[ "$(ipvsadm -Ln | grep -c ^TCP)" = 13 ]'
ipvsadm -C

# iproute2 (a dynamically linked --with-bin) with netns, veth and a bridge.
check "--with-bin dynamic binary (iproute2 ip) runs" sh -c '/usr/local/bin/ip -V | grep -q iproute2'
check "ip netns add" ip netns add c
ip netns add rs
ip netns add rs2
check "veth pair into a netns" sh -c '
  ip link add vc type veth peer name vc-ns && ip link set vc-ns netns c &&
  ip addr add 10.0.1.1/24 dev vc && ip link set vc up &&
  ip -n c addr add 10.0.1.2/24 dev vc-ns && ip -n c link set vc-ns up && ip -n c link set lo up &&
  ip -n c route add default via 10.0.1.1 && ping -c1 -W3 10.0.1.2 >/dev/null'
check "bridge joins two netns" sh -c '
  ip link add br0 type bridge && ip link set br0 up && ip addr add 10.0.2.1/24 dev br0 &&
  for n in rs rs2; do
    ip link add "b-$n" type veth peer name eth0 netns "$n" && ip link set "b-$n" master br0 &&
    ip link set "b-$n" up && ip -n "$n" link set eth0 up && ip -n "$n" link set lo up || exit 1
  done &&
  ip -n rs addr add 10.0.2.2/24 dev eth0 && ip -n rs2 addr add 10.0.2.3/24 dev eth0 &&
  ip -n rs route add default via 10.0.2.1 && ip -n rs2 route add default via 10.0.2.1 &&
  ip netns exec rs ping -c1 -W3 10.0.2.3 >/dev/null'

# End to end: a client netns reaches real servers in two other netns through an IPVS NAT service.
mkdir -p /tmp/www-rs /tmp/www-rs2
echo rs >/tmp/www-rs/index.html
echo rs2 >/tmp/www-rs2/index.html
ip netns exec rs httpd -p 10.0.2.2:80 -h /tmp/www-rs
ip netns exec rs2 httpd -p 10.0.2.3:80 -h /tmp/www-rs2
echo 1 >/proc/sys/net/ipv4/ip_forward
ip addr add 10.0.1.100/32 dev vc
ipvsadm -A -t 10.0.1.100:80 -s rr &&
  ipvsadm -a -t 10.0.1.100:80 -r 10.0.2.2:80 -m &&
  ipvsadm -a -t 10.0.1.100:80 -r 10.0.2.3:80 -m
sleep 0.2
got=""
for _ in 1 2 3 4; do
  # (busybox 1.35 wget -T segfaults; bound it with timeout instead)
  got="$got $(ip netns exec c timeout 5 wget -q -O - http://10.0.1.100/ 2>&1)"
done
# Round robin over two servers: each one answers twice.
case "$(echo $got | tr ' ' '\n' | sort | uniq -c | tr -s ' ' | tr '\n' ';')" in
  " 2 rs; 2 rs2;") ok "IPVS NAT round robin forwards netns traffic to both real servers" ;;
  *) bad "IPVS NAT forwarding" "replies:$got" "$(ipvsadm -Ln --stats)" ;;
esac
# The kernel folds per-CPU counters into the exported stats on its 2 s estimator tick: poll.
for _ in 1 2 3 4 5 6 7 8; do
  stats="$(ipvsadm -Ln --stats)"
  echo "$stats" | grep -Eq '^TCP +10\.0\.1\.100:80 +4 ' && break
  sleep 0.5
done
echo "$stats" | grep -Eq '^TCP +10\.0\.1\.100:80 +4 ' && ok "ipvsadm --stats counted 4 connections" ||
  bad "ipvsadm --stats counted 4 connections" "$stats"
ipvsadm -C
for n in c rs rs2; do ip netns del "$n"; done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
