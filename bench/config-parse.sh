#!/bin/sh
# Parse+validate time for a large configuration: 1,000 virtual servers x 50 real servers, each
# real server with a TCP_CHECK (50,000 checkers). lvskeeper is timed in-process (--timing) and
# as a whole command; keepalived -t -f (config test) is timed on the same file when installed.
# Usage: bench/config-parse.sh [VIRTUAL_SERVERS] [REAL_SERVERS]
# Builds the release ConfigParseBench product; the command-line figure needs a release lvskeeper (swift build -c release, or LVSKEEPER_BIN).
set -eu
cd "$(dirname "$0")/.."
VS=${1:-1000}
RS=${2:-50}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CONF="$WORK/large.conf"

# The parser, optimized: the ConfigParseBench product (Sources/ConfigParseBench) in release.
swift build -c release --product ConfigParseBench >/dev/null
DRIVER="$(swift build -c release --show-bin-path)/ConfigParseBench"
# The command line, when a release binary is given (LVSKEEPER_BIN) or already built.
BIN=${LVSKEEPER_BIN:-.build/release/lvskeeper}

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

echo "config: $VS virtual_server x $RS real_server (TCP_CHECK each), $(wc -l < "$CONF") lines, $(du -h "$CONF" | cut -f1)"
echo "host: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
# Wall time is noisy on a shared host; CPU time (user+sys of the child) is the steadier figure.
"$DRIVER" "$CONF" 3
python3 - "$BIN" "$CONF" <<'PY'
import os, shutil, subprocess, sys, time
binary, conf = sys.argv[1], sys.argv[2]
def measure(argv):
    # wait4 gives this child's own rusage (RUSAGE_CHILDREN would mix all children's peak RSS).
    start = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = (time.monotonic() - start) * 1000
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout = stdout
    return process, wall, (usage.ru_utime + usage.ru_stime) * 1000, usage.ru_maxrss / 1024
if os.access(binary, os.X_OK):
    for run in range(1, 4):
        result, wall, cpu, rss = measure([binary, "check-config", "--config", conf, "--timing"])
        inproc = next((l for l in result.stdout.splitlines() if l.startswith("parse+validate")), "?")
        print(f"lvskeeper check-config run {run}: {inproc} (in process); whole command wall {wall:.0f} ms, "
              f"cpu {cpu:.0f} ms, max rss {rss:.0f} MB, exit {result.returncode}")
else:
    print(f"no release lvskeeper at {binary}: command-line figure skipped")
keepalived = shutil.which("keepalived") or ("/usr/sbin/keepalived" if os.path.exists("/usr/sbin/keepalived") else None)
if keepalived:
    version = subprocess.run([keepalived, "--version"], capture_output=True, text=True).stderr.split()[1]
    for run in range(1, 4):
        result, wall, cpu, rss = measure([keepalived, "-t", "-f", conf])
        print(f"keepalived {version} -t run {run}: whole command wall {wall:.0f} ms, cpu {cpu:.0f} ms, "
              f"max rss {rss:.0f} MB, exit {result.returncode}")
else:
    print("keepalived not installed: no side-by-side figure")
PY
