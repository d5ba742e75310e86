#!/bin/busybox sh
# /init of the systemd VM's initramfs (busybox ash, PID 1 until switch_root).
# Loads the virtio modules listed in /modules, mounts the root disk (/dev/vda, ext4) on /newroot,
# copies the per-run payload (/payload, appended to this initramfs by run-in-vm.sh) over it, and
# hands PID 1 to systemd. The disk is a qemu snapshot: writes never reach the cached image.
/bin/busybox mkdir -p /proc /sys /dev /newroot
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
exec </dev/null >/dev/console 2>&1
fail() {
  echo "[vm] $*"
  poweroff -f
  sleep 5
}
while read -r m; do
  insmod "$m" || fail "insmod $m failed"
done </modules
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do
  usleep 50000
  i=$((i + 1))
done
[ -b /dev/vda ] || fail "no root disk /dev/vda"
mount -t ext4 -o rw,noatime /dev/vda /newroot || fail "cannot mount /dev/vda"
if [ -d /payload ]; then
  cp -a /payload/. /newroot/ || fail "cannot copy the payload"
fi
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
