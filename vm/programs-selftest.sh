#!/usr/bin/env bash
# Proves that real programs run in the VM: iproute2 ip, nginx serving from a netns, and a
# checker-only keepalived whose TCP_CHECKs program kernel IPVS (seen with ipvsadm -Ln).
# Prints the guest's ok/not ok lines and "N passed, M failed"; exit status is the guest's.
set -euo pipefail
script_dir="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
exec "$script_dir/run-in-vm.sh" --timeout 300 --with-program ip --with-program nginx \
  --with-program keepalived --with-file "$script_dir/lab:/opt/lab" \
  -- bash /opt/lab/programs-guest.sh
