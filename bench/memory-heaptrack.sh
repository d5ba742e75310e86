#!/bin/sh
# Where the bytes per real server are: the live heap of `lvskeeper run --dry-run` with 1,000 and
# with 10,000 refused TCP_CHECK real servers (the configs of bench/memory-reload.sh part 1), each
# under heaptrack, killed once every first verdict is in and the daemon has settled; what is still
# allocated then ("leaked" to heaptrack) is the live heap. Printed: the difference per real server
# (/ 9,000), grouped by the innermost lvskeeper function on each allocation's stack.
# Usage: LVSKEEPER_BIN=<release lvskeeper> sh bench/memory-heaptrack.sh   (heaptrack: scripts/setup-deps)
set -eu
cd "$(dirname "$0")/.."
BIN=${LVSKEEPER_BIN:-.build-release/release/lvskeeper}
[ -x "$BIN" ] || { echo "no release lvskeeper at $BIN"; exit 1; }
command -v heaptrack >/dev/null || { echo "heaptrack not installed (scripts/setup-deps)"; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "host: $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)"
PYTHONPATH=bench python3 - "$BIN" "$WORK" <<'PY'
import collections, os, re, signal, subprocess, sys, time
binary, work = sys.argv[1], sys.argv[2]

from benchconfig import write_config

def live_heap(servers, vs, rs):
    conf = os.path.join(work, f"rs{servers}.conf")
    write_config(conf, vs, rs, 10)
    sock = os.path.join(work, f"rs{servers}.sock")
    log = os.path.join(work, f"rs{servers}.log")
    out = os.path.join(work, f"rs{servers}")
    proc = subprocess.Popen(
        ["heaptrack", "-o", out, binary, "run", "--dry-run", "--config", conf, "--control-socket", sock,
         "--pid-file", sock + ".pid", "--log-level", "notice"],
        stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    end = time.monotonic() + 300
    while time.monotonic() < end:
        down = sum(1 for line in open(log) if " is DOWN:" in line)
        if down >= servers:
            break
        time.sleep(1)
    time.sleep(20)  # the burst of first verdicts and their reconciles has drained
    pid = int(open(sock + ".pid").read().split()[0])
    os.kill(pid, signal.SIGKILL)  # no clean-up: what is allocated now is what the daemon holds
    proc.wait()
    data = [os.path.join(work, f) for f in os.listdir(work) if f.startswith(f"rs{servers}.") and (f.endswith(".zst") or f.endswith(".gz"))]
    stacks = os.path.join(work, f"rs{servers}.stacks")
    r = subprocess.run(["heaptrack_print", "-f", data[0], "-p", "0", "-a", "0", "-T", "0", "-l", "0",
                        "-F", stacks, "--flamegraph-cost-type", "leaked"], capture_output=True, text=True)
    total = re.search(r"total memory leaked: (\S+)", r.stdout)
    groups = collections.Counter()
    ours = re.compile(r"\$s(11HealthCheck|9lvskeeper|8IPVSSync|12KeeperConfig|10KeeperCore|4VRRP|3BFD)")
    for line in open(stacks):
        stack, _, cost = line.rstrip().rpartition(" ")
        frames = stack.rstrip(";").split(";")
        key = next((f for f in reversed(frames) if ours.search(f)), "(runtime, libraries)")
        groups[key] += int(cost)
    print(f"{servers:>6} real servers: live heap {total.group(1) if total else '?'}")
    return groups

small, large = live_heap(1000, 100, 10), live_heap(10000, 1000, 10)
rows = sorted(((large[k] - small.get(k, 0)) / 9000, k) for k in set(small) | set(large))
names = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(k for _, k in rows),
                       capture_output=True, text=True).stdout.splitlines()
print("live heap per real server between 1,000 and 10,000, by the innermost lvskeeper function:")
for (per, _), name in sorted(zip(rows, names), reverse=True):
    if abs(per) >= 1:
        print(f"  {per:7.1f} B  {name[:140]}")
print(f"  {sum(p for p, _ in rows):7.1f} B  total")
PY
