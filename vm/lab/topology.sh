# shellcheck shell=bash
# Network lab inside the VM (bash; source it). Needs iproute2 (--with-program ip).
#
#   client netns "c"  10.0.1.2/24 --veth-- director (root netns) 10.0.1.1/24 on "vc"
#   director bridge "br0" 10.0.2.1/24 --veth-- real server netns rs1..rsN at 10.0.2.(1+i)/24
#   VIPs go on "vc" (lab_vip_add 10.0.1.100); ip_forward is on, so IPVS NAT works both ways.
# lab_up N; ...; lab_down  (lab_down is safe to call twice).

# shellcheck disable=SC2034 # read by scripts that source this file
LAB_RS_COUNT=0

lab_up() {
  local n="${1:-2}" i
  LAB_RS_COUNT="$n"
  ip netns add c
  ip -n c link set lo up
  ip link add vc type veth peer name eth0 netns c
  ip addr add 10.0.1.1/24 dev vc
  ip link set vc up
  ip -n c addr add 10.0.1.2/24 dev eth0
  ip -n c link set eth0 up
  ip -n c route add default via 10.0.1.1
  ip link add br0 type bridge
  ip addr add 10.0.2.1/24 dev br0
  ip link set br0 up
  for ((i = 1; i <= n; i++)); do
    ip netns add "rs$i"
    ip -n "rs$i" link set lo up
    ip link add "b-rs$i" type veth peer name eth0 netns "rs$i"
    ip link set "b-rs$i" master br0
    ip link set "b-rs$i" up
    ip -n "rs$i" addr add "10.0.2.$((1 + i))/24" dev eth0
    ip -n "rs$i" link set eth0 up
    ip -n "rs$i" route add default via 10.0.2.1
  done
  echo 1 >/proc/sys/net/ipv4/ip_forward
}

lab_vip_add() { ip addr add "$1/32" dev vc; }

lab_down() {
  local ns
  for ns in $(ip netns list | awk '{print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
    ip netns del "$ns"
  done
  ip link del br0 2>/dev/null || true
  ip link del vc 2>/dev/null || true
  ipvsadm -C
}

# wait_until SECONDS 'shell condition': polls every 0.2 s; returns 1 on timeout.
wait_until() {
  local deadline=$((SECONDS + $1))
  while ! eval "$2" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# http_get NETNS URL: body on stdout (busybox wget; its -T option segfaults, so timeout(1) bounds it).
http_get() { ip netns exec "$1" timeout 5 wget -q -O - "$2"; }
