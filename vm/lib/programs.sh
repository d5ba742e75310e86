# shellcheck shell=bash
# Recipes that put a real distribution program into the VM: binary (at its host path, so configs
# naming absolute paths keep working), its ldd libraries, the data files it reads, and the
# directories it needs at run time (created by /lvsk/setup before COMMAND starts).
# Used by run-in-vm.sh --with-program NAME. Sourced after common.sh and stage.sh.

VM_PROGRAMS=(ip keepalived nginx genhash tcpdump bird)

# Appends shell lines (stdin) to the stage's /lvsk/setup, run by /init before COMMAND.
stage_setup() {
  local stage="$1"
  if [[ ! -f "$stage/lvsk/setup" ]]; then
    printf '#!/bin/bash\nset -e\n' >"$stage/lvsk/setup"
    chmod 755 "$stage/lvsk/setup"
  fi
  cat >>"$stage/lvsk/setup"
}

# Host path of a program, installing its Debian package when it is missing.
program_path() { vm_require_command "$1" "$2"; }

# Adds program NAME to the stage.
stage_add_program() {
  local stage="$1" name="$2" path
  case "$name" in
    ip)
      # iproute2: busybox's ip has no netns, no bridge/veth details, no -json.
      path="$(program_path ip iproute2)"
      stage_add_bin "$stage" "$path" /usr/bin/ip
      stage_add_bin "$stage" "$path" /usr/local/bin/ip
      [[ -d /etc/iproute2 ]] && stage_copy "$stage" /etc/iproute2 /etc/iproute2
      stage_setup "$stage" <<<'mkdir -p /run/netns /var/run/netns'
      ;;
    keepalived)
      path="$(program_path keepalived keepalived)"
      stage_add_bin "$stage" "$path" /usr/sbin/keepalived
      stage_setup "$stage" <<<'mkdir -p /etc/keepalived /run/keepalived'
      ;;
    genhash)
      path="$(program_path genhash keepalived)"
      stage_add_bin "$stage" "$path" /usr/bin/genhash
      ;;
    nginx)
      path="$(program_path nginx nginx-light)"
      stage_add_bin "$stage" "$path" /usr/sbin/nginx
      [[ -f /etc/nginx/mime.types ]] && stage_copy "$stage" /etc/nginx/mime.types /etc/nginx/mime.types
      stage_setup "$stage" <<'EOF'
mkdir -p /etc/nginx /var/log/nginx /var/lib/nginx/body /var/lib/nginx/proxy \
  /var/lib/nginx/fastcgi /var/lib/nginx/uwsgi /var/lib/nginx/scgi /var/www/html /var/lock
chown -R www-data:www-data /var/lib/nginx
EOF
      ;;
    tcpdump)
      path="$(program_path tcpdump tcpdump)"
      stage_add_bin "$stage" "$path" /usr/bin/tcpdump
      ;;
    bird)
      # BIRD 2 (bird2): the routing daemon of the scale-out lab (vm/scaleout.sh). Configs and
      # control sockets are given on the command line (-c, -s); /run/bird is its default socket dir.
      path="$(program_path bird bird2)"
      stage_add_bin "$stage" "$path" /usr/sbin/bird
      stage_add_bin "$stage" "$(program_path birdc bird2)" /usr/sbin/birdc
      stage_setup "$stage" <<<'mkdir -p /etc/bird /run/bird'
      ;;
    *) vm_die "--with-program: unknown program $name (known: ${VM_PROGRAMS[*]})" ;;
  esac
}
