#!/usr/bin/env bash
# The scale-out lab (docs/scaleout-lab.md): builds lvskeeper and the lab's client, then runs
# vm/scaleout/scaleout-guest.sh in the IPVS VM: a BIRD router with ECMP and BFD in front of four
# lvskeeper directors (three at the start, one joins), four nginx real servers by Direct Routing,
# and a client holding long-lived flows through a director's death, a join, a drain and a real
# server's failure.
#
# usage: scaleout.sh [--demo] [--short] [--release]
#   --demo:    print the narrative (routes, BFD sessions, IPVS tables) for scripts/demo
#   --short:   the scripts/test variant: shorter watch after each event (20 s instead of 30)
#   --release: build lvskeeper in release mode
# Environment: SCALEOUT_FLOWS, SCALEOUT_INTERVAL_MS, SCALEOUT_TIMEOUT_MS, SCALEOUT_HOLD,
# SCALEOUT_SHORT_RATE are passed to the guest (see vm/scaleout/scaleout-guest.sh).
# Output: "N passed, M failed", then the last line
# "scale-out: directors=N flows=F broken_on_kill=K broken_on_drain=D broken_on_join=J convergence_ms=T".
set -euo pipefail
script_dir="$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")"
source "$script_dir/lib/common.sh"
project="$(cd "$script_dir/.." && pwd)"
config=debug
envs=()
while (($#)); do
  case "$1" in
    --demo) envs+=(--env LAB_DEMO=1); shift ;;
    --short) envs+=(--env SCALEOUT_HOLD=20); shift ;;
    --release) config=release; shift ;;
    *) vm_die "unknown option $1" ;;
  esac
done
for v in SCALEOUT_FLOWS SCALEOUT_INTERVAL_MS SCALEOUT_TIMEOUT_MS SCALEOUT_HOLD SCALEOUT_SHORT_RATE; do
  [[ -n "${!v:-}" ]] && envs+=(--env "$v=${!v}")
done
"$script_dir/build-kernel.sh" >/dev/null
bin="$(vm_build_lvskeeper "$config")"
work="$(mktemp -d /tmp/lvskeeper-scaleout.XXXXXX)"
trap 'rm -rf "$work"' EXIT
vm_require_command gcc gcc >/dev/null
gcc -O2 -Wall -Wextra -Werror -static -o "$work/scaleout-client" "$script_dir/scaleout/client.c" ||
  vm_die "cc of the lab client failed"
"$script_dir/run-in-vm.sh" --timeout 900 --mem 2048 --smp 2 "${envs[@]}" \
  --with-bin "$bin" --with-program ip --with-program nginx --with-program bird --with-bin chrt \
  --with-file "$script_dir/lab:/opt/lab" --with-file "$script_dir/scaleout:/opt/scaleout" \
  --with-file "$work/scaleout-client:/opt/scaleout/scaleout-client" --with-file "$project/etc:/opt/etc" \
  -- bash /opt/scaleout/scaleout-guest.sh
