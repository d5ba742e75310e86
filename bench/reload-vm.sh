#!/usr/bin/env bash
# Reload at scale side by side with keepalived (issue #12 goal 4), in the IPVS VM (qemu TCG, real
# IPVS, real keepalived 2.2.7 from Debian). The 2,277 virtual_server x 16 real_server config of
# bench/memory-reload.sh (36,432 TCP_CHECK real servers, delay_loop 300; every real server refused
# at 127.x.y.z port 9 except one per changed virtual server, which is up on a listener), run by
# keepalived's checker (`keepalived -C`) and then by `lvskeeper run` (not --dry-run), one after the
# other in one VM boot. Each reload changes the weight of one up real server (exactly one IPVS
# operation); both are measured by the same method (bench/reload-vm-guest.sh). lvskeeper gets
# RELOADS reloads, keepalived KA_RELOADS (default 1: keepalived 2.2.7's reload of this config runs
# for many minutes under TCG); a reload still busy after CAP seconds (default 600) is reported as
# not finished, with its CPU so far.
# usage: LVSKEEPER_BIN=<release lvskeeper> [KA_RELOADS=1] [CAP=600] bench/reload-vm.sh [RELOADS]   (default 3)
# Build: swift build -c release --scratch-path .build-release --product lvskeeper (and --product HealthBench)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
reloads="${1:-3}"
bin="${LVSKEEPER_BIN:-.build-release/release/lvskeeper}"
serve="${HEALTHBENCH_BIN:-$(dirname "$bin")/HealthBench}"
[[ -x "$bin" ]] || { echo "no release lvskeeper at $bin"; exit 1; }
[[ -x "$serve" ]] || { echo "no HealthBench at $serve (swift build -c release --product HealthBench)"; exit 1; }
vm="${LVSK_VM_HARNESS:-$root/vm/run-in-vm.sh}"
echo "host: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$root/bench/reload-vm-guest.sh" "$work/guest.sh"
# big-0.conf is the start; big-I.conf changes the weights of the first I changed servers (so each
# reload changes exactly one weight against the one before), as bench/memory-reload.sh does. The
# changed servers are up: 127.1.0.1:18080, where HealthBench serve accepts in the guest.
PYTHONPATH=bench python3 - "$work" "$reloads" <<'PY'
import sys
from benchconfig import write_config
work, reloads = sys.argv[1], int(sys.argv[2])
VS, RS = 2277, 16
changed = [(i * 37 % VS, 0) for i in range(1, reloads + 1)]
listening = {key: 18080 for key in changed}
for i in range(reloads + 1):
    write_config(f"{work}/big-{i}.conf", VS, RS, 300, weights={changed[k]: 3 + k for k in range(i)},
                 listening=listening, listening_host="127.1.0.1")
PY
echo "config: 2277 virtual_server x 16 real_server = 36432 real servers, $(wc -l < "$work/big-0.conf") lines; $reloads reloads"
mkdir "$work/bin"
cp "$bin" "$work/bin/lvskeeper"
"$vm" --timeout 3600 --smp 2 --mem 4096 --with-bin "$work/bin/lvskeeper" --with-bin "$serve" \
  --with-program keepalived --with-file "$work:/opt/rl" -- bash /opt/rl/guest.sh "$reloads" "${KA_RELOADS:-1}" "${CAP:-600}"
