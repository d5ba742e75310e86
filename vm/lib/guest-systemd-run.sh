#!/bin/bash
# The systemd VM's test runner, run by lvsk-test.service (a oneshot unit) once the system is up.
# Same contract as the busybox VM's /init: /lvsk/nonce, /lvsk/env, /lvsk/setup, /lvsk/cmd from the
# per-run payload; the command's output between the two markers on the serial console; poweroff.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb LANG=C.UTF-8
NONCE="$(cat /lvsk/nonce 2>/dev/null)"
end() {
  sync
  echo "LVSK-VM-END-$NONCE status=$1"
  # No orderly shutdown: the disk is a throw-away snapshot and stopping units costs seconds.
  systemctl poweroff -ff
  sleep 5
  exit "$1"
}
mkdir -p /run/netns
if [[ -e /lvsk/timing ]]; then
  read -r t _ </proc/uptime
  echo "[vm] timing: boot to lvsk-test.service ${t}s"
fi
if [[ -r /lvsk/env ]]; then
  . /lvsk/env
fi
if [[ -x /lvsk/setup ]] && ! /lvsk/setup; then
  echo "[vm] /lvsk/setup (--setup / --with-program) failed"
  end 125
fi
cd /root || cd /
echo "LVSK-VM-BEGIN-$NONCE"
/bin/bash -c '. /lvsk/cmd && exec "$@"'
end "$?"
