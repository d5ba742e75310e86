#!/bin/busybox sh
# /init of the lvskeeper test VM (runs as PID 1 under busybox ash).
# Reads /lvsk/cmd (a shell file that sets the positional parameters), /lvsk/nonce and
# /lvsk/modules.{required,optional}; runs the command with output on the serial console
# between two markers, then powers off. Harness messages are prefixed with "[vm] ".

/bin/busybox mkdir -p /proc /sys /dev /tmp /run
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
read -r T_INIT _ </proc/uptime
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
exec </dev/null >/dev/console 2>&1

mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/netns /run/lock /var/run/netns
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
[ -e /proc/sys/kernel/modprobe ] && echo /sbin/modprobe >/proc/sys/kernel/modprobe
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
dmesg -n 1 2>/dev/null
hostname lvsk-vm

NONCE="$(cat /lvsk/nonce 2>/dev/null)"
end() {
  sync
  echo "LVSK-VM-END-$NONCE status=$1"
  poweroff -f
  sleep 5
  exit "$1"
}

ip link set lo up || echo "[vm] warning: could not bring lo up"

# One modprobe for everything (per-module calls cost ~1 s more under TCG); then retry only
# what is not in /sys/module (failed, or built in) one by one to tell which failed.
# shellcheck disable=SC2046 # one module name per word
modprobe -a $(cat /lvsk/modules.required /lvsk/modules.optional 2>/dev/null) 2>/dev/null
missing_optional=""
for m in $(cat /lvsk/modules.optional 2>/dev/null); do
  [ -d "/sys/module/$m" ] || modprobe "$m" 2>/dev/null || missing_optional="$missing_optional $m"
done
failed_required=""
for m in $(cat /lvsk/modules.required 2>/dev/null); do
  [ -d "/sys/module/$m" ] || modprobe "$m" || failed_required="$failed_required $m"
done
[ -n "$missing_optional" ] && echo "[vm] optional modules not loaded:$missing_optional"
if [ -n "$failed_required" ]; then
  echo "[vm] required modules failed to load:$failed_required"
  end 125
fi
[ -e /proc/net/ip_vs ] || {
  echo "[vm] IPVS is not available (/proc/net/ip_vs missing)"
  end 125
}

if [ -r /lvsk/env ]; then
  . /lvsk/env
fi
if [ -x /lvsk/setup ] && ! /lvsk/setup; then
  echo "[vm] /lvsk/setup (--setup / --with-program) failed"
  end 125
fi

cd /root || cd /
if [ -e /lvsk/timing ]; then
  read -r t _ </proc/uptime
  echo "[vm] timing: kernel boot to /init ${T_INIT}s, /init setup $(awk "BEGIN{print $t - $T_INIT}")s"
fi
echo "LVSK-VM-BEGIN-$NONCE"
# Debian's static busybox runs its own applets before searching PATH (SH_STANDALONE), which would
# hide real binaries such as iproute2's ip; so the command starts under bash (/bin/sh is bash too).
/bin/bash -c '. /lvsk/cmd && exec "$@"'
status=$?
end "$status"
