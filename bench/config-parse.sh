#!/bin/sh
# Parse+validate time for a large configuration: 1,000 virtual servers x 50 real servers, each
# real server with a TCP_CHECK (50,000 checkers). lvskeeper is timed in-process (--timing) and
# as a whole command; keepalived -t -f (config test) is timed on the same file when installed.
# Usage: bench/config-parse.sh [VIRTUAL_SERVERS] [REAL_SERVERS]   (release build is made first)
set -eu
cd "$(dirname "$0")/.."
VS=${1:-1000}
RS=${2:-50}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CONF="$WORK/large.conf"

swift build -c release --product lvskeeper >/dev/null
BIN=$(swift build -c release --show-bin-path)/lvskeeper

python3 - "$VS" "$RS" "$CONF" <<'PY'
import sys
vs, rs, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(path, "w") as f:
    f.write("global_defs {\n    router_id bench\n}\n")
    for v in range(vs):
        f.write(f"virtual_server 10.{v // 250}.{v % 250}.1 80 {{\n    delay_loop 10\n    lb_algo wrr\n"
                "    lb_kind NAT\n    protocol TCP\n")
        for r in range(rs):
            f.write(f"    real_server 172.16.{v % 250}.{r + 1} 8080 {{\n        weight 1\n"
                    "        TCP_CHECK {\n            connect_timeout 3\n        }\n    }\n")
        f.write("}\n")
PY

now_ms() { date +%s%N | awk '{ printf "%.1f", $1 / 1000000 }'; }
echo "config: $VS virtual_server x $RS real_server (TCP_CHECK each), $(wc -l < "$CONF") lines, $(du -h "$CONF" | cut -f1)"
echo "host: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
for run in 1 2 3; do
  start=$(now_ms)
  inproc=$("$BIN" check-config --config "$CONF" --timing | grep parse+validate)
  end=$(now_ms)
  echo "lvskeeper run $run: $inproc; whole command $(echo "$end - $start" | bc) ms"
done
if command -v keepalived >/dev/null 2>&1; then
  for run in 1 2 3; do
    start=$(now_ms)
    keepalived -t -f "$CONF" >/dev/null 2>&1 && status=0 || status=$?
    end=$(now_ms)
    echo "keepalived $(keepalived --version 2>&1 | head -1 | cut -d' ' -f2) -t run $run: whole command $(echo "$end - $start" | bc) ms (exit $status)"
  done
else
  echo "keepalived not installed: no side-by-side figure"
fi
