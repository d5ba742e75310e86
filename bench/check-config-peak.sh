#!/bin/sh
# The quick part of bench/memory-reload.sh: check-config's peak RSS (/usr/bin/time -v) and the
# in-process loader time (ConfigParseBench) on the same 2,277 x 16 TCP_CHECK config (268,689
# lines, the config of memory-reload.sh part 2, weights 1). No daemon is started.
# Usage: LVSKEEPER_BIN=<release lvskeeper> PARSE_BENCH_BIN=<release ConfigParseBench> sh bench/check-config-peak.sh
# Build: swift build -c release --scratch-path .build-release --product lvskeeper (and --product ConfigParseBench)
set -eu
cd "$(dirname "$0")/.."
BIN=${LVSKEEPER_BIN:-.build-release/release/lvskeeper}
DRIVER=${PARSE_BENCH_BIN:-.build-release/release/ConfigParseBench}
[ -x "$BIN" ] || { echo "no release lvskeeper at $BIN"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CONF="$WORK/big.conf"
echo "host: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
python3 - "$CONF" <<'PY'
import sys
path, vs, rs, n = sys.argv[1], 2277, 16, 0
with open(path, "w") as f:
    f.write("global_defs {\n    router_id bench\n}\n")
    for v in range(vs):
        f.write(f"virtual_server 10.{v // 250}.{v % 250}.1 80 {{\n    delay_loop 300\n"
                "    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n")
        for r in range(rs):
            a, b, c = 1 + n // 62500, (n // 250) % 250, n % 250 + 1
            n += 1
            f.write(f"    real_server 127.{a}.{b}.{c} 9 {{\n        weight 1\n"
                    "        TCP_CHECK {\n            connect_timeout 3\n            warmup 0\n        }\n    }\n")
        f.write("}\n")
PY
echo "config: $(wc -l < "$CONF") lines, $(du -h "$CONF" | cut -f1)"
for run in 1 2 3; do
  /usr/bin/time -v "$BIN" check-config --config "$CONF" >/dev/null 2>"$WORK/time" || true
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time")
  user=$(sed -n 's/.*User time (seconds): //p' "$WORK/time")
  sys=$(sed -n 's/.*System time (seconds): //p' "$WORK/time")
  echo "lvskeeper check-config run $run: peak RSS $(awk "BEGIN{printf \"%.1f\", $rss/1024}") MB, cpu user $user s + sys $sys s"
done
if [ -x "$DRIVER" ]; then "$DRIVER" "$CONF" 5; else echo "no ConfigParseBench at $DRIVER: in-process figure skipped"; fi
