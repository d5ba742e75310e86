#!/bin/bash
# lvskeeper under a real systemd (run by vm/systemd.sh inside the systemd VM, as root, from the
# oneshot lvsk-test.service). Installs lvskeeper (the Debian package when /opt/pkg holds one, else
# the binary and the unit at the package's paths), then drives it only through systemctl:
# start waits for READY=1, reload (good and bad), stop releases the VIPs, the watchdog restarts a
# wedged daemon, VRRP + TCP_CHECK + IPVS work with the unit's capabilities, scripts run as
# script_user. Prints one line per check and "N passed, M failed" last.
set -uo pipefail
source /opt/lab/topology.sh
passed=0 failed=0
ok() { echo "PASS $*"; passed=$((passed + 1)); }
bad() { echo "FAIL $*"; failed=$((failed + 1)); }
check() { # check NAME COMMAND...
  local name="$1"
  shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}
prop() { systemctl show -P "$1" lvskeeper.service; }
conf=/etc/lvskeeper/lvskeeper.conf
uptime_s() { cut -d' ' -f1 /proc/uptime; }

# --- install ----------------------------------------------------------------------------------
if compgen -G '/opt/pkg/lvskeeper_*.deb' >/dev/null; then
  deb=$(ls /opt/pkg/lvskeeper_*.deb | head -n1)
  echo "installing $(basename "$deb")"
  dpkg_install() { dpkg -i "$1" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; return 1; }; }
  check "dpkg -i the package" dpkg_install "$deb"
  check "package: the unit is enabled but not started" \
    bash -c '[[ $(systemctl is-enabled lvskeeper) == enabled && $(systemctl is-active lvskeeper) == inactive ]]'
  check "package: the shipped configuration passes check-config" lvskeeper check-config --config "$conf"
else
  echo "no package in /opt/pkg: installing the binary and the unit at the package's paths"
  install -D -m 0755 /opt/payload/lvskeeper /usr/sbin/lvskeeper
  install -D -m 0644 /opt/payload/lvskeeper.service /usr/lib/systemd/system/lvskeeper.service
  printf 'ip_vs\nip_vs_rr\nip_vs_wlc\n' >/etc/modules-load.d/lvskeeper.conf
  install -d -m 0755 /etc/lvskeeper
fi
# The guest booted before the install: load what modules-load.d names now, as a boot would.
systemctl restart systemd-modules-load.service
check "IPVS loaded through modules-load.d" test -e /proc/net/ip_vs
# The unit under test is the one the project ships (the package's copy must be identical).
check "installed unit is systemd/lvskeeper.service" cmp /usr/lib/systemd/system/lvskeeper.service /opt/payload/lvskeeper.service
verify=$(systemd-analyze verify lvskeeper.service 2>&1)
check "systemd-analyze verify accepts the unit" test -z "$verify"
[[ -n "$verify" ]] && echo "$verify"

# --- lab: client netns c (10.0.1.2) -- vc (10.0.1.1) director; rs1, rs2 behind br0 --------------
lab_up 2
mkdir -p /srv/rs1/www && echo "rs1 via the VIP" >/srv/rs1/www/index.html
sed -e 's|LISTEN|10.0.2.2:80|' -e 's|ROOT|/srv/rs1|g' /opt/lab/nginx.conf >/srv/rs1/nginx.conf
ip netns exec rs1 nginx -c /srv/rs1/nginx.conf -e stderr
# Scripts: root-owned and not writable by others (enable_script_security), recording their uid
# in the daemon's private /tmp (PrivateTmp=yes), read below through /proc/MAINPID/root.
install -d -m 0755 /usr/local/libexec/lvsk
cat >/usr/local/libexec/lvsk/notify.sh <<'EOF'
#!/bin/sh
echo "$(id -u) $*" >>/tmp/notify.log
EOF
cat >/usr/local/libexec/lvsk/misc.sh <<'EOF'
#!/bin/sh
id -u >/tmp/misc.uid
exit 0
EOF
chmod 0755 /usr/local/libexec/lvsk/*.sh

# write_conf WEIGHT [EXTRA VIRTUAL SERVERS]: the director's configuration.
write_conf() {
  local weight="$1" extra="${2:-0}" i
  {
    cat <<EOF
global_defs {
  router_id lvsk-systemd
  script_user lvsk-script
  enable_script_security
}
vrrp_instance VI_1 {
  state MASTER
  interface vc
  virtual_router_id 61
  priority 150
  advert_int 1
  notify /usr/local/libexec/lvsk/notify.sh
  virtual_ipaddress {
    10.0.1.100/32 dev vc
  }
}
# use_vmac: a macvlan (module loaded by the kernel on demand) and sysctl writes under
# /proc/sys/net/ipv4/conf, which is why the unit leaves ProtectKernelTunables off.
vrrp_instance VI_2 {
  state MASTER
  interface vc
  virtual_router_id 62
  priority 150
  advert_int 1
  use_vmac
  virtual_ipaddress {
    10.0.1.200/32 dev vc
  }
}
virtual_server 10.0.1.100 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.0.2.2 80 {
    weight $weight
    TCP_CHECK {
      connect_timeout 2
    }
  }
  real_server 10.0.2.3 80 {
    weight 1
    TCP_CHECK {
      connect_timeout 2
    }
  }
}
# lb_algo sh: a scheduler module no modules-load.d names; the kernel loads it on demand, which
# ProtectKernelModules=yes (no CAP_SYS_MODULE, no /usr/lib/modules in the unit) does not prevent.
virtual_server 10.0.1.101 80 {
  delay_loop 2
  lb_algo sh
  lb_kind NAT
  protocol TCP
  real_server 10.0.2.2 80 {
    weight 1
    MISC_CHECK {
      misc_path /usr/local/libexec/lvsk/misc.sh
    }
  }
}
EOF
    # Extra services make the start (parse, IPVS) take measurable time before READY=1.
    for ((i = 0; i < extra; i++)); do
      printf 'virtual_server 10.9.%d.%d 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 10.0.2.2 80 {\n    weight 1\n  }\n}\n' \
        $((i / 250)) $((i % 250 + 1))
    done
  } >"$conf"
}
write_conf 2 400
check "check-config accepts the test configuration" lvskeeper check-config --config "$conf"

# --- start: active only after READY=1 -----------------------------------------------------------
# Poll ActiveState while systemctl start runs: "activating" must come first, and the first
# "active" must find the control socket answering and IPVS programmed (what READY=1 promises).
systemctl start --no-block lvskeeper
states="" first_active_ok=0
for ((i = 0; i < 600; i++)); do
  s=$(prop ActiveState)
  [[ "$states" == *"$s" ]] || states+=" $s"
  if [[ "$s" == active ]]; then
    lvskeeper status >/tmp/status-at-active.txt 2>&1 && ipvsadm -Ln -t 10.9.1.150:80 >/dev/null 2>&1 &&
      first_active_ok=1
    break
  fi
  [[ "$s" == failed ]] && break
  sleep 0.05
done
echo "ActiveState sequence:$states"
check "start: activating before active" test "${states# }" = "activating active"
check "start: at the first 'active' the control socket answers and IPVS holds the last service" \
  test "$first_active_ok" = 1
t_exec=$(prop ExecMainStartTimestampMonotonic)
t_active=$(prop ActiveEnterTimestampMonotonic)
echo "exec to active: $(((t_active - t_exec) / 1000)) ms (ExecMainStart to ActiveEnter, monotonic)"
check "start: systemd waited for READY=1 (active after the main process started)" test "$t_active" -gt "$t_exec"
check "start: READY=1 came with STATUS=" test -n "$(prop StatusText)"
echo "StatusText: $(prop StatusText)"
pid=$(prop MainPID)

# --- capabilities: exactly the unit's, and what they are for ------------------------------------
grep -E '^Cap(Eff|Bnd|Amb)' "/proc/$pid/status"
capbnd=$(awk '/^CapBnd/ {print $2}' "/proc/$pid/status")
# CAP_SETGID 6, CAP_SETUID 7, CAP_NET_ADMIN 12, CAP_NET_RAW 13, CAP_SYS_NICE 23
check "bounding set is the unit's CapabilityBoundingSet" test "$capbnd" = "00000000008030c0"
check "VIP added on the master" wait_until 20 'ip -o addr show dev vc | grep -q "10.0.1.100/32"'
check "VRRP advert (proto 112) seen from the client namespace" \
  bash -c 'ip netns exec c timeout 10 tcpdump -n -c 4 -i eth0 "ip proto 112" 2>/dev/null | grep -q "vrid 61"'
check "TCP_CHECK: rs1 (nginx listening) in the IPVS table" \
  wait_until 20 'ipvsadm -Ln -t 10.0.1.100:80 | grep -q "10.0.2.2:80 *Masq *2"'
check "TCP_CHECK: rs2 (nothing listening) not in the table" \
  bash -c '! ipvsadm -Ln -t 10.0.1.100:80 | grep -q 10.0.2.3:80'
# The guest has no wget or curl: bash's /dev/tcp speaks HTTP/1.0 from the client namespace.
vip_get() {
  ip netns exec c timeout 5 bash -c 'exec 3<>/dev/tcp/10.0.1.100/80 &&
    printf "GET / HTTP/1.0\r\nHost: 10.0.1.100\r\n\r\n" >&3 && cat <&3'
}
check "traffic through the VIP reaches rs1" bash -c "$(declare -f vip_get); vip_get | grep -q 'rs1 via the VIP'"
ipvsadm -Ln -t 10.0.1.100:80

check "use_vmac: vrrp.62 holds its VIP" wait_until 20 'ip -o addr show dev vrrp.62 | grep -q "10.0.1.200/32"'
check "use_vmac: the unit could write the sysctls (arp_ignore 1 on vrrp.62 and on vc)" \
  bash -c '[[ $(cat /proc/sys/net/ipv4/conf/vrrp.62/arp_ignore) == 1 && $(cat /proc/sys/net/ipv4/conf/vc/arp_ignore) == 1 ]]'

# A keepalived peer (BACKUP, priority 100) in the client namespace, logging to the journal: it
# must accept lvskeeper's adverts and stay BACKUP while lvskeeper is master.
cat >/etc/keepalived/peer.conf <<'EOF'
global_defs {
  router_id peer
}
vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 61
  priority 100
  advert_int 1
  virtual_ipaddress {
    10.0.1.100/32 dev eth0
  }
}
EOF
ip netns exec c keepalived -n -D -f /etc/keepalived/peer.conf -p /run/kp.pid -r /run/kp-vrrp.pid \
  -c /run/kp-check.pid >/dev/null 2>&1 &
peer_states() { journalctl -t Keepalived_vrrp --no-pager -o cat | grep -Eo 'Entering (MASTER|BACKUP) STATE'; }
check "keepalived peer enters BACKUP" wait_until 30 'peer_states | grep -q BACKUP'

# /dev/net/tun (the announce feature's tun device): opened from inside the unit's sandbox, i.e. in
# the daemon's cgroup (the unit's device policy) and its mount namespace (PrivateDevices' /dev).
tun_open_in_unit() {
  local pid cg
  pid=$(systemctl show -P MainPID lvskeeper)
  cg=$(awk -F'::' 'NR == 1 {print $2}' "/proc/$pid/cgroup")
  bash -c "echo \$\$ >'/sys/fs/cgroup$cg/cgroup.procs' && exec nsenter -t $pid -m -- bash -c 'exec 3<>/dev/net/tun'"
}
check "the unit lets the daemon open /dev/net/tun (device policy and private /dev)" tun_open_in_unit
check "the unit still hides other devices (/dev/vda)" bash -c "! nsenter -t $pid -m -- test -e /dev/vda"

# --- scripts as script_user ---------------------------------------------------------------------
script_uid=$(id -u lvsk-script)
check "notify ran as script_user (uid $script_uid)" \
  wait_until 20 "grep -q '^$script_uid INSTANCE VI_1 MASTER' /proc/\$(systemctl show -P MainPID lvskeeper)/root/tmp/notify.log"
check "MISC_CHECK ran as script_user (uid $script_uid)" \
  wait_until 20 "grep -qx '$script_uid' /proc/\$(systemctl show -P MainPID lvskeeper)/root/tmp/misc.uid"
check "MISC_CHECK success put the real server in (sh scheduler, loaded on demand)" \
  wait_until 20 'ipvsadm -Ln -t 10.0.1.101:80 | grep -q 10.0.2.2:80 && ipvsadm -Ln -t 10.0.1.101:80 | grep -q " sh"'
cat "/proc/$pid/root/tmp/notify.log" 2>/dev/null

# --- reload: a good config applies, a bad one is refused with the reason visible ---------------
write_conf 5 400
systemctl reload lvskeeper
check "reload (good): rs1's weight becomes 5" wait_until 30 'ipvsadm -Ln -t 10.0.1.100:80 | grep -q "10.0.2.2:80 *Masq *5"'
check "reload (good): same main process" test "$(prop MainPID)" = "$pid"
echo "virtual_server 10.0.1.102 80 { lb_algo rr lb_kind NAT protocol TCP bogus_keyword 1 }" >>"$conf"
systemctl reload lvskeeper
check "reload (bad): the reason reaches systemctl status (STATUS=)" \
  wait_until 30 'systemctl status lvskeeper --no-pager | grep -q "reload refused"'
systemctl status lvskeeper --no-pager -n 0 | sed -n '1,6p'
check "reload (bad): the reason names FILE:LINE:COL" \
  bash -c "prop() { systemctl show -P \"\$1\" lvskeeper; }; prop StatusText | grep -Eq '$conf:[0-9]+:[0-9]+'"
check "reload (bad): the journal has it too" bash -c "journalctl -u lvskeeper --no-pager | grep -Eq '$conf:[0-9]+:[0-9]+'"
check "reload (bad): still active, same process, old config kept" \
  bash -c "[[ \$(systemctl is-active lvskeeper) == active && \$(systemctl show -P MainPID lvskeeper) == $pid ]] &&
    ipvsadm -Ln -t 10.0.1.100:80 | grep -q '10.0.2.2:80 *Masq *5' && ! ipvsadm -Ln -t 10.0.1.102:80 >/dev/null 2>&1"
write_conf 5 0
systemctl reload lvskeeper
check "reload (good again): the extra services are removed" \
  wait_until 30 '! ipvsadm -Ln -t 10.9.1.150:80 >/dev/null 2>&1'

check "keepalived peer stayed BACKUP while lvskeeper was master (it accepts lvskeeper's adverts)" \
  bash -c "! journalctl -t Keepalived_vrrp --no-pager -o cat | grep -q 'Entering MASTER STATE'"

# --- watchdog: a wedged daemon is killed and restarted -----------------------------------------
restarts=$(prop NRestarts)
kill -STOP "$pid"
echo "SIGSTOP to $pid at $(uptime_s) s"
check "watchdog: systemd restarts the wedged daemon (new main process, active)" \
  wait_until 90 "[[ \$(systemctl show -P MainPID lvskeeper) != $pid && \$(systemctl show -P MainPID lvskeeper) != 0 && \$(systemctl is-active lvskeeper) == active ]]"
echo "active again at $(uptime_s) s, NRestarts $restarts -> $(prop NRestarts)"
check "watchdog: the old process is gone" bash -c "! kill -0 $pid 2>/dev/null"
check "watchdog: the journal says why" bash -c 'journalctl -u lvskeeper --no-pager | grep -qi "watchdog timeout"'
check "watchdog: after the restart the VIP is back" wait_until 20 'ip -o addr show dev vc | grep -q "10.0.1.100/32"'
check "watchdog: the peer took over during the wedge and gave back to the restarted master" \
  wait_until 30 'peer_states | tail -n 2 | tr "\n" " " | grep -q "MASTER STATE Entering BACKUP"'
pid=$(prop MainPID)

# --- stop: VIPs released within the bound ------------------------------------------------------
t0=$(uptime_s)
systemctl stop lvskeeper
t1=$(uptime_s)
echo "systemctl stop took $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s (TimeoutStopSec $(prop TimeoutStopUSec))"
check "stop: ended by the daemon itself, not by systemd's timeout (Result=success)" test "$(prop Result)" = success
check "stop: the VIP is released" bash -c '! ip -o addr show dev vc | grep -q 10.0.1.100'
check "stop: no lvskeeper process left" bash -c '! pgrep -x lvskeeper'
check "stop: the VMAC is deleted" bash -c '! ip link show vrrp.62 >/dev/null 2>&1'
# Not checked: vc's arp_ignore is back to what the daemon found at ITS start, and the daemon
# running now started after the watchdog killed the first one (which could not restore it), so it
# found 1. keepalived saves and restores the same way.
echo "vc arp_ignore after stop: $(cat /proc/sys/net/ipv4/conf/vc/arp_ignore) (1 left by the daemon the watchdog killed)"
check "stop: the keepalived peer becomes master (priority-0 advert or timeout)" \
  wait_until 20 'peer_states | tail -n 1 | grep -q MASTER'

lab_down >/dev/null 2>&1
echo "$passed passed, $failed failed"
((failed == 0))
