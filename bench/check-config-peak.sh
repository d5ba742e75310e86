#!/bin/sh
# The quick part of bench/memory-reload.sh: check-config's peak RSS (/usr/bin/time -v) and the
# in-process loader time (ConfigParseBench) on the same 2,277 x 16 TCP_CHECK config (268,689
# lines, the config of memory-reload.sh part 2, weights 1), beside keepalived -t -f on the same file.
# Also where the peak lives (RssAnon vs RssFile of /proc/PID/status sampled every 0.5 ms: file pages
# are the binary's and the shared libraries' clean pages) and the fixed part: `--help` alone. No
# daemon is started.
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
python3 bench/benchconfig.py "$CONF" 2277 16 300
echo "config: $(wc -l < "$CONF") lines, $(du -h "$CONF" | cut -f1)"
for run in 1 2 3; do
  /usr/bin/time -v "$BIN" check-config --config "$CONF" >/dev/null 2>"$WORK/time" || true
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time")
  user=$(sed -n 's/.*User time (seconds): //p' "$WORK/time")
  sys=$(sed -n 's/.*System time (seconds): //p' "$WORK/time")
  echo "lvskeeper check-config run $run: peak RSS $(awk "BEGIN{printf \"%.1f\", $rss/1024}") MB, cpu user $user s + sys $sys s"
done
/usr/bin/time -v "$BIN" --help >/dev/null 2>"$WORK/time" || true
echo "lvskeeper --help alone (the fixed part): peak RSS $(awk "BEGIN{printf \"%.1f\", $(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time")/1024}") MB"
KEEPALIVED=$(command -v keepalived || echo /usr/sbin/keepalived)
if [ -x "$KEEPALIVED" ]; then
  for run in 1 2 3; do
    /usr/bin/time -v "$KEEPALIVED" -t -f "$CONF" >/dev/null 2>"$WORK/time" || true
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time")
    user=$(sed -n 's/.*User time (seconds): //p' "$WORK/time")
    sys=$(sed -n 's/.*System time (seconds): //p' "$WORK/time")
    echo "keepalived -t -f run $run: peak RSS $(awk "BEGIN{printf \"%.1f\", $rss/1024}") MB, cpu user $user s + sys $sys s"
  done
else
  echo "keepalived not installed: no side-by-side figure"
fi
split() {
  python3 - "$@" <<'PY'
import subprocess, sys, time
p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
best = None
while p.poll() is None:
    try:
        d = {}
        with open(f"/proc/{p.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile"):
                    d[k] = int(v.split()[0])
        if len(d) == 3 and (best is None or d["VmRSS"] > best["VmRSS"]):
            best = d
    except (OSError, ValueError):
        pass
    time.sleep(0.0005)
if best:
    print(f"{sys.argv[1]}: sampled peak VmRSS {best['VmRSS']/1024:.1f} MB = anonymous {best['RssAnon']/1024:.1f} MB + file-backed {best['RssFile']/1024:.1f} MB")
PY
}
split "lvskeeper check-config" "$BIN" check-config --config "$CONF"
[ -x "$KEEPALIVED" ] && split "keepalived -t -f" "$KEEPALIVED" -t -f "$CONF"
if [ -x "$DRIVER" ]; then "$DRIVER" "$CONF" 5; else echo "no ConfigParseBench at $DRIVER: in-process figure skipped"; fi
